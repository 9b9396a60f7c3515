package dev.geminirotator.redis;

import dev.geminirotator.api.spi.WindowCounters;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Objects;

/**
 * The Redis store's shared window counters: one key per counter and window, added to atomically
 * by one Lua script ({@link Scripts#COUNTER}), so every instance counts in the same total. They
 * throw while Redis cannot count, so callers (shared quotas, client limits) count locally rather
 * than take this instance's count for the shared one. Thread-safe.
 */
final class RedisCounters implements WindowCounters {

  /** How long a counter outlives its window, for a late claim that read the clock early. */
  private static final long GRACE_MILLIS = 1_000;

  private final RedisAccess redis;
  private final KeyLayout layout;
  private final Clock clock;

  RedisCounters(RedisAccess redis, KeyLayout layout, Clock clock) {
    this.redis = redis;
    this.layout = layout;
    this.clock = clock;
  }

  /**
   * Adds {@code delta} to the window's shared counter, atomically in one Lua script (INCRBY, and
   * PEXPIRE when the key is new), and returns the total: one round trip to Redis. The key is
   * {@code {prefix}counter:{name}:{window}:{start}} and expires a second after the window ends.
   *
   * @throws IllegalStateException when Redis cannot count now (unreachable, or the command
   *     failed): the caller keeps its own count (as {@code SharedQuotas} does)
   */
  @Override
  public long addAndGet(String name, Instant windowStart, Duration window, long delta) {
    Objects.requireNonNull(name, "name");
    long windowMillis = window.toMillis();
    if (windowMillis <= 0) {
      throw new IllegalArgumentException("window must be >= 1ms but was " + window);
    }
    if (delta < 1) {
      throw new IllegalArgumentException("delta must be >= 1 but was " + delta);
    }
    if (!redis.usable()) {
      throw new IllegalStateException("Redis store " + redis.description() + " is unreachable");
    }
    long start = windowStart.toEpochMilli();
    String key = layout.counter(name, windowMillis, start);
    String ttl = Long.toString(Math.max(1, start + windowMillis - clock.millis()) + GRACE_MILLIS);
    try {
      return (Long) redis.evalsha(Scripts.COUNTER, List.of(key),
          List.of(ttl, Long.toString(delta)));
    } catch (RuntimeException e) {
      String why = redis.failed(e, "counter", "Redis store {} could not count {} ({});"
          + " counting locally", redis.description(), name);
      throw new IllegalStateException("Redis store " + redis.description() + " could not count "
          + name + ": " + why);
    }
  }

  @Override
  public String toString() {
    return "RedisCounters{" + redis.description() + '}';
  }
}
