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
 *   <li>A body that cannot be replayed gets exactly one attempt, and its answer as it is.
 *   <li>Hard bound: each attempt excludes its key, so a request never tries more keys than the
 *       pool holds, and never makes more than {@link AttemptPolicy#MAX_ATTEMPTS_PER_REQUEST}
 *       attempts in all, however many keys fail on their own; the last one's answer is returned
 *       whatever it is.
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
 * <p>The breaker measures whether the upstream can serve, so it records requests, not attempts. A
 * request takes one permission from the guard at its first attempt and keeps it through its
 * retries (a later attempt only checks that the breaker has not opened meanwhile); that permission
 * is answered exactly once, when the request's outcome is known. A request is
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
 * <p><b>A permission from a state that has passed is not answered.</b> A request may hold its
 * permission for several request timeouts (backoffs and retries), and the breaker may open and
 * half-open meanwhile. The request remembers the guard's {@linkplain CircuitGuard#epoch epoch}
 * when it takes its permission; if the epoch has changed by the time the permission would be
 * answered, the request's outcome is stale evidence and reaches the guard not at all: neither
 * recorded (it would count as a half-open trial and could close or reopen the breaker) nor handed
 * back (in half-open that would add a trial permission this half-open state never granted; closed
 * and open breakers track no permission to give back). See {@code ResilientCircuitGuard}.
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
  private int misses;
  private int upstreamFailures;
  private Outcome last;

  /** Whether the request holds its guard permission, not yet answered. */
  private boolean held;
  /** The guard's epoch when the permission was taken; see {@link #answer}. */
  private long epoch;
  /** The last upstream or transport error, recorded against the permission if the rule says so. */
  private Outcome failure;
  private Duration failureElapsed;
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
   * Asks the guard before an attempt. The first attempt takes the request's one permission, which
   * it keeps through its retries (so a half-open breaker's trial request is not refused its own
   * retry); a later attempt only checks that the breaker has not opened meanwhile.
   *
   * @throws dev.geminirotator.api.CircuitOpenException while the breaker is open
   */
  public synchronized void acquirePermission() {
    if (!held) {
      guard.acquirePermission(model);
      held = true;
      epoch = epoch(); // after the permission: taking it may half-open the breaker
    } else if (guard.state(model) == CircuitGuard.State.OPEN) {
      guard.acquirePermission(model); // throws while open, with when it half-opens
      tell(Outcome.cancelled(), Duration.ZERO); // its wait just ended: not needed, we hold one
    }
  }

  /**
   * The attempt a permission was asked for was not made (no key, an error before sending). Before
   * any attempt ended this hands the request's permission back; afterwards the permission waits
   * for {@link #finish}.
   */
  public synchronized void handBack() {
    if (held && failure == null && !answered && !cancelled && !settled) {
      held = false;
      answer(Outcome.cancelled(), Duration.ZERO);
    }
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
    boolean more = replayable && made + misses < AttemptPolicy.MAX_ATTEMPTS_PER_REQUEST;
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
   * An attempt made while discovering the owner of the request's resource was answered 403 or 404
   * by a project that does not hold it: Gemini answered (the breaker hears nothing bad), the key
   * is not blamed, and {@link AttemptPolicy#maxAttempts() max-attempts} is not spent. Returns
   * whether another project may be asked: the body can be sent again, and the request's calls so
   * far stay under {@link AttemptPolicy#maxDiscoveryAttempts()} and the hard bound.
   */
  public synchronized boolean missed() {
    answered = true;
    misses++;
    last = null;
    int calls = made + misses;
    return replayable && calls < policy.maxDiscoveryAttempts()
        && calls < AttemptPolicy.MAX_ATTEMPTS_PER_REQUEST;
  }

  /** Upstream calls so far: finished attempts and discovery misses. */
  public synchronized int calls() {
    return made + misses;
  }

  /**
   * An attempt ended, but nothing is to be decided (it was aborted, or it is a streamed success
   * whose body ended after the request was {@linkplain #served served}): reports it under the
   * breaker rule only. After the request's answer was chosen nothing more reaches the guard
   * unless the permission is still held.
   */
  public synchronized void record(ApiKey key, Outcome outcome, Duration elapsed) {
    Objects.requireNonNull(outcome, "outcome");
    if (settled) {
      // The request's last attempt, ending after its answer was chosen. A streamed 2xx was
      // reported when its headers arrived (served), so its body's end reaches nobody here.
      if (held) {
        held = false;
        answer(outcome, elapsed);
      }
      return;
    }
    switch (outcome.kind()) {
      case SUCCESS -> {
        settled = true; // failed attempts before it were recovered: not counted
        if (held) {
          held = false;
          answer(outcome, elapsed);
        }
      }
      case UPSTREAM_ERROR, TRANSPORT_ERROR -> {
        failure = outcome;
        failureElapsed = elapsed;
        String project = key == null ? null : key.project();
        if (failedProject == null) {
          failedProject = project;
        } else if (project != null && !project.equals(failedProject)) {
          failuresSpanProjects = true;
        }
      }
      case CANCELLED -> cancelled = true;
      default -> answered = true; // rate-limited, rejected, client error: Gemini is up
    }
  }

  /**
   * The request got a 2xx whose body streams on: the upstream could serve it, so the request's
   * permission is answered with a success now, when the response headers arrive, and the failed
   * attempts before it were recovered and do not count. This is the breaker's settle point for
   * every transport: a stream that fails halfway afterwards is the key's lease's business (its
   * outcome reaches {@link #record}, which no longer reports to the guard), and a half-open
   * breaker's trial permission is not held for the whole length of a long stream.
   *
   * @param elapsed how long the attempt took until its headers arrived; may be {@code null}
   */
  public synchronized void served(Duration elapsed) {
    settled = true;
    if (held) {
      held = false;
      answer(Outcome.success(), elapsed);
    }
  }

  /**
   * The request has its answer (or the caller left): answers the request's permission under the
   * breaker rule, recording at most one failure. Idempotent, and a no-op after a success.
   *
   * @param callerLeft whether the request ended because the caller went away
   */
  public synchronized void finish(boolean callerLeft) {
    if (settled) return;
    settled = true;
    if (!held) return;
    held = false;
    boolean upstreamDown = failure != null
        && (failuresSpanProjects || (!answered && !cancelled && !callerLeft));
    if (upstreamDown) {
      answer(failure, failureElapsed);
    } else {
      answer(Outcome.cancelled(), Duration.ZERO); // handed back, not recorded
    }
  }

  /**
   * Answers the request's permission, unless the breaker changed state since it was taken: then
   * the outcome is stale evidence and the guard hears nothing (see the class comment).
   */
  private void answer(Outcome outcome, Duration elapsed) {
    long now = epoch();
    if (now != epoch) {
      if (log.isDebugEnabled()) {
        log.debug("breaker for model {} changed state since the request took its permission;"
            + " its {} is not reported", model, outcome.kind());
      }
      return;
    }
    tell(outcome, elapsed);
  }

  /** The guard's epoch; a guard the user plugged in must not break the request. */
  private long epoch() {
    try {
      return guard.epoch(model);
    } catch (RuntimeException e) {
      log.warn("circuit guard {} failed to tell its epoch for model {}", guard, model, e);
      return Long.MIN_VALUE;
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
    return "Attempts{made=" + made + ", upstreamFailures=" + upstreamFailures + ", held=" + held
        + ", settled=" + settled + '}';
  }
}
