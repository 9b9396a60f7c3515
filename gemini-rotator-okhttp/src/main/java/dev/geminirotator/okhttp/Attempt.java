package dev.geminirotator.okhttp;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.Outcome;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One attempt with one leased key: completes the lease and reports to the circuit guard, both
 * exactly once, whichever of the interceptor, the body's end, an I/O failure or a close gets there
 * first. Thread-safe: the lease's own completion decides who wins.
 */
final class Attempt {

  private static final Logger log = LoggerFactory.getLogger(Attempt.class);

  private final KeyLease lease;
  private final CircuitGuard guard;
  private final String model;
  private final long startNanos;

  Attempt(KeyLease lease, CircuitGuard guard, String model) {
    this.lease = lease;
    this.guard = guard;
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
    try {
      guard.onOutcome(model, outcome, Duration.ofNanos(System.nanoTime() - startNanos));
    } catch (RuntimeException e) {
      // A guard the user plugged in must not break a request that already has its answer.
      log.warn("circuit guard {} failed to record an outcome for model {}", guard, model, e);
    }
    if (log.isDebugEnabled()) {
      log.debug("attempt with key {} for model {} completed: {}", lease.key().id(), model,
          outcome.kind());
    }
    return true;
  }
}
