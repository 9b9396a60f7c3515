package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServer;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;

/**
 * Ids derived from secrets split across instances for good when an instance's salt and Redis's
 * differed: after Redis lost its data and a new instance set a fresh salt first (old instances
 * kept theirs and saw no loss), or when an instance started while Redis was down (it kept its
 * process salt and wrote quota counters and statuses under its own ids). Now Redis's salt wins
 * and the instance re-derives its ids under it. Each "process" builds its keys under a salt of its
 * own, as separate JVMs would.
 */
class KeyIdSaltAdoptedTest {

  private static final String SECRET = "AIzaSyTEST-salt-adopted-0123456789abcdef";

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
  void anInstanceAdoptsTheSaltANewInstanceSetAfterRedisLostItsData() {
    RedisKeyStateStore storeA = store();
    GeminiKeyRotator a = instance(storeA, "process-a");
    String before = derivedId(a);
    try (RedisClient redis = RedisClient.create(server.uri())) {
      redis.flushAll(); // Redis loses its data; B opens on it before A notices
    }
    RedisKeyStateStore storeB = store();
    GeminiKeyRotator b = instance(storeB, "process-b");
    assertThat(storeB.keyIdSalt()).isNotEqualTo(storeA.keyIdSalt());

    Eventually.until("A re-derives its ids under the salt Redis holds now (at its keepalive)",
        () -> derivedId(a).equals(derivedId(b)));
    assertThat(storeA.keyIdSalt()).isEqualTo(storeB.keyIdSalt());
    assertThat(derivedId(a)).isNotEqualTo(before);
    assertThat(a.snapshot("named")).as("explicit ids stay").isPresent();
    assertThat(a.snapshot()).hasSize(2);
  }

  @Test
  void anInstanceThatWasTheFirstBackWritesItsSaltAgainSoIdsDoNotChange() {
    RedisKeyStateStore storeA = store();
    GeminiKeyRotator a = instance(storeA, "process-a");
    String before = derivedId(a);
    String salt = storeA.keyIdSalt();
    try (RedisClient redis = RedisClient.create(server.uri())) {
      redis.flushAll();
      Eventually.until("A writes its salt back", () -> salt.equals(
          redis.hget("gemini_rotator:meta", "key-id-salt")));
    }
    GeminiKeyRotator b = instance(store(), "process-b");
    assertThat(derivedId(b)).isEqualTo(before);
    assertThat(derivedId(a)).isEqualTo(before);
  }

  @Test
  void anInstanceStartedWhileRedisWasDownAdoptsTheSharedSaltWhenRedisComes() {
    GeminiKeyRotator b = instance(store(), "process-b");
    String shared = derivedId(b);
    server.kill();
    RedisKeyStateStore storeA = store();
    GeminiKeyRotator a = instance(storeA, "process-a");
    assertThat(storeA.isAvailable()).isFalse();
    assertThat(derivedId(a)).as("its own process salt meanwhile").isNotEqualTo(shared);

    server.start(); // with its data? no persistence here: B writes its salt back first, or A its
    Eventually.until("A and B agree on the id", () -> derivedId(a).equals(derivedId(b)));
    assertThat(storeA.keyIdSalt()).isNotNull();
  }

  // ---------------------------------------------------------------------------------------------

  private RedisKeyStateStore store() {
    RedisKeyStateStore store = RedisKeyStateStore.open(
        server.uri("/0?retry=50ms&timeout=500ms&connectTimeout=500ms"));
    open.add(store);
    return store;
  }

  private GeminiKeyRotator instance(RedisKeyStateStore store, String processSalt) {
    GeminiKeyRotator rotator = Pools.rotator(store, List.of(
        ApiKey.builder(SECRET).idSalt(processSalt).build(), Pools.key("named")));
    open.add(rotator);
    return rotator;
  }

  private static String derivedId(GeminiKeyRotator rotator) {
    return rotator.snapshot().stream().map(KeySnapshot::id).filter(id -> !id.equals("named"))
        .findFirst().orElseThrow();
  }
}
