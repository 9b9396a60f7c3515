package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.testsupport.redis.RedisServer;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/**
 * A cluster or sentinel store opens while none of its nodes answers, as a single-node store does:
 * unavailable, accepting changes, never failing a request.
 */
class ClusterAndSentinelUnreachableTest {

  private static void opensUnavailableAndKeepsServing(String uri) {
    try (RedisKeyStateStore store = RedisKeyStateStore.open(uri)) {
      assertThat(store.isAvailable()).isFalse();
      store.apply(new StateChange.KeyStatus("a", KeyState.DISABLED, null, "by an operator",
          Instant.now()));
      assertThat(store.pendingWrites()).isEqualTo(1);
      // counters say they cannot count (callers count locally); values are best effort
      assertThatThrownBy(() -> StoreCalls.countNow(store, "q", Duration.ofMinutes(1)))
          .isInstanceOf(IllegalStateException.class).hasMessageContaining("is unreachable")
          .hasMessageNotContaining("unreachable-pw");
      assertThat(StoreCalls.values(store).get("files/x")).isNull();
      assertThatThrownBy(store::load).hasMessageContaining("is unreachable")
          .hasMessageNotContaining("unreachable-pw");
    }
  }

  @Test
  void aClusterStoreOpensUnavailableWhileNoNodeAnswers() {
    int port = RedisServer.freePort();
    opensUnavailableAndKeepsServing("redis-cluster://:unreachable-pw@127.0.0.1:" + port
        + "?timeout=200ms&retry=50ms");
  }

  @Test
  void aSentinelStoreOpensUnavailableWhileNoSentinelAnswers() {
    int port = RedisServer.freePort();
    opensUnavailableAndKeepsServing("redis-sentinel://:unreachable-pw@127.0.0.1:" + port
        + "/mymaster?timeout=200ms&retry=50ms");
  }
}
