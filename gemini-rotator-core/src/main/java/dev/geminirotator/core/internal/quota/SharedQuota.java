package dev.geminirotator.core.internal.quota;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * One limit of {@link #limit()} permits per window, counted together by every instance that shares
 * the store of its {@link SharedQuotas}. {@link #tryAcquire()} spends from a block of permits this
 * instance claimed from the store's shared counter; when the block runs low, the next one is
 * claimed in the background. The request path never waits for the store.
 *
 * <p>How close it holds the limit, with N instances: each claim is an atomic add to the shared
 * counter, so permits claimed never exceed the limit. While a claim is in flight an instance may
 * admit a few requests on credit (it never makes a request wait for the store): at most the block
 * fraction of what the store last said was left, rounded down, and at least
 * {@link SharedQuotas.Builder#minimumCredit}, never more than was left. That credit is charged
 * with the next claim, so an instance exceeds its share only when the limit runs out while it is
 * in credit, and by at most its credit. With a minimum credit of 1 (what the key rotator and the
 * proxy's per-client limits use) and a limit under {@code 2 / blockFraction} per window (under 128
 * with the default fraction), the credit is exactly 1: a window can then be exceeded by at most one
 * permit per instance, and only by a request admitted while that instance's claim was in flight.
 * With no credit (small limits, and the builder's default minimum of 0) a request that finds the
 * block empty is refused until the next block arrives, a round trip later, even the first request
 * of a window on an idle limit. Blocks shrink as the window's remaining permits shrink
 * ({@link SharedQuotas.Builder#blockFraction}), so at the end of a window the permits claimed but
 * left unused are a few per instance.
 *
 * <p>Created by {@link SharedQuotas#perMinute}, {@link SharedQuotas#perDay} and
 * {@link SharedQuotas#perWindow}. Thread-safe and lock-free on {@link #tryAcquire()}.
 */
public final class SharedQuota {

  /** What {@link #take()} returns when it refuses. */
  public static final long REFUSED = Long.MIN_VALUE;

  private final SharedQuotas owner;
  private final String name;
  private final long limit;
  private final Windowing windowing;
  private final AtomicReference<Window> current;
  /** Set while this quota waits in the owner's queue, so it is queued once. */
  final AtomicBoolean queued = new AtomicBoolean();
  /** Claims failed in a row, and when the next may run (System.nanoTime); sync thread only. */
  int failures;
  long retryAt;

  SharedQuota(SharedQuotas owner, String name, long limit, Windowing windowing) {
    this.owner = owner;
    this.name = name;
    this.limit = limit;
    this.windowing = windowing;
    this.current = new AtomicReference<>(new Window(Long.MIN_VALUE, Long.MIN_VALUE, 0, 0));
  }

  /** The counter's name in the store, e.g. {@code quota:key-1:rpm}. */
  public String name() {
    return name;
  }

  /** The permits per window across all instances. */
  public long limit() {
    return limit;
  }

  /**
   * Takes one permit if this instance has one (claimed, or on credit while a claim is in flight).
   * Never blocks and never calls the store.
   */
  public boolean tryAcquire() {
    return take() != REFUSED;
  }

  /**
   * Takes one permit like {@link #tryAcquire()}, for a caller that may have to give it back with
   * {@link #giveBack(long)} (e.g. when another quota refuses the same request).
   *
   * @return the window the permit was taken in, or {@link #REFUSED}
   */
  public long take() {
    Window w = window(owner.clock.millis());
    AtomicLong used = w.used;
    while (true) {
      long u = used.get();
      Grant g = w.grant; // one volatile read: granted, credit and exhausted of the same claim
      long allowance = g.exhausted ? g.granted : g.granted + g.credit;
      if (u >= allowance) {
        if (g.exhausted) return REFUSED;
        requestClaim();
        // a claim run at once (an in-process store) may have brought permits: look again
        if (w.grant == g) return REFUSED;
        continue;
      }
      if (used.compareAndSet(u, u + 1)) {
        if (!g.exhausted && g.granted - (u + 1) < w.lowWater) requestClaim();
        return w.start;
      }
    }
  }

  /**
   * Gives back a permit {@link #take()} took in {@code window}, so this instance may admit another
   * request in its place. Does nothing once that window has ended, or for {@link #REFUSED}.
   */
  public void giveBack(long window) {
    if (window == REFUSED) return;
    Window w = current.get();
    if (w.start != window) return;
    AtomicLong used = w.used;
    while (true) {
      long u = used.get();
      if (u <= 0 || used.compareAndSet(u, u - 1)) return;
    }
  }

  /**
   * Whether {@link #tryAcquire()} would refuse now. When this instance is out of permits but the
   * shared limit is not known to be spent, it asks for the next block (in the background).
   */
  public boolean spent() {
    Window w = window(owner.clock.millis());
    Grant g = w.grant;
    if (w.used.get() < g.allowance()) return false;
    if (g.exhausted) return true;
    requestClaim();
    // a claim run at once (an in-process store) may have brought permits, or found none left
    return w.used.get() >= w.grant.allowance();
  }

  /**
   * Nanoseconds until a permit may be free: to the end of the window when the shared limit is
   * spent, a millisecond while this instance waits for its next block, 0 when a permit is free.
   */
  public long nanosToWait() {
    long now = owner.clock.millis();
    Window w = window(now);
    if (!spent()) return 0;
    return w.grant.exhausted ? TimeUnit.MILLISECONDS.toNanos(Math.max(1, w.end - now))
        : TimeUnit.MILLISECONDS.toNanos(1);
  }

  /** Permits this instance admitted in the current window. For tests and metrics. */
  public long usedInWindow() {
    return window(owner.clock.millis()).used.get();
  }

  @Override
  public String toString() {
    return "SharedQuota{" + name + ", limit=" + limit + '}';
  }

  private void requestClaim() {
    if (queued.compareAndSet(false, true)) owner.enqueue(this);
  }

  /** The window holding {@code now}, starting a fresh one when the clock left the last. */
  private Window window(long now) {
    Window w = current.get();
    if (now >= w.start && now < w.end) return w;
    long start = windowing.start(now);
    long block = SharedQuotas.block(limit, limit, owner.blockFraction);
    Window fresh = new Window(start, windowing.end(start), block, owner.credit(limit, limit));
    return current.compareAndSet(w, fresh) ? fresh : current.get();
  }

  /**
   * Claims the next block from the store for the current window; runs on the owner's sync
   * thread (or its executor), never on the request path.
   */
  void claim() {
    queued.set(false); // a request that finds the block low after this queues the quota again
    long now = owner.clock.millis();
    Window w = window(now);
    synchronized (w) {
      Grant g = w.grant;
      if (g.exhausted) return;
      long remaining = g.granted - w.used.get();
      if (remaining >= w.lowWater) return; // another claim got here first
      long want = w.block - Math.min(0, remaining); // the next block, plus any credit spent
      long total = owner.add(name, w.start, w.end, want, w);
      long granted = Math.max(0, Math.min(want, limit - (total - want)));
      long next = SharedQuotas.block(limit, limit - total, owner.blockFraction);
      w.block = next;
      w.lowWater = Math.max(1, next / 2);
      // Published as one immutable object through one volatile write, after every field of it is
      // set: a request that reads the new grant sees its granted, credit and exhausted together
      // (the volatile write happens-before the read that sees it), never the new granted with the
      // old credit. Exhausted: every instance together reached the limit, no more this window.
      // The credit never exceeds what the store said was left: one instance alone never overshoots.
      w.grant = new Grant(g.granted + granted, owner.credit(limit, limit - total), total >= limit);
    }
  }

  /** Where windows start and end: fixed lengths from the epoch, or days in a time zone. */
  interface Windowing {
    long start(long now);

    long end(long start);
  }

  /** The state of one window on this instance. Written by claims, read by requests. */
  static final class Window {
    final long start;
    final long end;
    final AtomicLong used = new AtomicLong();
    /** Counted locally while the store could not count: the local-only limit. */
    final AtomicLong localClaims = new AtomicLong();
    /** The highest total the store reported for this window. */
    long lastSharedTotal; // guarded by this
    /** What the claims so far allow; replaced whole by each claim, never changed in place. */
    volatile Grant grant;
    long block; // guarded by this
    volatile long lowWater;

    Window(long start, long end, long block, long credit) {
      this.start = start;
      this.end = end;
      this.block = block;
      this.grant = new Grant(0, credit, false);
      this.lowWater = Math.max(1, block / 2);
    }
  }

  /**
   * What this instance may admit in a window: the permits claimed so far ({@code granted}), how
   * many more on credit while a claim is in flight, and whether the shared limit is reached.
   * Immutable, so a reader never sees the fields of two different claims mixed.
   */
  record Grant(long granted, long credit, boolean exhausted) {
    long allowance() {
      return exhausted ? granted : granted + credit;
    }
  }
}
