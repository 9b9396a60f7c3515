package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Ids derived from secrets are shown on unauthenticated {@code /metrics}: they must confirm
 * nothing about a guessed key, yet agree across the instances sharing one Redis. Each "process"
 * here builds its keys under a salt of its own, as separate JVMs would.
 */
class KeyIdsAcrossInstancesTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private static final String SECRET = "AIzaSyTEST-derived-id-0123456789abcdef";
  private final List<AutoCloseable> open = new ArrayList<>();

  @BeforeEach
  void emptyRedis() {
    redis.client().flushAll();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
    open.clear();
  }

  private GeminiKeyRotator instance(String processSalt) {
    RedisKeyStateStore store = RedisKeyStateStore.open(redis.uri("/0"));
    open.add(store);
    GeminiKeyRotator rotator = Pools.rotator(store, List.of(
        ApiKey.builder(SECRET).idSalt(processSalt).build(), Pools.key("named")));
    open.add(rotator);
    return rotator;
  }

  private static String derivedId(GeminiKeyRotator rotator) {
    return rotator.snapshot().stream().map(KeySnapshot::id).filter(id -> !id.equals("named"))
        .findFirst().orElseThrow();
  }

  @Test
  void twoInstancesOnOneRedisDeriveTheSameIdThatIsNotTheUnsaltedHash() throws Exception {
    GeminiKeyRotator one = instance("process-one");
    GeminiKeyRotator two = instance("process-two");
    String id = derivedId(one);
    assertThat(derivedId(two)).isEqualTo(id);
    assertThat(id).matches("key-[0-9a-f]{12}")
        .isNotEqualTo(ApiKey.builder(SECRET).idSalt("process-one").build().id())
        .isNotEqualTo(unsaltedSha256Id(SECRET));
    assertThat(one.snapshot("named")).isPresent(); // explicit ids stay as given

    // the instances act on the same key by that id
    one.disable(id);
    Eventually.until("the other instance sees the key disabled",
        () -> two.snapshot(id).orElseThrow().state() == KeyState.DISABLED);
    // a key added at run time on one instance gets the pool's id there and everywhere
    one.addKey(ApiKey.builder("AIzaSyTEST-added-at-run-time-0123456789").idSalt("x").build());
    String added = ApiKey.builder("AIzaSyTEST-added-at-run-time-0123456789")
        .idSalt(redis.client().hget("gemini_rotator:meta", "key-id-salt")).build().id();
    Eventually.until("the added key reaches the other instance by its id",
        () -> two.snapshot(added).isPresent());
  }

  @Test
  void idsStayTheSameAcrossRestartsWhileRedisKeepsItsState() throws Exception {
    String before = derivedId(instance("first-run"));
    close(); // every instance stops; Redis keeps its state
    assertThat(derivedId(instance("second-run"))).isEqualTo(before);
  }

  private static String unsaltedSha256Id(String secret) throws Exception {
    byte[] digest = MessageDigest.getInstance("SHA-256")
        .digest(secret.getBytes(StandardCharsets.UTF_8));
    return "key-" + HexFormat.of().formatHex(digest, 0, 6);
  }
}
