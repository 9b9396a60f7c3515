package dev.geminirotator.core.rotation;

import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.event.RotatorEvent;
import dev.geminirotator.api.event.RotatorListener;
import java.util.Objects;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;

/**
 * The {@link RotatorListener}s of one {@link GeminiKeyRotator}, and the one way its parts tell
 * them of an event: each listener is called in turn, and one that throws is logged and skipped,
 * never thrown into a request.
 *
 * <p>An event this rotator caused is told on the thread that caused it ({@link #fire}). An event
 * learnt from the store ({@link #fireLearnt}) is told on the rotator's event thread, in the order
 * learnt, never on a thread that holds the store's or the rotator's locks: the store delivers
 * changes while it holds its own lock, and the rotator adopts a write's
 * answer while it holds the subject's store lock, so a listener called there that changed the
 * rotator's state (a {@code disable} on the event it hears, say) would wait for a lock that a
 * writer of this rotator holds while that writer waits for the store: a deadlock. The event thread
 * is a daemon, started on the first learnt event and ended after {@value #IDLE_SECONDS} s without
 * one; at most {@value #MAX_QUEUED} events wait for it (a listener that falls that far behind
 * loses the newest, with a warning). One queue, drained by at most one task at a time, keeps the
 * order: a pool thread that times out while the next event arrives cannot let a second thread
 * tell a later event first.
 *
 * <p>Thread-safe: registering copies the list, firing reads it.
 */
final class ListenerSet {

  static final int MAX_QUEUED = 65_536;
  static final int IDLE_SECONDS = 10;

  private final Logger log;
  private final CopyOnWriteArrayList<RotatorListener> listeners = new CopyOnWriteArrayList<>();
  private final ThreadPoolExecutor learnt;
  private final ConcurrentLinkedQueue<RotatorEvent> queue = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queued = new AtomicInteger();
  private final AtomicBoolean draining = new AtomicBoolean();
  private final AtomicLong dropped = new AtomicLong();

  ListenerSet(Logger log) {
    this.log = log;
    this.learnt = new ThreadPoolExecutor(1, 1, IDLE_SECONDS, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(), r -> {
          Thread t = new Thread(r, "gemini-rotator-events");
          t.setDaemon(true);
          return t;
        });
    learnt.allowCoreThreadTimeOut(true);
  }

  /** Adds a listener; the handle removes it. */
  Subscription add(RotatorListener listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** Whether none listens: callers skip building an event nobody hears. */
  boolean isEmpty() {
    return listeners.isEmpty();
  }

  /**
   * Tells the listeners of an event learnt from the store, on the event thread (see the class
   * comment); nothing when none listens or the rotator closed.
   */
  void fireLearnt(RotatorEvent event) {
    if (listeners.isEmpty() || learnt.isShutdown()) return;
    if (queued.incrementAndGet() > MAX_QUEUED) {
      queued.decrementAndGet();
      long n = dropped.incrementAndGet();
      if (n == 1 || n % 10_000 == 0) {
        log.warn("listeners fall behind the store: {} events learnt from it were not told ({}"
            + " wait)", n, MAX_QUEUED);
      }
      return;
    }
    queue.add(event);
    drainLater();
  }

  /** Starts a drain unless one runs: at most one at a time, so events are told in queue order. */
  private void drainLater() {
    if (!draining.compareAndSet(false, true)) return;
    try {
      learnt.execute(this::drain);
    } catch (RejectedExecutionException e) {
      draining.set(false); // closed: what is queued is not told
    }
  }

  private void drain() {
    try {
      RotatorEvent event;
      while ((event = queue.poll()) != null) {
        queued.decrementAndGet();
        fire(event);
      }
    } finally {
      draining.set(false);
      // an event queued after the last poll, whose caller saw this drain still running
      if (!queue.isEmpty()) drainLater();
    }
  }

  /**
   * Ends the event thread once it has told what is queued (possibly after the rotator's close
   * returned); later learnt events are not told.
   */
  void close() {
    learnt.shutdown();
  }

  /** {@link #fireLearnt} when the event was learnt from the store, else {@link #fire}. */
  void fire(RotatorEvent event, boolean learnt) {
    if (learnt) fireLearnt(event); else fire(event);
  }

  void fire(RotatorEvent event) {
    for (RotatorListener listener : listeners) {
      try {
        listener.onEvent(event);
      } catch (RuntimeException e) {
        log.warn("listener {} failed on {}; ignored", listener.getClass().getName(),
            event.getClass().getSimpleName(), e);
      }
    }
  }
}
