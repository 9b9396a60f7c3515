package dev.geminirotator.core.attempt;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request's attempts: after each attempt it decides whether another follows (the attempt
 * budget), and it reports the request, not each attempt, to the {@link CircuitGuard} (the breaker
 * rule). A transport makes one per request with {@link AttemptPolicy#newAttempts} and feeds it
 * every permission it takes and every attempt's outcome; it holds no retry or breaker logic of its
 * own.
 *
 * <h2>The budget</h2>
 *
 * <ul>
 *   <li>A key's own failure (rate-limited, key rejected) moves on to the next usable key at once
 *       and does not spend {@link AttemptPolicy#maxAttempts() max-attempts}: the next key may well
 *       serve, and the caller must not see one key's 403 or 429 while another could answer.
 *   <li>An upstream or transport error spends one attempt of {@code max-attempts}; while some is
 *       left (and {@link AttemptPolicy#retryUpstreamErrors()}) the next attempt goes to another
 *       key after a backoff of {@code backoffBase * 2^(n - 1)}, n being the upstream errors so
 *       far.
 *   <li>Success, a client error and a cancellation end the request at once.
 *   <li>A body that cannot be replayed gets exactly one attempt.
 *   <li>Hard bound: each attempt excludes its key, so a request never tries more keys than the
 *       pool holds, and never makes more than {@link AttemptPolicy#MAX_ATTEMPTS_PER_REQUEST}
 *       attempts in all, however many keys fail on their own.
 * </ul>
 *
 * <p>When the rotator has no key left for the next attempt and the last attempt failed on its
 * key's own account ({@link #answerFromPool()}), the caller gets the pool's answer (the
 * transport's "no key available" response: 429 with {@code Retry-After} until the earliest key
 * frees up), never that one key's response. After an upstream or transport error it gets that
 * last failure.
 *
 * <h2>The breaker rule</h2>
 *
 * <p>The breaker measures whether the upstream can serve, so it records requests, not attempts:
 * every permission the transport takes ({@link #acquirePermission()}) is answered exactly once,
 * but at most one per request is recorded, the rest are handed back. A request is
 * <ul>
 *   <li>a <b>success</b> as soon as one of its attempts succeeded: failed attempts that another
 *       key recovered are handed back, not counted;
 *   <li>a <b>failure</b> when it ended without a success, had upstream or transport errors, and
 *       either every attempt it made ended that way (and the caller did not leave), or those
 *       errors came from keys of at least two different projects: the upstream as a whole could
 *       not serve it;
 *   <li>otherwise <b>not recorded</b>: rate limits, rejected keys, client errors, cancellations,
 *       and upstream errors confined to one project while another attempt of the same request got
 *       an answer from Gemini (the key's health deals with a failing key, not the breaker).
 * </ul>
 *
 * <p>Safe to call from several threads (the transport's loop, and a streamed body that ends on
 * the caller's thread), though it belongs to a single request.
 */
public final class Attempts {

  private static final Logger log = LoggerFactory.getLogger(Attempts.class);

  private final AttemptPolicy policy;
  private final CircuitGuard guard;
  private final String model;
  private final boolean replayable;

  private int made;
  private int upstreamFailures;
  private Outcome last;

  /** Permissions taken for attempts under way (or reserved), not yet answered. */
  private int open;
  /** Failed attempts whose permission waits for the request's end. */
  private int deferred;
  private Outcome deferredFailure;
  private Duration deferredElapsed;
  private String failedProject;
  private boolean failuresSpanProjects;
  /** An attempt ended other than with an upstream or transport error: Gemini answered it. */
  private boolean answered;
  private boolean cancelled;
  private boolean settled;

  Attempts(AttemptPolicy policy, CircuitGuard guard, String model, boolean replayable) {
    this.policy = policy;
    this.guard = Objects.requireNonNull(guard, "guard");
    this.model = model;
    this.replayable = replayable;
  }

  // ---------------------------------------------------------------------------------------------
  // The guard

  /**
   * Asks the guard for one attempt's permission. Answer it with {@link #completed}, {@link
   * #record} or {@link #handBack()}.
   *
   * @throws dev.geminirotator.api.CircuitOpenException while the breaker is open
   */
  public synchronized void acquirePermission() {
    guard.acquirePermission(model);
    open++;
  }

  /** Hands back a permission taken for an attempt that was not made (no key, an error). */
  public synchronized void handBack() {
    if (open > 0) open--;
    tell(Outcome.cancelled(), Duration.ZERO);
  }

  // ---------------------------------------------------------------------------------------------
  // Attempts

  /**
   * An attempt ended: reports it to the guard under the breaker rule and decides what follows.
   *
   * @param key the key the attempt was made with, for the breaker rule's projects
   * @param outcome the attempt's outcome, as classified
   * @param elapsed how long the attempt took; may be {@code null}
   */
  public synchronized Decision completed(ApiKey key, Outcome outcome, Duration elapsed) {
    record(key, outcome, elapsed);
    made++;
    last = outcome;
    boolean more = replayable && made < AttemptPolicy.MAX_ATTEMPTS_PER_REQUEST;
    switch (outcome.kind()) {
      case RATE_LIMITED, KEY_REJECTED -> {
        return more ? Decision.RETRY_NOW : Decision.RETURN;
      }
      case UPSTREAM_ERROR, TRANSPORT_ERROR -> {
        upstreamFailures++;
        return more && policy.retryUpstreamErrors() && upstreamFailures < policy.maxAttempts()
            ? Decision.retryAfter(policy.backoff(upstreamFailures,
                ThreadLocalRandom.current().nextDouble()))
            : Decision.RETURN;
      }
      default -> {
        return Decision.RETURN; // SUCCESS, CLIENT_ERROR, CANCELLED
      }
    }
  }

  /**
   * An attempt ended, but nothing is to be decided (it was aborted, or it is a streamed success
   * whose body ended after the request's answer was chosen): reports it to the guard under the
   * breaker rule only.
   */
  public synchronized void record(ApiKey key, Outcome outcome, Duration elapsed) {
    Objects.requireNonNull(outcome, "outcome");
    if (open > 0) open--;
    if (settled) {
      tell(outcome, elapsed); // the request's last attempt, after its answer
      return;
    }
    switch (outcome.kind()) {
      case SUCCESS -> {
        tell(outcome, elapsed);
        served();
      }
      case UPSTREAM_ERROR, TRANSPORT_ERROR -> {
        deferred++;
        deferredFailure = outcome;
        deferredElapsed = elapsed;
        String project = key == null ? null : key.project();
        if (failedProject == null) {
          failedProject = project;
        } else if (project != null && !project.equals(failedProject)) {
          failuresSpanProjects = true;
        }
      }
      case CANCELLED -> {
        cancelled = true;
        tell(outcome, elapsed);
      }
      default -> {
        answered = true;
        tell(outcome, elapsed);
      }
    }
  }

  /**
   * The request got a success whose outcome is recorded later (a streamed body): the failed
   * attempts before it were recovered and are handed back now.
   */
  public synchronized void served() {
    if (settled) return;
    settled = true;
    release(deferred);
  }

  /**
   * The request has its answer (or the caller left): settles the failed attempts under the
   * breaker rule, recording at most one failure. Idempotent; attempts recorded afterwards go to
   * the guard as they are.
   *
   * @param callerLeft whether the request ended because the caller went away
   */
  public synchronized void finish(boolean callerLeft) {
    if (settled) return;
    settled = true;
    if (callerLeft) cancelled = true;
    if (deferred == 0) return;
    boolean upstreamDown = failuresSpanProjects || (!answered && !cancelled);
    if (upstreamDown) {
      tell(deferredFailure, deferredElapsed);
      release(deferred - 1);
    } else {
      release(deferred);
    }
  }

  /** Reports to the guard; a guard the user plugged in must not break the request. */
  private void tell(Outcome outcome, Duration elapsed) {
    try {
      guard.onOutcome(model, outcome, elapsed);
    } catch (RuntimeException e) {
      log.warn("circuit guard {} failed to record an outcome for model {}", guard, model, e);
    }
  }

  private void release(int n) {
    deferred = 0;
    for (int i = 0; i < n; i++) {
      tell(Outcome.cancelled(), Duration.ZERO);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // State

  /**
   * Whether a caller left without an attempt to answer with should get the pool's answer ("no
   * key available") rather than the last attempt's response: true when the last attempt failed
   * on its key's own account (rate-limited, key rejected).
   */
  public synchronized boolean answerFromPool() {
    return last != null && (last.kind() == Outcome.Kind.RATE_LIMITED
        || last.kind() == Outcome.Kind.KEY_REJECTED);
  }

  /** Attempts finished so far. */
  public synchronized int made() {
    return made;
  }

  /** Attempts that spent {@code max-attempts} (upstream and transport errors). */
  public synchronized int upstreamFailures() {
    return upstreamFailures;
  }

  /** The last finished attempt's outcome, or {@code null} before the first. */
  public synchronized Outcome last() {
    return last;
  }

  @Override
  public synchronized String toString() {
    return "Attempts{made=" + made + ", upstreamFailures=" + upstreamFailures + ", open=" + open
        + ", deferred=" + deferred + ", settled=" + settled + '}';
  }
}
