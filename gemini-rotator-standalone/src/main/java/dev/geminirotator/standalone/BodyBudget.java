package dev.geminirotator.standalone;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One memory budget for every request body the proxy holds whole ({@code server.body-budget}):
 * bodies are buffered so that a retry can replay them, and without a bound across requests a few
 * large ones exhaust the heap. A request reserves its declared {@code Content-Length} before a
 * byte of its body is read (a chunked body reserves as its buffer grows) and gives it back when
 * its exchange ends, however it ends; a request that does not fit is answered 503 with
 * {@code Retry-After} (see {@link GeminiProxy}). The default is half of the heap
 * ({@link Runtime#maxMemory()}). Thread-safe and lock-free.
 */
final class BodyBudget {

  /** The share of the heap the default budget takes: bodies plus normal operation must fit. */
  static final double DEFAULT_HEAP_SHARE = 0.5;

  private final AtomicLong used = new AtomicLong();
  private volatile long limit;

  /** A budget of {@code limit} bytes. */
  BodyBudget(long limit) {
    limit(limit);
  }

  /** The default budget for a heap of {@code maxMemory} bytes. */
  static long defaultFor(long maxMemory) {
    return (long) (maxMemory * DEFAULT_HEAP_SHARE);
  }

  /** The budget {@code configured} asks for: itself, or the heap's default when not positive. */
  static long resolve(long configured) {
    return configured > 0 ? configured : defaultFor(Runtime.getRuntime().maxMemory());
  }

  /** Changes the limit (a reload); reservations already made stand. */
  void limit(long limit) {
    if (limit < 1) throw new IllegalArgumentException("body budget must be >= 1 but was " + limit);
    this.limit = limit;
  }

  long limit() {
    return limit;
  }

  /** Bytes reserved now. */
  long used() {
    return used.get();
  }

  /** Reserves {@code bytes} if they fit under the limit; returns whether they were reserved. */
  boolean tryReserve(long bytes) {
    if (bytes <= 0) return true;
    long max = limit;
    for (long n = used.get(); ; n = used.get()) {
      if (n + bytes > max) return false;
      if (used.compareAndSet(n, n + bytes)) return true;
    }
  }

  /** Gives back {@code bytes} reserved earlier. */
  void release(long bytes) {
    if (bytes > 0) used.addAndGet(-bytes);
  }

  /** Registers {@code gemini.proxy.body.budget.used} and {@code .limit} (bytes). */
  void bindTo(MeterRegistry registry) {
    Gauge.builder("gemini.proxy.body.budget.used", this, BodyBudget::used)
        .description("Bytes of request bodies held (or reserved) for replay")
        .baseUnit("bytes").register(registry);
    Gauge.builder("gemini.proxy.body.budget.limit", this, BodyBudget::limit)
        .description("The budget for request bodies held for replay (server.body-budget)")
        .baseUnit("bytes").register(registry);
  }
}
