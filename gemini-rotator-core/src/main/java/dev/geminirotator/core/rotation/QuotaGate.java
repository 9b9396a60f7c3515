package dev.geminirotator.core.rotation;

import dev.geminirotator.api.ApiKey;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.internal.AtomicRateLimiter;
import java.time.Duration;

/**
 * A key's own request quotas (per minute, per day) on resilience4j rate limiters. Checked before
 * the key is handed out, so a key at its quota is skipped instead of earning a 429. Never waits.
 */
final class QuotaGate {

  private final AtomicRateLimiter perMinute;
  private final AtomicRateLimiter perDay;

  private QuotaGate(AtomicRateLimiter perMinute, AtomicRateLimiter perDay) {
    this.perMinute = perMinute;
    this.perDay = perDay;
  }

  /** A gate for the key's quotas, or {@code null} when it has none. */
  static QuotaGate forKey(ApiKey key) {
    if (key.requestsPerMinute().isEmpty() && key.requestsPerDay().isEmpty()) {
      return null;
    }
    AtomicRateLimiter rpm = key.requestsPerMinute().isPresent()
        ? limiter(key.id() + ":rpm", key.requestsPerMinute().getAsInt(), Duration.ofMinutes(1))
        : null;
    AtomicRateLimiter rpd = key.requestsPerDay().isPresent()
        ? limiter(key.id() + ":rpd", key.requestsPerDay().getAsInt(), Duration.ofDays(1))
        : null;
    return new QuotaGate(rpm, rpd);
  }

  private static AtomicRateLimiter limiter(String name, int limit, Duration period) {
    return new AtomicRateLimiter(name, RateLimiterConfig.custom()
        .limitForPeriod(limit)
        .limitRefreshPeriod(period)
        .timeoutDuration(Duration.ZERO)
        .build());
  }

  /** Takes one permit from each quota, or none when any is spent. */
  boolean tryAcquire() {
    if (perDay != null && perDay.getMetrics().getAvailablePermissions() <= 0) {
      return false;
    }
    if (perMinute != null && !perMinute.acquirePermission()) {
      return false;
    }
    // A race for the last daily permit can waste the minute permit just taken: harmless.
    return perDay == null || perDay.acquirePermission();
  }

  /** Nanoseconds until a permit frees up in every quota that is spent now, or 0. */
  long nanosToWait() {
    long wait = 0;
    if (perMinute != null && perMinute.getMetrics().getAvailablePermissions() <= 0) {
      wait = Math.max(wait, perMinute.getDetailedMetrics().getNanosToWait());
    }
    if (perDay != null && perDay.getMetrics().getAvailablePermissions() <= 0) {
      wait = Math.max(wait, perDay.getDetailedMetrics().getNanosToWait());
    }
    return wait;
  }

  boolean spent() {
    return (perMinute != null && perMinute.getMetrics().getAvailablePermissions() <= 0)
        || (perDay != null && perDay.getMetrics().getAvailablePermissions() <= 0);
  }
}
