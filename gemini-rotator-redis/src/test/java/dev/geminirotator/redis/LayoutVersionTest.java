package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Rolling upgrades mixed two Redis formats silently: the status hash and the messages changed,
 * yet the layout version in the meta hash did not, so instances of two releases on one prefix
 * undid each other's writes. A store now refuses a Redis whose meta names another layout version,
 * and keeps to itself when another prefix is given.
 */
class LayoutVersionTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

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

  @Test
  void aStoreRefusesToOpenOnARedisHoldingAnOlderLayoutAndWritesNothing() {
    redis.client().hset("gemini_rotator:meta", "layout", "1"); // what the previous release wrote

    assertThatThrownBy(() -> RedisKeyStateStore.open(redis.uri("/0")))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("layout version 1 under the prefix 'gemini_rotator:'")
        .hasMessageContaining("writes layout " + KeyLayout.LAYOUT_VERSION)
        .hasMessageContaining("?prefix=");
    assertThat(redis.client().hgetAll("gemini_rotator:meta")).containsOnlyKeys("layout")
        .containsEntry("layout", "1");
  }

  @Test
  void anotherPrefixKeepsTheNewReleaseApartFromTheOldOne() {
    redis.client().hset("gemini_rotator:meta", "layout", "1");

    RedisKeyStateStore store = open(redis.uri("/0?prefix=gemini_rotator_v2:"));

    assertThat(store.isAvailable()).isTrue();
    assertThat(redis.client().hget("gemini_rotator_v2:meta", "layout"))
        .isEqualTo(KeyLayout.LAYOUT_VERSION);
    assertThat(redis.client().hget("gemini_rotator:meta", "layout")).isEqualTo("1");
  }

  @Test
  void aStoreStopsWritingWhenAnOlderReleaseRecreatesTheLayoutAfterRedisLostItsData() {
    RedisKeyStateStore store = open(redis.uri("/0?retry=50ms&timeout=500ms"));
    assertThat(redis.client().hget("gemini_rotator:meta", "layout"))
        .isEqualTo(KeyLayout.LAYOUT_VERSION);

    redis.client().flushAll();
    redis.client().hset("gemini_rotator:meta", "layout", "1"); // an old instance got there first
    Eventually.until("the store notices the foreign layout and stops writing",
        () -> !store.isAvailable());
    store.apply(new StateChange.KeyStatus("k1", KeyState.DISABLED, null, "operator",
        Instant.now()));

    assertThat(redis.client().exists("gemini_rotator:key:k1:status"))
        .as("nothing written in the old release's layout").isFalse();
    assertThat(redis.client().hget("gemini_rotator:meta", "layout")).isEqualTo("1");
    assertThat(store.pendingWrites()).isEqualTo(1);
  }

  private RedisKeyStateStore open(String uri) {
    RedisKeyStateStore store = RedisKeyStateStore.open(uri);
    open.add(store);
    return store;
  }
}
