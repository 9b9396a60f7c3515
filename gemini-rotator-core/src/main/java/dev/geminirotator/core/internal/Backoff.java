package dev.geminirotator.core.internal;

import java.time.Duration;

/** Exponential backoff with jitter: {@code base * 2^attempt}, capped, then spread by jitter. */
public final class Backoff {

  private Backoff() {
  }

  /**
   * @param base the first delay
   * @param max the cap, applied before jitter so jitter never pushes past it
   * @param attempt 0 for the first delay
   * @param jitter the fraction of the delay that is random, 0.0 to 1.0: the result lies in
   *     {@code [d * (1 - jitter), d]}
   * @param random a uniform value in [0, 1)
   */
  public static Duration exponential(Duration base, Duration max, int attempt, double jitter,
      double random) {
    long baseNanos = base.toNanos();
    long maxNanos = max.toNanos();
    int shift = Math.min(Math.max(attempt, 0), 62);
    long nanos = baseNanos > (maxNanos >> shift) ? maxNanos : Math.min(maxNanos, baseNanos << shift);
    long spread = (long) (nanos * jitter * random);
    return Duration.ofNanos(nanos - spread);
  }
}
