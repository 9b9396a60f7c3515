package dev.geminirotator.core.rotation;

import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.slf4j.Logger;

/**
 * When a project's cooldown ends: the operator log says so once, whoever sees the end first (a
 * check scheduled for it, a snapshot, or a new cooldown replacing it). Part of
 * {@link GeminiKeyRotator}: its state machine and store sync schedule the checks, its snapshots
 * {@link #expire} ended cooldowns.
 *
 * <p>Thread-safe: at most one check is pending per project and model ({@link #endChecks}); the
 * one daemon thread that runs them starts with the first cooldown and stops with the rotator.
 */
final class CooldownEnds {

  private final Logger log;
  private final Clock clock;
  private final StateLog stateLog;
  private final Membership membership;
  /** The rotator's: set when it closes. */
  private final AtomicBoolean closed;
  /**
   * Checks that log a cooldown's end when it comes: one pending per project and model (the key
   * is {@code project NUL model}). The thread starts with the first cooldown; see
   * {@link #schedule}.
   */
  private final ConcurrentHashMap<String, Boolean> endChecks = new ConcurrentHashMap<>();
  private volatile ScheduledExecutorService endCheckExecutor;

  CooldownEnds(Clock clock, StateLog stateLog, Membership membership, AtomicBoolean closed,
      Logger log) {
    this.log = log;
    this.clock = clock;
    this.stateLog = stateLog;
    this.membership = membership;
    this.closed = closed;
  }

  /** Removes the project's ended cooldowns and logs each end. */
  void expire(ProjectState project, long now) {
    for (Map.Entry<String, ProjectState.Cooling> e : project.expire(now)) {
      stateLog.cooldownEnded(project.name, e.getKey(), e.getValue(), "ended", now);
    }
  }

  /**
   * Makes sure a check runs when the project's cooldown for the model should end, to log the end
   * when it happens rather than when someone next looks. Ends happen by time passing, not by an
   * event: the check runs on one daemon thread per rotator (started with the first cooldown,
   * stopped by {@link #close}), at most one pending per project and model; it finds a cooldown
   * that was extended meanwhile and checks again at its new end. A snapshot, or a new cooldown
   * replacing an ended one, may see the end first; either way it is logged once. With a clock
   * other than the system's, the check waits by the system's time for what the clock says is
   * left, so tests that move a fake clock see ends through snapshots.
   */
  void schedule(ProjectState project, String model, long until, long now) {
    if (closed.get()) return;
    String subject = project.name + '\u0000' + model;
    if (endChecks.putIfAbsent(subject, Boolean.TRUE) != null) return; // one already pending
    scheduleAt(project, model, subject, until, now);
  }

  private void scheduleAt(ProjectState project, String model, String subject, long until,
      long now) {
    ScheduledExecutorService executor = executor();
    if (executor == null) {
      endChecks.remove(subject);
      return;
    }
    try {
      executor.schedule(() -> checkEnd(project, model, subject, now), Math.max(1, until - now),
          TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      endChecks.remove(subject); // closing
    }
  }

  private void checkEnd(ProjectState project, String model, String subject, long scheduledAt) {
    try {
      long now = clock.millis();
      ProjectState.Cooling c = project.cooldown(model);
      if (now == scheduledAt) {
        // The clock stood still while the system's moved on: a test's fake clock. Its ends are
        // seen by snapshots and new cooldowns; polling it would only keep this thread busy.
        endChecks.remove(subject);
        return;
      }
      if (c != null && c.until() > now && !closed.get()
          && membership.projects.get(project.name) == project) {
        // Extended meanwhile (or the clock lags the system's): check again when it should end.
        scheduleAt(project, model, subject, Math.max(c.until(), now + 1_000), now);
        return;
      }
      endChecks.remove(subject);
      expire(project, now);
    } catch (RuntimeException e) {
      endChecks.remove(subject);
      log.debug("cooldown end check failed: {}", e.toString());
    }
  }

  private ScheduledExecutorService executor() {
    ScheduledExecutorService executor = endCheckExecutor;
    if (executor != null) return executor;
    synchronized (endChecks) {
      if (closed.get()) return null;
      if (endCheckExecutor == null) {
        java.util.concurrent.ScheduledThreadPoolExecutor e =
            new java.util.concurrent.ScheduledThreadPoolExecutor(1, r -> {
              Thread t = new Thread(r, "gemini-rotator-cooldown-ends");
              t.setDaemon(true);
              return t;
            });
        e.setRemoveOnCancelPolicy(true);
        endCheckExecutor = e;
      }
      return endCheckExecutor;
    }
  }

  /** Stops the checks' thread; the rotator has set {@link #closed}. */
  void close() {
    synchronized (endChecks) {
      if (endCheckExecutor != null) endCheckExecutor.shutdownNow();
    }
  }
}
