package dev.geminirotator.core.attempt;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.core.internal.Backoff;
import dev.geminirotator.core.internal.Checks;
import dev.geminirotator.core.internal.Durations;
import java.time.Duration;

/**
 * Whether a request gets another attempt after one finished, and when. This is the single place
 * retry semantics live: the transports (the OkHttp interceptor, the standalone proxy) are thin
 * adapters over this policy plus {@link dev.geminirotator.core.classify.GeminiClassifier}, a
 * {@link dev.geminirotator.api.KeyRotator} and a {@link dev.geminirotator.api.CircuitGuard}, and
 * decide nothing on their own. Each request gets an {@link Attempts} ({@link #newAttempts}), which
 * applies this policy attempt by attempt and reports the request to the guard.
 *
 * <table>
 *   <caption>Decisions, for a request whose body can be sent again</caption>
 *   <tr><th>outcome</th><th>budget left</th><th>budget spent</th></tr>
 *   <tr><td>success, client error, cancelled</td><td>return</td><td>return</td></tr>
 *   <tr><td>rate-limited, key rejected (a key's own failure: spends no budget)</td><td>retry now,
 *       on another key</td><td>retry now, on another key</td></tr>
 *   <tr><td>upstream error, transport error (each spends one of {@code max-attempts})</td>
 *       <td>retry after backoff, on another key (if retry-upstream-errors)</td><td>return</td></tr>
 * </table>
 *
 * <p>A request whose body cannot be replayed (a one-shot stream) is never retried. Whatever the
 * outcomes, a request makes at most {@link #MAX_ATTEMPTS_PER_REQUEST} attempts, and never two with
 * one key, so it never loops. When the rotator has no key for the next attempt after a key's own
 * failure, the caller gets the pool's answer (429 with {@code Retry-After}), not that key's
 * response ({@link Attempts#answerFromPool()}). Backoff is {@code backoffBase * 2^(n - 1)} after
 * the n-th upstream or transport error, capped at {@code backoffMax}, less up to {@code jitter} of
 * itself at random ({@link Backoff#exponential}).
 *
 * <p>A transport runs roughly this loop:
 *
 * <pre>{@code
 * RequestContext context = RequestContext.forModel(model);
 * Attempts attempts = policy.newAttempts(guard, model, request.isReplayable());
 * Response last = null;
 * try {
 *   while (true) {
 *     attempts.acquirePermission();                     // open: 503 (or the last failure)
 *     KeyLease lease;                                   // after the guard: a fast-failed call
 *     try {                                             // must not spend a key's quota permit
 *       lease = rotator.acquire(context);
 *     } catch (NoKeyAvailableException e) {
 *       attempts.handBack();                            // the permission, unused
 *       return last == null || attempts.answerFromPool()
 *           ? tooManyRequests(e)                        // 429 + Retry-After from the pool
 *           : last;                                     // the last upstream failure
 *     }
 *     Response response = send(request, lease.key());   // I/O failure: classifyTransportFailure
 *     Outcome outcome = classifier.classify(response.code(), response::header, peek(response),
 *         lease.key());                                 // consumer answers checked against it
 *     lease.complete(outcome);
 *     Decision decision = attempts.completed(lease.key(), outcome, elapsed); // guard, budget
 *     if (decision.kind() == Decision.Kind.RETURN) return response;
 *     close(response);
 *     last = response;                                  // kept as status and peeked body
 *     sleep(decision.delay());                          // zero for RETRY_NOW
 *     context = context.excluding(lease.key().id());
 *   }
 * } finally {
 *   attempts.finish(callerLeft);                        // the breaker rule settles the request
 * }
 * }</pre>
 *
 * <p>Immutable and thread-safe.
 */
public final class AttemptPolicy {

  public static final int DEFAULT_MAX_ATTEMPTS = 4;
  /** The most {@code max-attempts} may be set to. */
  public static final int MAX_ATTEMPTS_LIMIT = 20;
  public static final Duration DEFAULT_BACKOFF_BASE = Duration.ofMillis(200);
  public static final Duration DEFAULT_BACKOFF_MAX = Duration.ofSeconds(2);
  public static final double DEFAULT_JITTER = 0.2;
  public static final boolean DEFAULT_RETRY_UPSTREAM_ERRORS = true;
  /**
   * The most attempts one request makes, key-own failures included: the hard bound that keeps a
   * request in a large pool of failing keys from trying them all. A request also never tries a key
   * twice, so it never makes more attempts than the pool has keys.
   */
  public static final int MAX_ATTEMPTS_PER_REQUEST = 32;
  /**
   * The most upstream calls a request may make while its resource's owner is being discovered
   * (one key per project asked in turn, see {@code Placement.Discover}): a client naming random
   * resources on a pool of hundreds of projects makes at most this many calls per request.
   */
  public static final int DEFAULT_MAX_DISCOVERY_ATTEMPTS = 8;

  private static final AttemptPolicy DEFAULTS = builder().build();

  private final int maxAttempts;
  private final Duration backoffBase;
  private final Duration backoffMax;
  private final double jitter;
  private final boolean retryUpstreamErrors;
  private final int maxDiscoveryAttempts;

  private AttemptPolicy(Builder b) {
    this.maxDiscoveryAttempts = b.maxDiscoveryAttempts;
    this.maxAttempts = b.maxAttempts;
    this.backoffBase = b.backoffBase;
    this.backoffMax = b.backoffMax;
    this.jitter = b.jitter;
    this.retryUpstreamErrors = b.retryUpstreamErrors;
  }

  public static AttemptPolicy defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder().maxAttempts(maxAttempts).backoffBase(backoffBase).backoffMax(backoffMax)
        .jitter(jitter).retryUpstreamErrors(retryUpstreamErrors)
        .maxDiscoveryAttempts(maxDiscoveryAttempts);
  }

  /**
   * Attempts per request that upstream and transport errors may spend, the first one included.
   * A key's own failures (rate-limited, rejected) do not spend it.
   */
  public int maxAttempts() {
    return maxAttempts;
  }

  public Duration backoffBase() {
    return backoffBase;
  }

  public Duration backoffMax() {
    return backoffMax;
  }

  public double jitter() {
    return jitter;
  }

  /** Whether upstream and transport errors are retried (with backoff) at all. */
  public boolean retryUpstreamErrors() {
    return retryUpstreamErrors;
  }

  /**
   * The most upstream calls (every attempt, misses included) a request makes while the owner of
   * the resource it names is being discovered; a project's 403/404 for it spends none of {@link
   * #maxAttempts()} but one of this.
   */
  public int maxDiscoveryAttempts() {
    return maxDiscoveryAttempts;
  }

  /**
   * The attempts of one request: the budget and the breaker rule, applied attempt by attempt.
   *
   * @param guard the guard every attempt asks for permission; the request is reported to it
   * @param model the model the guard's breaker is chosen by
   * @param replayable whether the request body can be sent again; if not, one attempt only
   */
  public Attempts newAttempts(CircuitGuard guard, String model, boolean replayable) {
    return new Attempts(this, guard, model, replayable);
  }

  /** The backoff before the attempt after {@code attempt}, with {@code random} in [0, 1). */
  Duration backoff(int attempt, double random) {
    return Backoff.exponential(backoffBase, backoffMax, attempt - 1, jitter, random);
  }

  @Override
  public String toString() {
    return "AttemptPolicy{maxAttempts=" + maxAttempts + ", backoffBase="
        + Durations.format(backoffBase) + ", backoffMax=" + Durations.format(backoffMax)
        + ", jitter=" + jitter + ", retryUpstreamErrors=" + retryUpstreamErrors
        + (maxDiscoveryAttempts == DEFAULT_MAX_DISCOVERY_ATTEMPTS ? ""
            : ", maxDiscoveryAttempts=" + maxDiscoveryAttempts) + '}';
  }

  /**
   * What a transport does after an attempt: return the response it has, retry at once on another
   * key, or retry on another key after {@link #delay()}. Immutable; {@code RETURN} and
   * {@code RETRY_NOW} are shared constants.
   */
  public static final class Decision {

    /** The three things a transport can do. */
    public enum Kind {
      /** Hand the response (or failure) of this attempt to the caller. */
      RETURN,
      /** Make the next attempt now, on another key. */
      RETRY_NOW,
      /** Make the next attempt on another key after {@link Decision#delay()}. */
      RETRY_AFTER
    }

    static final Decision RETURN = new Decision(Kind.RETURN, Duration.ZERO);
    static final Decision RETRY_NOW = new Decision(Kind.RETRY_NOW, Duration.ZERO);

    private final Kind kind;
    private final Duration delay;

    private Decision(Kind kind, Duration delay) {
      this.kind = kind;
      this.delay = delay;
    }

    /** Hand this attempt's result to the caller. */
    public static Decision returnResult() {
      return RETURN;
    }

    /** Try again at once on another key. */
    public static Decision retryNow() {
      return RETRY_NOW;
    }

    /** Try again on another key after {@code delay}; a zero delay is {@link #retryNow()}. */
    public static Decision retryAfter(Duration delay) {
      Checks.notNegative("delay", delay);
      return delay.isZero() ? RETRY_NOW : new Decision(Kind.RETRY_AFTER, delay);
    }

    public Kind kind() {
      return kind;
    }

    /** How long to wait before the next attempt; zero unless {@link Kind#RETRY_AFTER}. */
    public Duration delay() {
      return delay;
    }

    /** Whether another attempt follows. */
    public boolean retries() {
      return kind != Kind.RETURN;
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof Decision d && kind == d.kind && delay.equals(d.delay);
    }

    @Override
    public int hashCode() {
      return kind.hashCode() * 31 + delay.hashCode();
    }

    @Override
    public String toString() {
      return kind == Kind.RETRY_AFTER ? "RETRY_AFTER(" + Durations.format(delay) + ")"
          : kind.name();
    }
  }

  /** Builds an {@link AttemptPolicy} from the {@code DEFAULT_*} values. Not thread-safe. */
  public static final class Builder {
    private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
    private Duration backoffBase = DEFAULT_BACKOFF_BASE;
    private Duration backoffMax = DEFAULT_BACKOFF_MAX;
    private double jitter = DEFAULT_JITTER;
    private boolean retryUpstreamErrors = DEFAULT_RETRY_UPSTREAM_ERRORS;
    private int maxDiscoveryAttempts = DEFAULT_MAX_DISCOVERY_ATTEMPTS;

    private Builder() {
    }

    /**
     * The most upstream calls a request makes while the owner of the resource it names is being
     * discovered: 1 to {@value AttemptPolicy#MAX_ATTEMPTS_PER_REQUEST}.
     */
    public Builder maxDiscoveryAttempts(int maxDiscoveryAttempts) {
      this.maxDiscoveryAttempts = Checks.between("max-discovery-attempts", maxDiscoveryAttempts, 1,
          MAX_ATTEMPTS_PER_REQUEST);
      return this;
    }

    /**
     * Attempts per request that upstream and transport errors may spend, the first one included:
     * 1 (never retry them) to 20. Rate-limited and rejected keys are retried regardless.
     */
    public Builder maxAttempts(int maxAttempts) {
      this.maxAttempts = Checks.between("max-attempts", maxAttempts, 1, MAX_ATTEMPTS_LIMIT);
      return this;
    }

    /** The backoff after the first upstream or transport error. */
    public Builder backoffBase(Duration backoffBase) {
      this.backoffBase = Checks.positive("backoff-base", backoffBase);
      return this;
    }

    /** The longest backoff between two attempts. */
    public Builder backoffMax(Duration backoffMax) {
      this.backoffMax = Checks.positive("backoff-max", backoffMax);
      return this;
    }

    /** Fraction of a backoff that is randomised, 0.0 to 1.0. */
    public Builder jitter(double jitter) {
      this.jitter = Checks.between("jitter", jitter, 0.0, 1.0);
      return this;
    }

    /** Whether upstream and transport errors get another attempt; rate limits and rejections do. */
    public Builder retryUpstreamErrors(boolean retryUpstreamErrors) {
      this.retryUpstreamErrors = retryUpstreamErrors;
      return this;
    }

    public AttemptPolicy build() {
      Checks.ordered("backoff-base", backoffBase, "backoff-max", backoffMax);
      return new AttemptPolicy(this);
    }
  }
}
