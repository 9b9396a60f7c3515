package dev.geminirotator.standalone.http;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One memory budget for every request body the proxy holds whole ({@code server.body-budget}):
 * bodies are buffered so that a retry can replay them, and without a bound across requests a few
 * large ones exhaust the heap. A request reserves each buffer its body grows into before making
 * it (so it holds the budget for what it sent, not for its declared length) and gives it back
 * when its exchange ends, however it ends; a request that does not fit is answered 503 with
 * {@code Retry-After} (see {@link GeminiProxy}). The default is half of the heap
 * ({@link Runtime#maxMemory()}).
 *
 * <p>One client (an access token, or an address when the proxy has none) may hold at most its
 * {@linkplain #clientShare share}: half the budget, or two of the largest bodies if that is more
 * (a body's buffer briefly holds twice its size while it grows). So one client cannot lock the
 * others out. Thread-safe; the total is lock-free, each client's count is updated atomically.
 */
public final class BodyBudget {

  /** The share of the heap the default budget takes: bodies plus normal operation must fit. */
  static final double DEFAULT_HEAP_SHARE = 0.5;

  private final AtomicLong used = new AtomicLong();
  private volatile long limit;
  private volatile long clientShare = Long.MAX_VALUE;
  /** Bytes each client holds now; a client holding nothing has no entry. */
  private final ConcurrentHashMap<String, Long> byClient = new ConcurrentHashMap<>();

  /** A budget of {@code limit} bytes. */
  public BodyBudget(long limit) {
    limit(limit);
  }

  /** The default budget for a heap of {@code maxMemory} bytes. */
  public static long defaultFor(long maxMemory) {
    return (long) (maxMemory * DEFAULT_HEAP_SHARE);
  }

  /** The budget {@code configured} asks for: itself, or the heap's default when not positive. */
  public static long resolve(long configured) {
    return configured > 0 ? configured : defaultFor(Runtime.getRuntime().maxMemory());
  }

  /** Changes the limit (a reload); reservations already made stand. */
  public void limit(long limit) {
    if (limit < 1) throw new IllegalArgumentException("body budget must be >= 1 but was " + limit);
    this.limit = limit;
  }

  public long limit() {
    return limit;
  }

  /** The share of {@code limit} one client may hold when bodies are at most {@code maxBody}. */
  public static long shareFor(long limit, long maxBody) {
    return Math.min(limit, Math.max(limit / 2, 2 * maxBody));
  }

  /** Sets the bytes one client may hold at most (see {@link #shareFor}). */
  public void clientShare(long bytes) {
    this.clientShare = bytes;
  }

  public long clientShare() {
    return clientShare;
  }

  /** Bytes {@code client} holds now. */
  public long usedBy(String client) {
    return byClient.getOrDefault(client, 0L);
  }

  /** Bytes reserved now. */
  public long used() {
    return used.get();
  }

  /** Reserves {@code bytes} if they fit under the limit; returns whether they were reserved. */
  public boolean tryReserve(long bytes) {
    if (bytes <= 0) return true;
    long max = limit;
    for (long n = used.get(); ; n = used.get()) {
      if (n + bytes > max) return false;
      if (used.compareAndSet(n, n + bytes)) return true;
    }
  }

  /** Gives back {@code bytes} reserved earlier. */
  public void release(long bytes) {
    if (bytes > 0) used.addAndGet(-bytes);
  }

  /**
   * Reserves {@code bytes} for {@code client} if they fit both under the limit and within the
   * client's share; a {@code null} client is held to the limit only.
   */
  public boolean tryReserve(String client, long bytes) {
    if (client == null || bytes <= 0) return tryReserve(bytes);
    boolean[] reserved = new boolean[1];
    byClient.compute(client, (k, held) -> {
      long h = held == null ? 0 : held;
      if (h + bytes > clientShare || !tryReserve(bytes)) return held;
      reserved[0] = true;
      return h + bytes;
    });
    return reserved[0];
  }

  /** Gives back {@code bytes} that {@code client} reserved earlier. */
  public void release(String client, long bytes) {
    if (bytes <= 0) return;
    release(bytes);
    if (client != null) {
      byClient.computeIfPresent(client, (k, held) -> held - bytes > 0 ? held - bytes : null);
    }
  }

  /** Registers {@code gemini.proxy.body.budget.used} and {@code .limit} (bytes). */
  public void bindTo(MeterRegistry registry) {
    Gauge.builder("gemini.proxy.body.budget.used", this, BodyBudget::used)
        .description("Bytes of request bodies held (or reserved) for replay")
        .baseUnit("bytes").register(registry);
    Gauge.builder("gemini.proxy.body.budget.limit", this, BodyBudget::limit)
        .description("The budget for request bodies held for replay (server.body-budget)")
        .baseUnit("bytes").register(registry);
  }
}
