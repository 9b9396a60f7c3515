package dev.geminirotator.okhttp;

import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import dev.geminirotator.core.attempt.Attempts;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One attempt with one leased key: completes the lease and reports to the request's {@link
 * Attempts} (which answers the guard under core's breaker rule), both exactly once, whichever of
 * the interceptor, the body's end, an I/O failure or a close gets there first. Thread-safe: the
 * lease's own completion decides who wins.
 */
final class Attempt {

  private static final Logger log = LoggerFactory.getLogger(Attempt.class);

  private final KeyLease lease;
  private final Attempts attempts;
  private final String model;
  private final long startNanos;

  Attempt(KeyLease lease, Attempts attempts, String model) {
    this.lease = lease;
    this.attempts = attempts;
    this.model = model;
    this.startNanos = System.nanoTime();
  }

  KeyLease lease() {
    return lease;
  }

  /** Completes the lease and reports to the guard unless this attempt was completed already. */
  boolean complete(Outcome outcome) {
    if (!lease.complete(outcome)) {
      return false;
    }
    attempts.record(lease.key(), outcome, elapsed());
    logCompleted(outcome);
    return true;
  }

  /**
   * Completes the lease with the outcome of a response the loop decides on, reports it and
   * returns what follows; {@link Decision#returnResult()} when the attempt was completed already.
   */
  Decision decide(Outcome outcome) {
    if (!lease.complete(outcome)) {
      return Decision.returnResult();
    }
    Decision decision = attempts.completed(lease.key(), outcome, elapsed());
    logCompleted(outcome);
    return decision;
  }

  /**
   * The attempt's 2xx headers arrived: the request is served, and the breaker hears its success
   * now (core's settle point). The lease is completed later, when the body ends.
   */
  void served() {
    attempts.served(elapsed());
  }

  private Duration elapsed() {
    return Duration.ofNanos(System.nanoTime() - startNanos);
  }

  private void logCompleted(Outcome outcome) {
    if (log.isDebugEnabled()) {
      log.debug("attempt with key {} for model {} completed: {}", lease.key().id(), model,
          outcome.kind());
    }
  }
}
