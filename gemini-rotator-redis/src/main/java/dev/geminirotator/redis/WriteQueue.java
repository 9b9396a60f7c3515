package dev.geminirotator.redis;

import java.time.Clock;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The writes waiting for Redis, one per {@link Write#slot() slot}, oldest first, bounded: when a
 * write for a new slot finds the queue full, cooldowns that have ended meanwhile leave it first
 * (the writer would skip them: they would expire in Redis at once), and only if none has, the
 * oldest pending write is dropped and counted.
 * {@link #offer} never blocks on I/O (it takes a short lock). The writes of the batch being sent
 * stay visible to {@link #pendingAndInFlight()} until the batch is acknowledged. Thread-safe.
 */
final class WriteQueue {

  /**
   * At most one sweep for ended cooldowns per this many nanoseconds (monotonic time, whatever the
   * wall clock does), so a full queue whose cooldowns end one by one stays cheap.
   */
  private static final long SWEEP_INTERVAL_NANOS = 1_000_000;

  private final int capacity;
  private final Clock clock;
  private final LongSupplier nanoTime;
  /** The earliest end of a queued cooldown (not a clear) when last known; MAX_VALUE: none. */
  private long earliestEnd = Long.MAX_VALUE;
  private long lastSweepNanos;
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final Condition woke = lock.newCondition();
  private boolean writerWaiting;
  private final LinkedHashMap<String, Write> pending = new LinkedHashMap<>();
  private List<Write> inFlight = List.of();
  private final AtomicLong dropped = new AtomicLong();
  private boolean woken;

  WriteQueue(int capacity, Clock clock) {
    this(capacity, clock, System::nanoTime);
  }

  /** With a monotonic time of the test's own for the sweep's rate limit. */
  WriteQueue(int capacity, Clock clock, LongSupplier nanoTime) {
    this.capacity = capacity;
    this.clock = clock;
    this.nanoTime = nanoTime;
    this.lastSweepNanos = nanoTime.getAsLong() - SWEEP_INTERVAL_NANOS; // the first may sweep
  }

  /** Queues a write; returns whether an older one had to be dropped to make room. */
  boolean offer(Write write) {
    lock.lock();
    try {
      boolean drop = put(write);
      if (writerWaiting) {
        // only an idle writer is woken: one that lingers or writes will see this write anyway,
        // and a producer should not pay for a wake-up per change
        writerWaiting = false;
        changed.signal();
      }
      return drop;
    } finally {
      lock.unlock();
    }
  }

  private boolean put(Write write) {
    String slot = write.slot();
    Write older = pending.get(slot);
    if (older != null) {
      Write merged = write.mergeAfter(older);
      if (merged != older) pending.put(slot, merged); // a merge never ends earlier
      return false;
    }
    boolean drop = false;
    if (pending.size() >= capacity && !sweepEnded()) {
      Iterator<String> eldest = pending.keySet().iterator();
      eldest.next();
      eldest.remove();
      dropped.incrementAndGet();
      drop = true;
    }
    pending.put(slot, write);
    noteEnd(write);
    return drop;
  }

  private void noteEnd(Write write) {
    if (write instanceof Write.Cooldown c && !c.clearFirst() && c.until() < earliestEnd) {
      earliestEnd = c.until();
    }
  }

  /**
   * Removes the queued cooldowns (not clears) that have ended; true when that made room. Runs
   * only when one may have ended ({@link #earliestEnd} is never later than the earliest queued
   * end), and at most once per {@link #SWEEP_INTERVAL_NANOS}: it walks the whole queue.
   */
  private boolean sweepEnded() {
    long now = clock.millis();
    if (earliestEnd > now) return false;
    long nanos = nanoTime.getAsLong();
    if (nanos - lastSweepNanos < SWEEP_INTERVAL_NANOS) return false;
    lastSweepNanos = nanos;
    long earliest = Long.MAX_VALUE;
    int before = pending.size();
    for (Iterator<Write> it = pending.values().iterator(); it.hasNext(); ) {
      if (it.next() instanceof Write.Cooldown c && !c.clearFirst()) {
        if (c.until() <= now) {
          it.remove();
        } else if (c.until() < earliest) {
          earliest = c.until();
        }
      }
    }
    earliestEnd = earliest;
    return pending.size() < before && pending.size() < capacity;
  }

  /** Takes up to {@code max} of the oldest writes; they count as in flight until {@link #done}. */
  List<Write> take(int max) {
    lock.lock();
    try {
      List<Write> batch = new ArrayList<>(Math.min(max, pending.size()));
      Iterator<Write> it = pending.values().iterator();
      while (it.hasNext() && batch.size() < max) {
        batch.add(it.next());
        it.remove();
      }
      inFlight = batch;
      return batch;
    } finally {
      lock.unlock();
    }
  }

  /** The in-flight batch reached Redis. */
  void done() {
    lock.lock();
    try {
      inFlight = List.of();
    } finally {
      lock.unlock();
    }
  }

  /**
   * Puts writes that could not be sent back at the head of the queue; a newer write queued meanwhile
   * for the same slot is merged after them. Nothing is dropped here: a requeue may exceed capacity
   * until the next offer.
   */
  void requeue(List<Write> writes) {
    lock.lock();
    try {
      LinkedHashMap<String, Write> merged = new LinkedHashMap<>();
      for (Write w : writes) {
        Write older = merged.get(w.slot());
        merged.put(w.slot(), older == null ? w : w.mergeAfter(older));
      }
      for (Write newer : pending.values()) {
        Write older = merged.get(newer.slot());
        merged.put(newer.slot(), older == null ? newer : newer.mergeAfter(older));
      }
      pending.clear();
      pending.putAll(merged);
      merged.values().forEach(this::noteEnd);
      inFlight = List.of();
    } finally {
      lock.unlock();
    }
  }

  /** Everything not yet acknowledged by Redis, oldest first: the in-flight batch, then the queue. */
  List<Write> pendingAndInFlight() {
    lock.lock();
    try {
      List<Write> all = new ArrayList<>(inFlight.size() + pending.size());
      all.addAll(inFlight);
      all.addAll(pending.values());
      return all;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Writes not yet acknowledged by Redis: queued or in the batch being sent (a slot in both counts
   * once). During an outage the writer keeps taking a batch, failing and putting it back, so the
   * queue alone reads 0 while a batch is out.
   */
  int unacknowledged() {
    lock.lock();
    try {
      int n = pending.size();
      for (Write w : inFlight) {
        if (!pending.containsKey(w.slot())) n++;
      }
      return n;
    } finally {
      lock.unlock();
    }
  }

  int size() {
    lock.lock();
    try {
      return pending.size();
    } finally {
      lock.unlock();
    }
  }

  long dropped() {
    return dropped.get();
  }

  /** Waits until a write is queued, {@link #wake} is called, or the time passes. */
  void await(long millis) throws InterruptedException {
    if (millis <= 0) return;
    lock.lock();
    try {
      long nanos = TimeUnit.MILLISECONDS.toNanos(millis);
      while (pending.isEmpty() && !woken && nanos > 0) {
        writerWaiting = true;
        nanos = changed.awaitNanos(nanos);
      }
      writerWaiting = false;
      woken = false;
    } finally {
      lock.unlock();
    }
  }

  /** Waits until {@link #wake} is called or the time passes, whatever is queued. */
  void pause(long millis) throws InterruptedException {
    if (millis <= 0) return;
    lock.lock();
    try {
      long nanos = TimeUnit.MILLISECONDS.toNanos(millis);
      while (!woken && nanos > 0) {
        nanos = woke.awaitNanos(nanos);
      }
      woken = false;
    } finally {
      lock.unlock();
    }
  }

  /** Ends a pending or the next {@link #await} or {@link #pause}. */
  void wake() {
    lock.lock();
    try {
      woken = true;
      changed.signalAll();
      woke.signalAll();
    } finally {
      lock.unlock();
    }
  }
}
