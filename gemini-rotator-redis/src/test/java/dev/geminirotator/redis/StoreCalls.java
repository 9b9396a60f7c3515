package dev.geminirotator.redis;

import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.SharedValues;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;

/** Short forms of a store's capabilities for tests. Stateless. */
final class StoreCalls {

  private StoreCalls() {
  }

  /** Counts one in the epoch-aligned window of {@code window} that {@code clock} is in. */
  static long countNow(KeyStateStore store, Clock clock, String name, Duration window) {
    long now = clock.millis();
    Instant start = Instant.ofEpochMilli(now - Math.floorMod(now, window.toMillis()));
    return store.counters().orElseThrow().addAndGet(name, start, window, 1);
  }

  /** As {@link #countNow(KeyStateStore, Clock, String, Duration)} by the system clock. */
  static long countNow(KeyStateStore store, String name, Duration window) {
    return countNow(store, Clock.systemUTC(), name, window);
  }

  static SharedValues values(KeyStateStore store) {
    return store.values().orElseThrow();
  }
}
