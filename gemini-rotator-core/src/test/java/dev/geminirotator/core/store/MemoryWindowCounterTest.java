package dev.geminirotator.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.spi.WindowCounters;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The memory store's shared window counters, as the SPI describes them. */
class MemoryWindowCounterTest {

  private static final Duration MINUTE = Duration.ofMinutes(1);
  private static final Instant FIRST = Instant.parse("2026-11-26T12:00:00Z");
  private static final Instant SECOND = FIRST.plus(MINUTE);

  @Test
  void theMemoryStoreIsPrivateToItsJvmWhileTheSpiDefaultIsShared() {
    assertThat(new MemoryKeyStateStore().isShared()).isFalse();
    // a store that does not say otherwise is treated as shared: state goes through it
    var anyOther = (dev.geminirotator.api.spi.KeyStateStore) java.lang.reflect.Proxy
        .newProxyInstance(getClass().getClassLoader(),
            new Class<?>[] {dev.geminirotator.api.spi.KeyStateStore.class},
            (proxy, method, args) -> method.isDefault()
                ? java.lang.reflect.InvocationHandler.invokeDefault(proxy, method, args) : null);
    assertThat(anyOther.isShared()).isTrue();
  }

  @Test
  void aLateCountForThePreviousWindowDoesNotResetTheCurrentOne() {
    WindowCounters store = new MemoryKeyStateStore().counters().orElseThrow();
    assertThat(store.addAndGet("quota:k:rpm", FIRST, MINUTE, 10)).isEqualTo(10);
    assertThat(store.addAndGet("quota:k:rpm", SECOND, MINUTE, 5)).isEqualTo(5);
    // a claim that read the clock just before the minute turned lands after the new minute's
    assertThat(store.addAndGet("quota:k:rpm", FIRST, MINUTE, 1)).isEqualTo(11);
    assertThat(store.addAndGet("quota:k:rpm", SECOND, MINUTE, 1))
        .as("the current minute keeps its total").isEqualTo(6);
  }
}
