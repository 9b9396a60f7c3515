package dev.geminirotator.core.internal.quota;

import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.WindowCounters;
import dev.geminirotator.core.internal.Checks;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Request limits per window (per minute, per day, or any fixed length) that every instance sharing
 * one {@link KeyStateStore} counts together, without the store on the request path. Each
 * {@link SharedQuota} spends locally from blocks of permits ("budget leases") that it claims from
 * the store's shared window counter ({@link WindowCounters#addAndGet(String, Instant,
 * Duration, long)}, one atomic add per block) on a background thread. Blocks are a fraction of
 * what is left in the window, so the limit holds across instances to within a few permits per
 * instance (see {@link SharedQuota}).
 *
 * <p>Day windows start at midnight in {@link Builder#dailyResetZone} (America/Los_Angeles by
 * default, where Gemini resets its per-day quotas), not at midnight UTC; minute windows are aligned
 * to the epoch.
 *
 * <p>When the store cannot count (it reports itself unavailable, or its call fails), each instance
 * enforces the limits on its own until it can again; this is logged once when it starts and once
 * when it ends. No request ever waits for or fails because of the store.
 *
 * <p>Why hand-written and not Bucket4j's Redis buckets (measured side by side in
 * benchmarks/README.md, {@code SharedCounterBenchmark}, issue 17): at a binding limit both need
 * about 0.18 Redis round trips per admitted request (Bucket4j with its {@code delaying}
 * optimization; plain Bucket4j needs 2), but here they are off the request path, so an admitted
 * request costs about 70 ns and allocates nothing (Bucket4j: 5-50 µs and 0.4-2.9 KB); when the
 * store is down or hung requests go on, counted locally, where Bucket4j throws or blocks for its
 * socket timeout; day windows follow midnight in a zone across daylight saving changes; and any
 * store with window counters serves, not only Redis. Bucket4j's greedy refill would smooth the
 * twice-the-limit burst that fixed windows allow across a boundary; that is accepted.
 *
 * <p>Thread-safe. {@link #close()} stops the background thread.
 */
public final class SharedQuotas implements AutoCloseable {

  /** The share of a window's remaining permits one claim takes. */
  public static final double DEFAULT_BLOCK_FRACTION = 1.0 / 64;
  /** Where per-day windows start: midnight in Gemini's own time zone. */
  public static final ZoneId DEFAULT_DAILY_RESET_ZONE = ZoneId.of("America/Los_Angeles");

  private static final Logger log = LoggerFactory.getLogger(SharedQuotas.class);
  private static final long IDLE_PARK_NANOS = 1_000_000_000L;
  /** The wait before a claim that failed is tried again; doubled per failure in a row. */
  static final long FIRST_RETRY_NANOS = 10_000_000L;
  static final long MAX_RETRY_NANOS = 5_000_000_000L;

  private final KeyStateStore store;
  final Clock clock;
  private final ZoneId dailyResetZone;
  final double blockFraction;
  private final long minimumCredit;
  private final Executor executor;
  private final ConcurrentLinkedQueue<SharedQuota> pending = new ConcurrentLinkedQueue<>();
  /** Claims that failed, waiting to be tried again (background thread only). */
  private final List<SharedQuota> retry = new ArrayList<>();
  private final AtomicBoolean localOnly = new AtomicBoolean();
  private final AtomicBoolean unsupportedWarned = new AtomicBoolean();
  private final Object threadLock = new Object();
  private volatile Thread thread;
  private volatile boolean closed;

  private SharedQuotas(Builder b) {
    this.store = b.store;
    this.clock = b.clock;
    this.dailyResetZone = b.dailyResetZone;
    this.blockFraction = b.blockFraction;
    this.minimumCredit = b.minimumCredit;
    this.executor = b.executor;
  }

  /** Starts a builder for quotas counted in {@code store}. */
  public static Builder builder(KeyStateStore store) {
    return new Builder(store);
  }

  /** A limit per minute (windows aligned to the epoch), counted under {@code name}. */
  public SharedQuota perMinute(String name, long limit) {
    return perWindow(name, limit, Duration.ofMinutes(1));
  }

  /** A limit per day, from midnight to midnight in the daily reset zone. */
  public SharedQuota perDay(String name, long limit) {
    ZoneId zone = dailyResetZone;
    return create(name, limit, new SharedQuota.Windowing() {
      @Override
      public long start(long now) {
        return Instant.ofEpochMilli(now).atZone(zone).toLocalDate().atStartOfDay(zone)
            .toInstant().toEpochMilli();
      }

      @Override
      public long end(long start) {
        // 23 or 25 hours on the days daylight saving time starts or ends
        return Instant.ofEpochMilli(start).atZone(zone).toLocalDate().plusDays(1)
            .atStartOfDay(zone).toInstant().toEpochMilli();
      }
    });
  }

  /** A limit per fixed window of {@code window} (aligned to the epoch). */
  public SharedQuota perWindow(String name, long limit, Duration window) {
    long length = Checks.positive("window", window).toMillis();
    if (length < 1) {
      throw new IllegalArgumentException("window must be >= 1ms but was " + window);
    }
    return create(name, limit, new SharedQuota.Windowing() {
      @Override
      public long start(long now) {
        return now - Math.floorMod(now, length);
      }

      @Override
      public long end(long start) {
        return start + length;
      }
    });
  }

  private SharedQuota create(String name, long limit, SharedQuota.Windowing windowing) {
    Objects.requireNonNull(name, "name");
    if (limit < 1) {
      throw new IllegalArgumentException("the limit of quota " + name + " must be >= 1 but was "
          + limit);
    }
    if (closed) throw new IllegalStateException("shared quotas are closed");
    return new SharedQuota(this, name, limit, windowing);
  }

  /** Whether the last claim was counted by the store across instances (true before any claim). */
  public boolean shared() {
    return !localOnly.get();
  }

  /** Stops the background thread; quotas then keep only the permits they hold. */
  @Override
  public void close() {
    closed = true;
    Thread t = thread;
    if (t != null) LockSupport.unpark(t);
  }

  @Override
  public String toString() {
    return "SharedQuotas{store=" + store.describe() + ", dailyResetZone=" + dailyResetZone
        + ", blockFraction=" + blockFraction + '}';
  }

  /** The size of the next claim: a fraction of what is left, at least one. */
  static long block(long limit, long remaining, double fraction) {
    if (remaining <= 0) return 1;
    return Math.max(1, (long) Math.ceil(Math.min(remaining, limit) * fraction));
  }

  /** What an instance may admit ahead of its next claim, given what the store said was left. */
  long credit(long limit, long remaining) {
    if (remaining <= 0) return 0;
    long share = (long) Math.floor(Math.min(remaining, limit) * blockFraction);
    return Math.min(remaining, Math.max(minimumCredit, share));
  }

  // ---------------------------------------------------------------------------------------------
  // Background claims

  /** Called from the request path: lock-free (a queue offer and an unpark). */
  void enqueue(SharedQuota quota) {
    if (closed) {
      quota.queued.set(false);
      return;
    }
    pending.offer(quota);
    if (executor != null) {
      executor.execute(this::drain);
      return;
    }
    Thread t = thread;
    if (t == null) t = startThread();
    LockSupport.unpark(t);
  }

  private Thread startThread() {
    synchronized (threadLock) {
      if (thread == null) {
        Thread t = new Thread(this::run, "gemini-rotator-quota-sync");
        t.setDaemon(true);
        t.start();
        thread = t;
      }
      return thread;
    }
  }

  private void run() {
    while (!closed) {
      drain(true);
      // claims that failed go back to the queue once their wait is over
      long now = System.nanoTime();
      long wake = now + IDLE_PARK_NANOS;
      for (Iterator<SharedQuota> it = retry.iterator(); it.hasNext(); ) {
        SharedQuota q = it.next();
        if (now - q.retryAt >= 0) {
          it.remove();
          pending.offer(q);
        } else if (q.retryAt - wake < 0) {
          wake = q.retryAt;
        }
      }
      if (pending.isEmpty()) LockSupport.parkNanos(this, wake - now);
    }
  }

  /** Runs every pending claim; what the given executor runs. */
  void drain() {
    drain(false);
  }

  /**
   * Runs every pending claim. A claim that fails with anything, an {@link Error} included, is
   * logged and never ends the background thread. On the background thread ({@code backOff}) it is
   * tried again after a wait that doubles with each failure in a row
   * (10 ms, up to 5 s), even when requests keep
   * asking for it meanwhile; on an executor it is tried again with the next request.
   */
  private void drain(boolean backOff) {
    SharedQuota q;
    while ((q = pending.poll()) != null) {
      if (backOff && q.failures > 0 && System.nanoTime() - q.retryAt < 0) {
        // queued again by a request while it waits to retry: it waits on
        q.queued.set(true);
        if (!retry.contains(q)) retry.add(q);
        continue;
      }
      try {
        q.claim();
        q.failures = 0;
      } catch (Throwable e) { // an Error from a store must not stop every future claim
        if (backOff && !closed) {
          q.failures = Math.min(q.failures + 1, 30);
          long wait = Math.min(MAX_RETRY_NANOS, FIRST_RETRY_NANOS << (q.failures - 1));
          q.retryAt = System.nanoTime() + wait;
          log.warn("shared quota {}: a claim failed ({} in a row); it is tried again in {} ms",
              q.name(), q.failures, wait / 1_000_000, e);
          // queued: requests leave it to the retry; one still in the queue is moved there above
          if (q.queued.compareAndSet(false, true)) retry.add(q);
        } else {
          log.warn("shared quota {}: a claim failed; it is tried again with the next request",
              q.name(), e);
        }
      }
    }
  }

  /**
   * Adds {@code delta} to the shared counter of a window and returns its total. When the store
   * cannot count, counts locally instead, on top of the last total the store reported for this
   * window: a short outage then lets this instance go on with what was left, not start over.
   * When the store counts again within the window, what was claimed locally meanwhile is added
   * to the shared counter with this claim, so those permits are not granted a second time.
   * Runs on the claiming thread only (one claim per window at a time).
   */
  long add(String name, long start, long end, long delta, SharedQuota.Window w) {
    if (store.isAvailable()) {
      long carried = w.localClaims.get();
      try {
        // A store that answers has counted in the shared backend (it throws when it cannot),
        // even if it became unavailable since: the total is real, and carried is in it.
        WindowCounters counters = store.counters().orElseThrow(
            () -> new UnsupportedOperationException("no shared window counters"));
        long total = counters.addAndGet(name, Instant.ofEpochMilli(start),
            Duration.ofMillis(end - start), delta + carried);
        w.localClaims.addAndGet(-carried);
        w.lastSharedTotal = Math.max(w.lastSharedTotal, total);
        if (localOnly.compareAndSet(true, false)) {
          log.info("shared quotas: store {} counts again; limits hold across instances",
              store.describe());
        }
        return total;
      } catch (UnsupportedOperationException e) {
        if (unsupportedWarned.compareAndSet(false, true)) {
          log.warn("shared quotas: store {} has no shared counters; each instance enforces"
              + " quotas on its own", store.describe());
        }
        return w.lastSharedTotal + w.localClaims.addAndGet(delta);
      } catch (RuntimeException e) {
        goLocal(e.toString());
        return w.lastSharedTotal + w.localClaims.addAndGet(delta);
      }
    }
    goLocal("unavailable");
    return w.lastSharedTotal + w.localClaims.addAndGet(delta);
  }

  private void goLocal(String why) {
    if (localOnly.compareAndSet(false, true)) {
      log.warn("shared quotas: store {} cannot count ({}); each instance enforces quotas on its"
          + " own until it returns", store.describe(), why);
    }
  }

  /** Builds {@link SharedQuotas}. Not thread-safe. */
  public static final class Builder {
    private final KeyStateStore store;
    private Clock clock = Clock.systemUTC();
    private ZoneId dailyResetZone = DEFAULT_DAILY_RESET_ZONE;
    private double blockFraction = DEFAULT_BLOCK_FRACTION;
    private Executor executor;
    private long minimumCredit;

    private Builder(KeyStateStore store) {
      this.store = Objects.requireNonNull(store, "store");
    }

    /** The time source; tests pass a fake clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Where per-day windows start (midnight in this zone). */
    public Builder dailyResetZone(ZoneId zone) {
      this.dailyResetZone = Objects.requireNonNull(zone, "daily-reset-zone");
      return this;
    }

    /**
     * The share of a window's remaining permits that one claim takes, in (0, 1]. Smaller holds the
     * limit closer (at most about {@code instances * fraction * limit} permits are claimed and
     * left unused at the end of a window) at the cost of more claims.
     */
    public Builder blockFraction(double fraction) {
      this.blockFraction = Checks.fraction("block-fraction", fraction);
      return this;
    }

    /**
     * Requests an instance may admit on credit while its next block is being claimed, even when
     * the limit is too small for the block fraction to allow any; default 0, so small limits are
     * never exceeded and a request that finds the block empty is refused until it arrives. With
     * {@code n}, the limit may be exceeded by up to {@code n} per instance per window, and no
     * request is refused for want of a block in flight while the store said permits were left.
     */
    public Builder minimumCredit(long permits) {
      if (permits < 0) {
        throw new IllegalArgumentException("minimum-credit must be >= 0 but was " + permits);
      }
      this.minimumCredit = permits;
      return this;
    }

    /**
     * Runs claims on this executor instead of the built-in background thread, e.g.
     * {@code Runnable::run} in tests to claim synchronously. The executor must not run the task on
     * a request thread in production: a claim calls the store.
     */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    public SharedQuotas build() {
      return new SharedQuotas(this);
    }
  }
}
