package dev.geminirotator.api;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;

/**
 * Fails fast while the upstream itself is down. Counts upstream and transport errors only: a 429
 * or a client error says nothing about whether Gemini is up.
 *
 * <p>A transport answers every permission it was granted exactly once: with the outcome that
 * counts, or with {@link Outcome#cancelled()} to hand it back; unless the breaker's
 * {@linkplain #epoch epoch} changed since the permission was granted: then the permission belongs
 * to a state that has passed and is not answered at all. gemini-rotator's transports take one
 * permission per request and report the request's outcome, not each attempt's, so that a failed
 * attempt another key recovered does not count. One guard may keep a breaker per model or one for
 * the whole upstream.
 * Implementations are thread-safe.
 */
public interface CircuitGuard {

  /** The state of one breaker. */
  enum State {
    /** Calls pass; upstream failures are counted. */
    CLOSED,
    /** Calls fail fast with {@link CircuitOpenException} until the wait is over. */
    OPEN,
    /** A few trial calls pass; their outcomes close the breaker or open it again. */
    HALF_OPEN
  }

  /**
   * Asks to make one call for this model.
   *
   * @throws CircuitOpenException when the breaker is open, carrying when it will half-open
   */
  void acquirePermission(String model);

  /** Reports the outcome of a call that {@link #acquirePermission} allowed. */
  void onOutcome(String model, Outcome outcome, Duration elapsed);

  /** The state of the breaker that guards this model. */
  State state(String model);

  /**
   * Which period of the breaker that guards this model it is in: a value that changes whenever
   * that breaker changes state (or is reset), and only then. A caller reads it right after
   * {@link #acquirePermission} and again when the call's outcome is known; when the two differ,
   * the permission was granted in a state that has passed (a request that took it while closed
   * and ended after the breaker opened and half-opened), so its outcome is stale evidence and is
   * not reported: reporting it would count it as a half-open trial, and handing it back would give
   * the half-open breaker a trial permission it never granted. This default is the state's
   * ordinal, which misses a change that comes back to the same state.
   */
  default long epoch(String model) {
    return state(model).ordinal();
  }

  /**
   * While the breaker that guards this model is not closed, when it will let calls through again
   * (what {@link CircuitOpenException#retryAt()} would say now); empty while it is closed. Asks
   * without taking a permission. This default knows nothing and returns empty.
   */
  default Optional<Instant> openUntil(String model) {
    return Optional.empty();
  }

  /** A guard that never opens. */
  static CircuitGuard disabled() {
    return DisabledGuard.INSTANCE;
  }
}

/** The guard of {@link CircuitGuard#disabled()}. */
enum DisabledGuard implements CircuitGuard {
  INSTANCE;

  @Override
  public void acquirePermission(String model) {
  }

  @Override
  public void onOutcome(String model, Outcome outcome, Duration elapsed) {
  }

  @Override
  public State state(String model) {
    return State.CLOSED;
  }
}
