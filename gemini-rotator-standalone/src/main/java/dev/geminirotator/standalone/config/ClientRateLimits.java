package dev.geminirotator.standalone.config;

import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.core.internal.quota.SharedQuota;
import dev.geminirotator.core.internal.quota.SharedQuotas;
import io.github.resilience4j.ratelimiter.RateLimiter;
import io.github.resilience4j.ratelimiter.RateLimiterConfig;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Per-client request limits, {@code requests-per-minute} per one-minute window for each client
 * (access token or address).
 *
 * <p>With a shared store (storage is Redis), the limit is global: every proxy on the store counts
 * the client's requests together through {@link SharedQuotas} (counter
 * {@code client:{client}}, blocks of permits claimed in the background, so no request waits for
 * Redis). While the store is unreachable each proxy limits on its own with a resilience4j rate
 * limiter per client, and says so once in the log; no request fails because the store is down.
 * With the memory store the resilience4j limiters are all there is. A client a local limiter
 * refuses is told the seconds until its window refreshes: each limiter's one-minute windows start
 * when it is made (resilience4j's public {@code RateLimiter} API says how many permits are left,
 * not when more come, so the window's start is kept beside it).
 *
 * <p>At most {@value #MAX_CLIENTS} clients are tracked; beyond that the table is cleared, which
 * only ever lets a client through early (a shared limit keeps its count in the store). Thread-safe.
 */
public final class ClientRateLimits implements AutoCloseable {

  static final int MAX_CLIENTS = 100_000;
  private static final Logger log = LoggerFactory.getLogger(ClientRateLimits.class);
  /** What {@link #acquireShared} returns when these limits were closed meanwhile. */
  private static final long CLOSED = -2;
  private static final long WINDOW_NANOS = Duration.ofMinutes(1).toNanos();

  private final int requestsPerMinute;
  private final RateLimiterConfig limiterConfig;
  private final ConcurrentHashMap<String, LocalLimit> limiters = new ConcurrentHashMap<>();
  /** The local limiters' time source (System.nanoTime; tests pass a fake one). */
  private final LongSupplier nanoTime;
  private final KeyStateStore store;
  private final SharedQuotas quotas;
  private final ConcurrentHashMap<String, SharedQuota> shared = new ConcurrentHashMap<>();
  private final AtomicBoolean local = new AtomicBoolean();
  /** Set by {@link #close()}: a reload replaced these limits; late requests limit locally. */
  private volatile boolean closed;

  /**
   * Limits shared through {@code store} unless it is {@code null} or the memory store, which
   * no other proxy can see.
   */
  ClientRateLimits(int requestsPerMinute, KeyStateStore store, Clock clock) {
    this(requestsPerMinute, store, clock, System::nanoTime);
  }

  /** As above, with the local limiters on {@code nanoTime}. */
  ClientRateLimits(int requestsPerMinute, KeyStateStore store, Clock clock,
      LongSupplier nanoTime) {
    this.requestsPerMinute = requestsPerMinute;
    this.nanoTime = nanoTime;
    this.limiterConfig = requestsPerMinute <= 0 ? null : RateLimiterConfig.custom()
        .limitForPeriod(requestsPerMinute)
        .limitRefreshPeriod(Duration.ofMinutes(1))
        .timeoutDuration(Duration.ZERO)
        .build();
    boolean sharable = requestsPerMinute > 0 && store != null && store.isShared();
    this.store = sharable ? store : null;
    // a credit of one request: a client's first request in a minute never waits for a claim
    this.quotas = sharable
        ? SharedQuotas.builder(store).clock(clock).minimumCredit(1).build() : null;
  }

  int requestsPerMinute() {
    return requestsPerMinute;
  }

  /** Whether the limits are counted across proxies through the store. */
  boolean shared() {
    return quotas != null;
  }

  /**
   * Takes one permit for this client.
   *
   * @return -1 when allowed, else the seconds until the client may try again
   */
  public long tryAcquire(String client) {
    if (limiterConfig == null) return -1;
    if (quotas != null && !closed) {
      if (store.isAvailable()) {
        if (local.compareAndSet(true, false)) {
          log.info("per-client rate limits count across proxies again through {}",
              store.describe());
        }
        long shared = acquireShared(client);
        if (shared != CLOSED) return shared;
      } else if (local.compareAndSet(false, true)) {
        log.warn("per-client rate limits: store {} is unreachable; each proxy limits its clients"
            + " on its own until it returns", store.describe());
      }
    }
    if (limiters.size() >= MAX_CLIENTS) limiters.clear();
    LocalLimit local = limiters.computeIfAbsent(client, c -> newLocalLimit());
    if (local.limiter.acquirePermission()) return -1;
    long intoWindow = Math.floorMod(nanoTime.getAsLong() - local.windowStart, WINDOW_NANOS);
    return seconds(WINDOW_NANOS - intoWindow);
  }

  private LocalLimit newLocalLimit() {
    RateLimiter limiter = RateLimiter.of("client", limiterConfig, nanoTime::getAsLong);
    // Its windows start as it is made; read after that, so a wait reckoned from here is never
    // short of the limiter's (at most the microseconds of its construction long).
    return new LocalLimit(limiter, nanoTime.getAsLong());
  }

  private long acquireShared(String client) {
    if (shared.size() >= MAX_CLIENTS) shared.clear();
    SharedQuota quota;
    try {
      quota = shared.computeIfAbsent(client,
          c -> quotas.perMinute("client:" + c, requestsPerMinute));
    } catch (IllegalStateException e) {
      // a reload closed these limits after this request read them: never a 500 for that
      if (closed) return CLOSED;
      throw e;
    }
    if (quota.tryAcquire()) return -1;
    // a closed quota claims no more blocks: a refusal then says nothing, limit locally instead
    if (closed) return CLOSED;
    long nanos = quota.nanosToWait();
    if (nanos == 0 && quota.tryAcquire()) return -1; // a block landed meanwhile
    return seconds(nanos);
  }

  private static long seconds(long nanos) {
    return Math.max(1, (nanos + 999_999_999L) / 1_000_000_000L);
  }

  /** A client's local limiter and when its first window started (on {@link #nanoTime}). */
  private record LocalLimit(RateLimiter limiter, long windowStart) {}

  /** Stops the background claims of shared limits. */
  @Override
  public void close() {
    closed = true; // before the quotas close, so a request that then finds them closed sees it
    if (quotas != null) quotas.close();
  }
}
