package dev.geminirotator.api.spi;

import java.time.Duration;
import java.time.Instant;

/**
 * Counters of fixed windows shared by every user of one store: the capability a
 * {@link KeyStateStore} declares through {@link KeyStateStore#counters()}. Shared quotas and
 * proxy client limits count in them. Implementations are thread-safe.
 */
@FunctionalInterface
public interface WindowCounters {

  /**
   * Adds {@code delta} to the counter of one window, atomically for every user of the store, and
   * returns the total so far in that window, this delta included. The caller names the window by
   * its start, so windows need not be aligned to the epoch (a day may start at midnight in
   * America/Los_Angeles, and last 23 or 25 hours). The counter is dropped some time after the
   * window ends. May block: callers keep it off the request path (see {@code SharedQuotas} in
   * core, which claims blocks of permits in the background).
   *
   * <p>Throws when the shared backend cannot count right now (unreachable, an error): a total
   * that only this process counted must not pass for the shared one. Callers then count locally.
   *
   * @param name the counter, e.g. {@code quota:key-1:rpm}
   * @param windowStart when the window began
   * @param window the window's length, at least 1 ms; the counter lives until
   *     {@code windowStart + window}
   * @param delta how much to add, {@code >= 1}
   * @throws IllegalArgumentException when {@code window} or {@code delta} is out of range
   */
  long addAndGet(String name, Instant windowStart, Duration window, long delta);
}
