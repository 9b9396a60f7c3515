package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisCluster;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.Jedis;
import redis.clients.jedis.args.ClientPauseMode;

/**
 * A change whose message was lost in an outage reaches an instance whose subscriber never
 * dropped. On a cluster that is what a master killed mid-traffic leaves behind: its script ran and
 * replicated, so the promoted replica holds the change and a replay of it changes nothing (and
 * publishes nothing), but the dying master's PUBLISH never went out, and the other instances'
 * subscribers, listening on other nodes, stayed up. Here one server stands in: its writes pause
 * (CLIENT PAUSE WRITE) long enough for the store's writer to count Redis down, while the
 * subscriber keeps its connection; the change is written into Redis without a PUBLISH.
 */
class ReloadAfterWriterOutageTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  @Test
  void aChangeWhoseMessageWasLostReachesAnInstanceWhoseSubscriberStayedUp() {
    redis.client().flushAll();
    try (RedisKeyStateStore store = RedisKeyStateStore.open(
            redis.uri("/0?retry=50ms&timeout=300ms"));
        GeminiKeyRotator rotator = Pools.rotator(store, Pools.keys("a", "b", "c", "d"))) {
      String subscriber = Eventually.value("the store's subscription",
          () -> subscriberId(store), java.util.Objects::nonNull);
      // what another instance wrote through a master that died before publishing it
      redis.client().hset("gemini_rotator:key:c:status", Map.of("state", "DISABLED", "until", "",
          "reason", "by an operator elsewhere", "at", Long.toString(System.currentTimeMillis()),
          "gen", "1", "origin", "elsewhere", "other", "0"));
      redis.client().sadd("gemini_rotator:keys:status", "c");

      try (Jedis admin = RedisCluster.jedis(redis.port())) {
        admin.clientPause(1_500, ClientPauseMode.WRITE);
      }
      rotator.disable("a"); // a write that times out: the writer counts Redis down
      Eventually.until("the writer saw the outage", () -> store.outages() > 0);
      Eventually.until("once Redis is back, a reload brings the change no message carried",
          () -> rotator.snapshot("c").orElseThrow().state() == KeyState.DISABLED);
      assertThat(subscriberId(store)).as("the subscriber's connection, never dropped")
          .isEqualTo(subscriber);
    }
  }

  /** The id of the store's subscribed connection (CLIENT LIST), or {@code null}. */
  private static String subscriberId(RedisKeyStateStore store) {
    try (Jedis admin = RedisCluster.jedis(redis.port())) {
      for (String client : admin.clientList().split("\\n")) {
        if (client.contains(" name=gemini-rotator-" + store.instanceId() + " ")
            && !client.contains(" sub=0 ")) {
          return client.substring(0, client.indexOf(' '));
        }
      }
    }
    return null;
  }
}
