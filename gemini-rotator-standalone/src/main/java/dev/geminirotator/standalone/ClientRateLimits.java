package dev.geminirotator.standalone;

import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import io.github.resilience4j.ratelimiter.internal.AtomicRateLimiter;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Per-client request limits on resilience4j rate limiters, one per client (access token or
 * address), each allowing {@code requests-per-minute} per one-minute window. At most
 * {@value #MAX_CLIENTS} clients are tracked; beyond that the table is cleared, which only ever
 * lets a client through early. Thread-safe.
 */
final class ClientRateLimits {

  static final int MAX_CLIENTS = 100_000;

  private final int requestsPerMinute;
  private final RateLimiterConfig limiterConfig;
  private final ConcurrentHashMap<String, RateLimiter> limiters = new ConcurrentHashMap<>();

  ClientRateLimits(int requestsPerMinute) {
    this.requestsPerMinute = requestsPerMinute;
    this.limiterConfig = requestsPerMinute <= 0 ? null : RateLimiterConfig.custom()
        .limitForPeriod(requestsPerMinute)
        .limitRefreshPeriod(Duration.ofMinutes(1))
        .timeoutDuration(Duration.ZERO)
        .build();
  }

  int requestsPerMinute() {
    return requestsPerMinute;
  }

  /**
   * Takes one permit for this client.
   *
   * @return -1 when allowed, else the seconds until the client may try again
   */
  long tryAcquire(String client) {
    if (limiterConfig == null) return -1;
    if (limiters.size() >= MAX_CLIENTS) limiters.clear();
    RateLimiter limiter = limiters.computeIfAbsent(client,
        c -> RateLimiter.of("client", limiterConfig));
    if (limiter.acquirePermission()) return -1;
    long nanos = limiter instanceof AtomicRateLimiter a ? a.getDetailedMetrics().getNanosToWait()
        : 60_000_000_000L;
    return Math.max(1, (nanos + 999_999_999L) / 1_000_000_000L);
  }
}
