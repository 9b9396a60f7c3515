package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * What the store says about an outage of a plain-text Redis that answered it before. Reported:
 * after a plain connection drop the outage log suggested TLS ("use a rediss:// URI"). The reason
 * logged is the one {@code load()} gives while Redis is unreachable; the hint for a plain client
 * on a TLS port is checked in {@link RedisTlsTest}.
 */
class OutageHintTest {

  private RedisServer server;
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void start() {
    server = RedisServer.startOnFreePort();
  }

  @AfterEach
  void stop() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
    server.close();
  }

  @Test
  void connectionsDroppedRightAfterConnectByAPlainRedisThatAnsweredBeforeGetNoTlsHint() {
    TcpRelay relay = TcpRelay.to(server.port());
    open.add(relay);
    RedisKeyStateStore store = RedisKeyStateStore.open(relay.uri("/0?retry=50ms&timeout=500ms"));
    open.add(store);
    relay.cut(); // every connection, old and new, now ends at once
    assertThat(unreachable(store)).doesNotContain("TLS").doesNotContain("rediss://");
  }

  @Test
  void aKilledPlainRedisGetsNoTlsHint() {
    RedisKeyStateStore store = RedisKeyStateStore.open(server.uri("/0?retry=50ms&timeout=500ms"));
    open.add(store);
    server.kill();
    assertThat(unreachable(store)).doesNotContain("TLS").doesNotContain("rediss://");
  }

  /** Waits until the store counts Redis as unreachable and returns the reason it gives. */
  private static String unreachable(RedisKeyStateStore store) {
    return Eventually.value("the store reports Redis unreachable", () -> {
      try {
        store.load();
        return null;
      } catch (IllegalStateException e) {
        return e.getMessage();
      }
    }, m -> m != null && m.contains("is unreachable ("));
  }
}
