package dev.geminirotator.core.guard;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.Subscription;
import io.github.resilience4j.circuitbreaker.CircuitBreaker;
import io.github.resilience4j.circuitbreaker.CircuitBreakerConfig;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link CircuitGuard} of gemini-rotator, on resilience4j {@link CircuitBreaker}s configured
 * by a {@link BreakerPolicy}.
 *
 * <p>Only upstream and transport errors count as failures, and only successes as successes. A
 * 429, a client error, a key rejection or a cancellation says nothing about whether Gemini is up:
 * it hands its permission back without being recorded, so a flood of them never opens the breaker.
 *
 * <p><b>What a call is: a request, not an attempt.</b> The transports report through core's
 * {@link dev.geminirotator.core.attempt.Attempts}, which takes one permission per request, keeps
 * it through the request's retries and answers it once: a success when any attempt succeeded (a
 * failed attempt another key recovered counts for nothing); a failure only when the request ended
 * without a success after upstream or transport errors that were all its attempts met, or that
 * came from keys of at least two projects (the upstream as a whole could not serve it); otherwise
 * handed back unrecorded (a 5xx confined to one key or project while Gemini answered the request's
 * other attempts is that key's health's business). So one key that always answers 503 never opens
 * the breaker while the other keys serve, and the failure rate is the share of requests the
 * upstream failed.
 *
 * <p>There is one breaker for the whole upstream (scope {@value RequestContext#ANY_MODEL}), or,
 * with {@link BreakerPolicy#perModel()}, one per model, created on first use. Per-model breakers
 * are capped at {@link BreakerPolicy#maxModelBreakers()} (and model names at
 * {@value #MAX_MODEL_NAME_LENGTH} characters) so that arbitrary model names from clients cannot
 * grow memory without bound; models beyond the cap, and requests that name no model, share the
 * upstream-wide breaker.
 *
 * <p>No thread is started: an open breaker half-opens on the first call after
 * {@link BreakerPolicy#waitInOpen()} has passed on the injected {@link Clock}, so tests drive it
 * with a fake clock. resilience4j lets calls through once the clock is strictly past the instant
 * {@link CircuitOpenException#retryAt()} reports.
 *
 * <p><b>Stale permissions.</b> A request keeps its permission through backoffs and retries, so
 * the breaker may change state before the request's outcome is known. Each breaker counts its
 * state changes ({@link #epoch}); core's {@code Attempts} reads the epoch when it takes the
 * permission and drops an outcome whose epoch has passed instead of reporting it. Dropping, and
 * not {@code releasePermission()}, is right in every state resilience4j (2.x) can be in by then:
 * CLOSED and OPEN do not track permissions ({@code releasePermission} is a no-op there, and an
 * outcome would be counted in a window the request was no part of); HALF_OPEN tracks its trial
 * permissions, and {@code releasePermission} would add one that this half-open state never
 * granted (one more trial than {@link BreakerPolicy#permittedCallsInHalfOpen()}), while
 * {@code onSuccess}/{@code onError} would count the request as trial evidence and could close or
 * reopen the breaker. A permission whose epoch is unchanged is answered as usual, so a genuine
 * trial's permission is never lost.
 *
 * <p>State changes are logged (opening at WARN, half-opening and closing at INFO) and passed to
 * {@link BreakerListener}s. Thread-safe.
 */
public final class ResilientCircuitGuard implements CircuitGuard {

  /** Model names longer than this share the upstream-wide breaker. */
  public static final int MAX_MODEL_NAME_LENGTH = 128;

  private static final Logger log = LoggerFactory.getLogger(ResilientCircuitGuard.class);
  /** What a refused caller is told while trial calls are in flight: their answer comes soon. */
  private static final Duration TRIALS_IN_FLIGHT_RETRY = Duration.ofSeconds(1);
  /**
   * Slow calls are no signal here: a stream may rightly run for minutes, and timeouts arrive as
   * transport errors. resilience4j wants a threshold, so it gets one no call reaches.
   */
  private static final Duration NEVER_SLOW = Duration.ofDays(365L * 100);
  private static final Failure UPSTREAM_FAILURE = new Failure("upstream error");
  private static final Failure TRANSPORT_FAILURE = new Failure("transport error");

  private final BreakerPolicy policy;
  private final Clock clock;
  private final CircuitBreakerConfig config;
  private final Breaker shared;
  private final ConcurrentHashMap<String, Breaker> byModel = new ConcurrentHashMap<>();
  private final AtomicInteger modelBreakers = new AtomicInteger();
  private final AtomicBoolean capLogged = new AtomicBoolean();
  private final CopyOnWriteArrayList<BreakerListener> listeners = new CopyOnWriteArrayList<>();

  private ResilientCircuitGuard(Builder b) {
    this.policy = b.policy;
    this.clock = b.clock;
    this.listeners.addAll(b.listeners);
    this.config = CircuitBreakerConfig.custom()
        .failureRateThreshold((float) policy.failureRateThreshold())
        .slidingWindow(policy.slidingWindowSize(), policy.minimumCalls(),
            CircuitBreakerConfig.SlidingWindowType.COUNT_BASED)
        .waitDurationInOpenState(policy.waitInOpen())
        .permittedNumberOfCallsInHalfOpenState(policy.permittedCallsInHalfOpen())
        .automaticTransitionFromOpenToHalfOpenEnabled(false)
        .slowCallRateThreshold(100.0f)
        .slowCallDurationThreshold(NEVER_SLOW)
        .writableStackTraceEnabled(false)
        .clock(clock)
        .build();
    this.shared = newBreaker(RequestContext.ANY_MODEL);
  }

  /** A guard with this policy on the system clock. */
  public static ResilientCircuitGuard of(BreakerPolicy policy) {
    return builder().policy(policy).build();
  }

  /** Starts a builder with the default policy and the system clock. */
  public static Builder builder() {
    return new Builder();
  }

  // ---------------------------------------------------------------------------------------------
  // CircuitGuard

  /**
   * Asks to make one call for this model.
   *
   * <p>The exception's {@link CircuitOpenException#retryAt() retryAt} is when the breaker opened
   * plus {@link BreakerPolicy#waitInOpen()}; while half-open with every trial call taken it is a
   * second from now (or the wait, if shorter), when the trials will most likely have answered.
   */
  @Override
  public void acquirePermission(String model) {
    if (!policy.enabled()) return;
    Breaker breaker = breakerFor(model, true);
    boolean permitted = breaker.circuitBreaker.tryAcquirePermission();
    observe(breaker);
    if (permitted) return;
    throw new CircuitOpenException(breaker.scope, breaker.retryAt(clock.instant()));
  }

  /**
   * Reports the outcome of a call that {@link #acquirePermission} allowed.
   *
   * <p>Success counts as a success; upstream and transport errors as failures; every other
   * outcome hands its permission back unrecorded. {@code elapsed} may be {@code null}.
   */
  @Override
  public void onOutcome(String model, Outcome outcome, Duration elapsed) {
    Objects.requireNonNull(outcome, "outcome");
    if (!policy.enabled()) return;
    Breaker b = breakerFor(model, true);
    CircuitBreaker breaker = b.circuitBreaker;
    switch (outcome.kind()) {
      case SUCCESS -> breaker.onSuccess(nanos(elapsed), TimeUnit.NANOSECONDS);
      case UPSTREAM_ERROR -> breaker.onError(nanos(elapsed), TimeUnit.NANOSECONDS,
          UPSTREAM_FAILURE);
      case TRANSPORT_ERROR -> breaker.onError(nanos(elapsed), TimeUnit.NANOSECONDS,
          TRANSPORT_FAILURE);
      case RATE_LIMITED, CLIENT_ERROR, KEY_REJECTED, CANCELLED -> breaker.releasePermission();
    }
    observe(b);
  }

  /**
   * The state of the breaker that guards this model.
   *
   * <p>A model that has no breaker yet reports {@code CLOSED} without one being created. An open
   * breaker whose wait has passed still reports {@code OPEN} until the next call half-opens it.
   */
  @Override
  public State state(String model) {
    if (!policy.enabled()) return State.CLOSED;
    Breaker breaker = breakerFor(model, false);
    return breaker == null ? State.CLOSED : map(breaker.circuitBreaker.getState());
  }

  /**
   * Which period of the breaker that guards this model it is in: a value that changes whenever
   * that breaker changes state (or is reset), and only then (see {@link CircuitGuard#epoch}).
   *
   * <p>The breaker's count of state changes (as observed after each call, and each
   * {@link #reset()}), combined with its current state, so that a change not observed yet shows
   * too. A model that has no breaker yet reports what a new breaker would.
   */
  @Override
  public long epoch(String model) {
    if (!policy.enabled()) return 0;
    Breaker breaker = breakerFor(model, false);
    if (breaker == null) return CircuitBreaker.State.CLOSED.ordinal();
    observe(breaker);
    return (breaker.transitions.get() << 3) | breaker.circuitBreaker.getState().ordinal();
  }

  /**
   * While the breaker that guards this model is not closed, when it will let calls through again;
   * empty while it is closed. Asks without taking a permission.
   *
   * <p>Open: when it opened plus {@link BreakerPolicy#waitInOpen()}. Half-open: as for a refused
   * {@link #acquirePermission} (a second from now, or the wait if shorter). A model whose breaker
   * does not exist yet is closed.
   */
  @Override
  public Optional<Instant> openUntil(String model) {
    if (!policy.enabled()) return Optional.empty();
    Breaker breaker = breakerFor(model, false);
    if (breaker == null || breaker.circuitBreaker.getState() == CircuitBreaker.State.CLOSED) {
      return Optional.empty();
    }
    return Optional.of(breaker.retryAt(clock.instant()));
  }

  // ---------------------------------------------------------------------------------------------
  // Beyond the interface

  /**
   * The scope whose breaker guards this model: the model itself when it has (or would get) its own
   * breaker, else {@value RequestContext#ANY_MODEL}.
   */
  public String scopeOf(String model) {
    if (!policy.perModel() || sharesUpstreamBreaker(model)) return RequestContext.ANY_MODEL;
    if (byModel.containsKey(model)) return model;
    return modelBreakers.get() >= policy.maxModelBreakers() ? RequestContext.ANY_MODEL : model;
  }

  /** The scopes that have a breaker: {@value RequestContext#ANY_MODEL} first, then models A-Z. */
  public List<String> scopes() {
    List<String> models = new ArrayList<>(byModel.keySet());
    Collections.sort(models);
    models.add(0, RequestContext.ANY_MODEL);
    return Collections.unmodifiableList(models);
  }

  /** Closes every breaker and forgets the calls it recorded. For operators. */
  public void reset() {
    shared.circuitBreaker.reset();
    shared.transitions.incrementAndGet(); // a new window even when it was closed already
    observe(shared);
    byModel.values().forEach(b -> {
      b.circuitBreaker.reset();
      b.transitions.incrementAndGet();
      observe(b);
    });
  }

  /** Adds a listener to the existing ones; close the returned handle to remove it. */
  public Subscription addListener(BreakerListener listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** The policy this guard runs. */
  public BreakerPolicy policy() {
    return policy;
  }

  @Override
  public String toString() {
    return "ResilientCircuitGuard{breakers=" + (1 + byModel.size()) + ", " + policy + '}';
  }

  // ---------------------------------------------------------------------------------------------
  // Internals

  private static boolean sharesUpstreamBreaker(String model) {
    return model == null || model.isBlank() || RequestContext.ANY_MODEL.equals(model)
        || model.length() > MAX_MODEL_NAME_LENGTH;
  }

  /**
   * The breaker for a model. When {@code create} is false and the model would get a breaker of
   * its own that does not exist yet, returns {@code null}.
   */
  private Breaker breakerFor(String model, boolean create) {
    if (!policy.perModel() || sharesUpstreamBreaker(model)) return shared;
    Breaker breaker = byModel.get(model);
    if (breaker != null) return breaker;
    int cap = policy.maxModelBreakers();
    if (modelBreakers.get() >= cap) {
      logCapOnce();
      return shared;
    }
    if (!create) return null;
    // The map never shrinks, so once a model is refused a breaker it is refused for good, and
    // acquirePermission and onOutcome always agree on the breaker a model uses.
    breaker = byModel.computeIfAbsent(model, m -> {
      if (modelBreakers.incrementAndGet() > cap) {
        modelBreakers.decrementAndGet();
        return null;
      }
      return newBreaker(m);
    });
    if (breaker == null) {
      logCapOnce();
      return shared;
    }
    return breaker;
  }

  private void logCapOnce() {
    if (capLogged.compareAndSet(false, true)) {
      log.warn("{} per-model circuit breakers exist, the most max-model-breakers allows; further"
          + " models share the upstream-wide breaker", policy.maxModelBreakers());
    }
  }

  private Breaker newBreaker(String scope) {
    // No event consumer on the breaker: with one registered, resilience4j builds an event object
    // for every recorded call. Transitions are observed after each call instead (observe).
    return new Breaker(scope, CircuitBreaker.of(scope, config));
  }

  /**
   * Notices a state change of the breaker since it was last looked at: one volatile read per
   * call, and a CAS so that only one of several racing callers reports a transition.
   */
  private void observe(Breaker breaker) {
    CircuitBreaker.State seen = breaker.seen;
    CircuitBreaker.State now = breaker.circuitBreaker.getState();
    if (now != seen && SEEN.compareAndSet(breaker, seen, now)) {
      breaker.transitions.incrementAndGet();
      onTransition(breaker, seen, now);
    }
  }

  private void onTransition(Breaker breaker, CircuitBreaker.State rawFrom,
      CircuitBreaker.State rawTo) {
    try {
      State from = map(rawFrom);
      State to = map(rawTo);
      Instant now = clock.instant();
      Instant retryAt = rawTo == CircuitBreaker.State.OPEN ? now.plus(policy.waitInOpen()) : null;
      breaker.retryAt = retryAt;
      if (from == to) return;
      float failureRate = to == State.HALF_OPEN ? -1f
          : breaker.circuitBreaker.getMetrics().getFailureRate();
      logTransition(breaker, from, to, retryAt, failureRate);
      fire(new BreakerTransition(breaker.scope, from, to, retryAt, failureRate, now));
    } catch (RuntimeException e) {
      log.warn("could not follow a state change of circuit breaker {}", breaker.scope, e);
    }
  }

  private void logTransition(Breaker breaker, State from, State to, Instant retryAt,
      float failureRate) {
    String what = describe(breaker.scope);
    switch (to) {
      case OPEN -> {
        if (from == State.HALF_OPEN) {
          log.warn("upstream circuit for {} opened again: trial calls failed ({}% of {}); failing"
              + " fast until {}", what, percent(failureRate),
              breaker.circuitBreaker.getMetrics().getNumberOfBufferedCalls(), retryAt);
        } else {
          log.warn("upstream circuit for {} opened: {}% of the last {} calls failed (threshold"
              + " {}%); failing fast until {}", what, percent(failureRate),
              breaker.circuitBreaker.getMetrics().getNumberOfBufferedCalls(),
              percent((float) policy.failureRateThreshold()), retryAt);
        }
      }
      case HALF_OPEN -> log.info("upstream circuit for {} half-open: letting {} trial calls"
          + " through", what, policy.permittedCallsInHalfOpen());
      case CLOSED -> log.info("upstream circuit for {} closed{}", what,
          from == State.HALF_OPEN ? ": trial calls succeeded" : "");
    }
  }

  private static String percent(float rate) {
    return rate == Math.rint(rate) ? Integer.toString((int) rate)
        : String.format(Locale.ROOT, "%.1f", rate);
  }

  private static String describe(String scope) {
    return RequestContext.ANY_MODEL.equals(scope) ? "all models" : "model " + scope;
  }

  private void fire(BreakerTransition transition) {
    for (BreakerListener listener : listeners) {
      try {
        listener.onStateChange(transition);
      } catch (RuntimeException e) {
        log.warn("breaker listener {} failed on {} -> {} of {}; ignored",
            listener.getClass().getName(), transition.from(), transition.to(), transition.scope(),
            e);
      }
    }
  }

  static State map(CircuitBreaker.State state) {
    return switch (state) {
      case OPEN, FORCED_OPEN -> State.OPEN;
      case HALF_OPEN -> State.HALF_OPEN;
      case CLOSED, DISABLED, METRICS_ONLY -> State.CLOSED;
    };
  }

  private static long nanos(Duration elapsed) {
    if (elapsed == null || elapsed.isNegative()) return 0;
    try {
      return elapsed.toNanos();
    } catch (ArithmeticException e) {
      return Long.MAX_VALUE;
    }
  }

  private static final VarHandle SEEN;

  static {
    try {
      SEEN = MethodHandles.privateLookupIn(Breaker.class, MethodHandles.lookup())
          .findVarHandle(Breaker.class, "seen", CircuitBreaker.State.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  /** One breaker and the instant it will half-open. */
  private final class Breaker {
    final String scope;
    final CircuitBreaker circuitBreaker;
    /** While open: when trial calls will be let through. Written when the opening is observed. */
    volatile Instant retryAt;
    /** The state last observed; see {@link #observe}. */
    volatile CircuitBreaker.State seen = CircuitBreaker.State.CLOSED;
    /** State changes observed, and resets: the breaker's {@link #epoch}. */
    final AtomicLong transitions = new AtomicLong();

    Breaker(String scope, CircuitBreaker circuitBreaker) {
      this.scope = scope;
      this.circuitBreaker = circuitBreaker;
    }

    Instant retryAt(Instant now) {
      return switch (circuitBreaker.getState()) {
        case OPEN -> {
          Instant r = retryAt;
          // null only in the instant between opening and the opening being observed
          yield r != null ? r : now.plus(policy.waitInOpen());
        }
        case HALF_OPEN -> now.plus(policy.waitInOpen().compareTo(TRIALS_IN_FLIGHT_RETRY) < 0
            ? policy.waitInOpen() : TRIALS_IN_FLIGHT_RETRY);
        default -> now.plus(policy.waitInOpen());
      };
    }
  }

  /** What the breaker records as the cause of a failed call. Shared, so it has no stack trace. */
  private static final class Failure extends RuntimeException {
    Failure(String message) {
      super(message, null, false, false);
    }
  }

  /** Builds a {@link ResilientCircuitGuard}. Not thread-safe. */
  public static final class Builder {
    private BreakerPolicy policy = BreakerPolicy.defaults();
    private Clock clock = Clock.systemUTC();
    private final List<BreakerListener> listeners = new ArrayList<>();

    private Builder() {
    }

    public Builder policy(BreakerPolicy policy) {
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /** The time source of the breakers; tests pass a fake clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Adds a listener for state changes. */
    public Builder listener(BreakerListener listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    public ResilientCircuitGuard build() {
      return new ResilientCircuitGuard(this);
    }
  }
}
