package dev.geminirotator.core.internal.exchange;

import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.affinity.Affinity;
import dev.geminirotator.core.internal.affinity.Placement;
import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import dev.geminirotator.core.attempt.Attempts;
import java.io.IOException;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.time.Instant;
import java.util.Objects;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request's loop state and steps, shared by {@link GeminiExchange}'s blocking and
 * asynchronous entry points, which only drive it: {@link #begin} before an attempt, {@link
 * #onAnswer} or {@link #onFailure} after it, {@link #answer} at the end. Its steps run one at a
 * time (the async ones in sequence); {@link #current} is read by a cancel from another thread.
 */
final class ExchangeRun<R> {

  private static final Logger log = LoggerFactory.getLogger(ExchangeRun.class);
  /** {@link #reserved}, taken with getAndSet: a field, not an AtomicReference object per call. */
  private static final VarHandle RESERVED;

  static {
    try {
      RESERVED = MethodHandles.lookup().findVarHandle(ExchangeRun.class, "reserved",
          KeyLease.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final GeminiExchange exchange;
  final GeminiRequest request;
  final Transport<R> transport;
  final Attempts attempts;
  private RequestContext context;
  private Placement placement = Placement.ANY;
  private boolean discovering;

  volatile Attempt current;
  /**
   * The guard's permission and a key taken for the next attempt before a partly read failed
   * answer was dropped ({@link Transport#peekedWhole}); released if the loop ends without it.
   */
  private volatile KeyLease reserved;
  /** The last failed answer, kept as the caller's possible final answer. */
  private R kept;
  /** Whether {@link #kept} is a discovery miss (a project's 403/404). */
  private boolean keptMiss;
  /** Or the last transport failure. */
  private IOException lastFailure;

  // How the loop ended, or what the next step waits.
  private R result;
  private IOException thrown;
  private LocalAnswer local;
  long delayNanos;

  ExchangeRun(GeminiExchange exchange, GeminiRequest request, boolean replayable,
      Transport<R> transport) {
    this.exchange = exchange;
    this.request = request;
    this.transport = transport;
    this.attempts = exchange.policy().newAttempts(exchange.guard(), request.model(),
        replayable);
    this.context = exchange.firstContext(request);
  }

  /** Applies the placement; false when it already decided the answer (unreachable). */
  boolean start(Placement placement) {
    this.placement = Objects.requireNonNull(placement, "placement");
    if (placement instanceof Placement.Unreachable u) {
      local = unreachable(u);
      return false;
    }
    discovering = placement instanceof Placement.Discover;
    context = placement.narrow(context);
    return true;
  }

  /**
   * Before an attempt: guard permission, then a key. True with {@link #current} set when there
   * is a key to send with; false when the loop ended (its answer is set).
   */
  boolean begin() {
    current = null;
    KeyLease secured = takeReserved();
    if (secured != null) { // permission and key were taken when the last answer was dropped
      current = new Attempt(this, secured);
      return true;
    }
    // The guard first: a call it fails fast must not spend a key's quota permit.
    try {
      attempts.acquirePermission();
    } catch (CircuitOpenException e) {
      settle();
      if (!endWithLast()) local = circuitOpen(e);
      return false;
    }
    KeyLease lease;
    try {
      lease = exchange.rotator().acquire(context);
    } catch (NoKeyAvailableException e) {
      attempts.handBack(); // the permission, unused
      settle();
      if (keptMiss && e.earliestAvailable().isEmpty()) {
        notFound(); // every project that could be asked was: none holds it
        result = passKept(-1);
        return false;
      }
      if (keptMiss) {
        // Projects not asked yet are only cooling down: the resource may be theirs, so the
        // caller gets the pool's answer (429 and when to retry), never a 404.
        local = noKey(e);
        return false;
      }
      if (!endWithLast()) local = noKey(e);
      return false;
    } catch (RuntimeException | Error e) {
      attempts.handBack();
      throw e;
    }
    current = new Attempt(this, lease);
    return true;
  }

  /**
   * After a key's own failure (rate-limited, rejected) the caller gets the pool's answer, never
   * that key's; after an upstream or transport error, that failure. True when the latter.
   */
  private boolean endWithLast() {
    if (attempts.answerFromPool()) return false;
    if (kept != null) {
      result = passKept(retryAfter(transport.status(kept), kept));
      return true;
    }
    if (lastFailure != null) {
      thrown = lastFailure;
      return true;
    }
    return false;
  }

  /** The attempt's answer arrived: true when the loop ended, else {@link #delayNanos} is set. */
  boolean onAnswer(R response) {
    Attempt attempt = current;
    int code = transport.status(response);
    if (code >= 200 && code < 300) {
      if (!transport.fromUpstream(response)) {
        attempt.complete(Outcome.cancelled()); // from a cache: the key was not used
        result = transport.pass(response, attempt, -1);
        return true;
      }
      attempts.served(attempt.elapsed()); // failed attempts before this one were recovered
      if (exchange.affinity() != Affinity.NONE) {
        Function<String, String> headers = name -> transport.header(response, name);
        learnFromHead(attempt, code, headers);
        attempt.serving(code, headers, exchange.affinity().readsAnswer(request));
      }
      result = transport.serve(response, attempt);
      return true;
    }
    String peek = GeminiExchange.readsErrorBody(code) ? transport.peek(response) : null;
    Outcome outcome = transport.cancelled() ? Outcome.cancelled()
        : exchange.classifier().classify(code, name -> transport.header(response, name), peek,
            attempt.key());
    boolean notHeld = (code == 403 || code == 404) && outcome.kind() == Outcome.Kind.CLIENT_ERROR;
    if (notHeld && discovering
        && DiscoveryRules.isMiss(request, resource(), peek)) {
      return miss(attempt, response);
    }
    Decision decision = attempt.decide(outcome);
    if (notHeld && placement instanceof Placement.Pinned p
        && DiscoveryRules.isExactOwnPath(request, p.resource())) {
      misplaced(attempt, p.resource()); // the pin was wrong, or the resource is gone
    }
    boolean more = decision.retries() && !(discovering
        && attempts.calls() >= exchange.policy().maxDiscoveryAttempts());
    if (!more) {
      settle();
      result = transport.pass(response, attempt, retryAfter(code, response));
      return true;
    }
    if (!transport.peekedWhole(response)) {
      RuntimeException refused = reserveNext(attempt);
      if (refused != null) { // no next attempt: this answer is the last, and it is still whole
        settle(); // before the pool's advice is read: it sees the breaker this request leaves
        if (attempts.answerFromPool()) { // after a key's own failure: the pool's, never its
          transport.discard(response);
          local = refused instanceof CircuitOpenException e ? circuitOpen(e)
              : noKey((NoKeyAvailableException) refused);
          return true;
        }
        result = transport.pass(response, attempt, retryAfter(code, response));
        return true;
      }
    }
    keep(transport.keep(response, attempt), false);
    logRetry(attempt, outcome, decision);
    next(attempt, decision);
    return false;
  }

  /**
   * Takes the guard's permission and a key for the attempt after {@code failed}, in {@link
   * #begin}'s order; the refusal when there is none to be had now.
   */
  private RuntimeException reserveNext(Attempt failed) {
    try {
      attempts.acquirePermission();
    } catch (CircuitOpenException e) {
      return e;
    }
    try {
      reserved = exchange.rotator().acquire(context.excluding(failed.key().id()));
      return null;
    } catch (NoKeyAvailableException e) {
      attempts.handBack(); // the permission, unused
      return e;
    } catch (RuntimeException | Error e) {
      attempts.handBack();
      throw e;
    }
  }

  /** The reservation, taken atomically (a cancel may race the loop for it), or null. */
  private KeyLease takeReserved() {
    return (KeyLease) RESERVED.getAndSet(this, null);
  }

  /** Gives back a reservation the loop ended without using: no attempt, nobody blamed. */
  void releaseReserved() {
    KeyLease lease = takeReserved();
    if (lease != null) {
      lease.complete(Outcome.cancelled());
      attempts.handBack();
    }
  }

  /**
   * A project answered 403/404 for the resource being discovered: it does not hold it. The key
   * is released unblamed; the next project is asked while the bound allows.
   */
  private boolean miss(Attempt attempt, R response) {
    attempt.release();
    boolean more = attempts.missed();
    keep(transport.keep(response, attempt), true);
    if (log.isDebugEnabled()) {
      log.debug("project {} does not hold {} (key {}); {}", attempt.key().project(),
          resource(), attempt.key().id(), more ? "asking the next project" : "bound reached");
    }
    if (!more || transport.cancelled()) {
      settle();
      result = passKept(-1);
      return true;
    }
    context = context.skippingProject(attempt.key().project()).excluding(attempt.key().id());
    delayNanos = 0;
    return false;
  }

  /** The attempt failed below HTTP: true when the loop ended, else {@link #delayNanos} is set. */
  boolean onFailure(IOException failure) {
    Attempt attempt = current;
    Outcome outcome = transport.cancelled() ? Outcome.cancelled()
        : exchange.classifier().classifyTransportFailure(failure);
    Decision decision = attempt.decide(outcome); // cancelled: RETURN
    if (!decision.retries()) {
      settle();
      thrown = failure;
      return true;
    }
    keep(null, false);
    lastFailure = failure;
    logRetry(attempt, outcome, decision);
    next(attempt, decision);
    return false;
  }

  /** The backoff could not be waited out (cancelled, past the deadline): the last failure. */
  void giveUp() {
    settle();
    if (kept != null) {
      result = passKept(keptMiss ? -1 : retryAfter(transport.status(kept), kept));
    } else {
      thrown = lastFailure;
    }
  }

  private void next(Attempt attempt, Decision decision) {
    context = context.excluding(attempt.key().id());
    delayNanos = decision.delay().toNanos();
  }

  private void keep(R answer, boolean miss) {
    if (kept != null) transport.discard(kept);
    kept = answer;
    keptMiss = miss && answer != null;
    lastFailure = null;
  }

  /**
   * Hands the kept answer to the caller: from here it is the caller's (a transport may wrap it,
   * sharing its body), so the run no longer owns it and never discards it.
   */
  private R passKept(long retryAfterSeconds) {
    R k = kept;
    kept = null;
    keptMiss = false;
    return transport.passKept(k, retryAfterSeconds);
  }

  /**
   * The transport threw while the loop handed {@code response} on: discards it (and the kept
   * one) so its connection is not leaked, never masking the transport's exception.
   */
  void discardAfterFailure(R response) {
    try {
      if (response != kept) transport.discard(response);
      discardKept();
    } catch (RuntimeException | Error e) {
      log.debug("could not discard an answer after the transport failed", e);
    }
  }

  /** Discards the kept answer, if any: nobody will read it. */
  void discardKept() {
    R k = kept;
    kept = null;
    if (k != null) transport.discard(k);
  }

  /** The answer the loop ended with, rendered by the transport. */
  R answer() throws IOException {
    releaseReserved();
    discardKept(); // still owned: a later attempt answered, or the loop answered locally
    if (local != null) return transport.local(local);
    if (thrown != null) throw thrown;
    return result;
  }

  /**
   * A success's head arrived: the affinity learns what the headers say, and, under discovery,
   * the owner when this answer proves it ({@link DiscoveryRules#provesOwnership}). Only the
   * discovered resource is pinned, never another one the request happens to name.
   */
  private void learnFromHead(Attempt attempt, int code, Function<String, String> headers) {
    Affinity affinity = exchange.affinity();
    try {
      affinity.answered(request, attempt.key(), code, headers);
      if (discovering && DiscoveryRules.provesOwnership(request, resource())) {
        affinity.discovered(request, resource(), attempt.key());
      }
    } catch (RuntimeException e) {
      log.warn("affinity {} failed to learn from the head of the answer to {} {}", affinity,
          request.method(), request.route(), e);
    }
  }

  private void misplaced(Attempt attempt, ResourceRef resource) {
    try {
      exchange.affinity().misplaced(request, resource, attempt.key());
    } catch (RuntimeException e) {
      log.warn("affinity {} failed to drop a wrong pin", exchange.affinity(), e);
    }
  }

  /** A success's body ended well: the affinity learns from it. */
  void served(Attempt attempt) {
    Affinity affinity = exchange.affinity();
    if (affinity == Affinity.NONE || attempt.headers() == null) return;
    try {
      affinity.served(request, attempt.key(), attempt.status(), attempt.headers(),
          attempt.teedBytes());
    } catch (RuntimeException e) {
      log.warn("affinity {} failed to learn from the answer to {} {}", affinity,
          request.method(), request.route(), e);
    }
  }

  private void notFound() {
    try {
      exchange.affinity().notFound(request, resource());
    } catch (RuntimeException e) {
      log.warn("affinity {} failed to note a resource no project holds", exchange.affinity(), e);
    }
  }

  private ResourceRef resource() {
    return placement instanceof Placement.Discover d ? d.resource() : null;
  }

  /** Reports the request to the breaker now that its answer is chosen. */
  private void settle() {
    attempts.finish(transport.cancelled());
  }

  /**
   * The {@code Retry-After} for an upstream 429 or 503 passed on, else -1: the pool's, or under
   * {@link Placement.Pinned} and {@link Placement.PinnedKey} the pinned project's (key's), since
   * no other key may serve this request.
   */
  private long retryAfter(int code, R response) {
    if (code != 429 && code != 503) return -1;
    Function<String, String> headers = name -> transport.header(response, name);
    RetryAdvice advice = placement instanceof Placement.Pinned
        || placement instanceof Placement.PinnedKey
        ? RetryAdvice.of(exchange.rotator(), exchange.guard(),
            placement.narrow(request.context()), exchange.clock())
        : RetryAdvice.of(exchange.rotator(), exchange.guard(), request.model(), exchange.clock());
    return advice.forUpstream(code, headers);
  }

  private LocalAnswer circuitOpen(CircuitOpenException e) {
    return new LocalAnswer(LocalAnswer.Kind.CIRCUIT_OPEN, RetryAdvice.UNAVAILABLE_STATUS,
        e.getMessage(), RetryAdvice.breakerOpen(e.retryAt(), exchange.clock()).seconds(), e);
  }

  /** The answer when the rotator has no key: the pool's, or the pinned project's. */
  private LocalAnswer noKey(NoKeyAvailableException e) {
    RetryAdvice advice = RetryAdvice.of(e, exchange.guard(), exchange.clock());
    int status = advice.noKeyStatus();
    String when = advice.operatorNeeded()
        ? "none of them frees up by itself; only an operator can help (reset or enable one, or"
            + " add a key of that project)"
        : "the next one frees at " + advice.at().map(Instant::toString).orElse("?");
    if (placement instanceof Placement.Pinned p) {
      return new LocalAnswer(LocalAnswer.Kind.NO_KEY_FOR_PROJECT, status,
          "no usable key in project " + p.project() + ", which holds " + p.resource().name()
              + " (only its keys can see it): " + when, advice.seconds(), e);
    }
    if (placement instanceof Placement.PinnedKey p) {
      return new LocalAnswer(LocalAnswer.Kind.NO_KEY_FOR_PROJECT, status,
          "key " + p.keyId() + ", which started " + p.resource().name()
              + " (only it can continue it), is not usable now: "
              + (advice.operatorNeeded() ? "only an operator can help"
                  : "it frees at " + advice.at().map(Instant::toString).orElse("?")),
          advice.seconds(), e);
    }
    return new LocalAnswer(LocalAnswer.Kind.NO_KEY, status, e.getMessage(), advice.seconds(),
        e);
  }

  private LocalAnswer unreachable(Placement.Unreachable u) {
    long seconds = u.retryAt() == null ? -1 : RetryAdvice.secondsUntil(u.retryAt(),
        exchange.clock());
    return new LocalAnswer(LocalAnswer.Kind.UNREACHABLE, 404,
        u.resource().name() + " was not found in any project of the pool"
            + (u.retryAt() == null ? "" : "; asked again after " + u.retryAt()),
        seconds, null);
  }

  private void logRetry(Attempt attempt, Outcome outcome, Decision decision) {
    transport.retrying(outcome);
    if (log.isDebugEnabled()) {
      log.debug("attempt {} for model {} with key {} ended {}: {}", attempts.made(),
          request.model(), attempt.key().id(), outcome.kind(), decision);
    }
  }
}
