package dev.geminirotator.core.exchange;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.affinity.Affinity;
import dev.geminirotator.core.affinity.Placement;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import dev.geminirotator.core.attempt.Attempts;
import dev.geminirotator.core.attempt.RetryAdvice;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one attempt loop of a Gemini call, shared by every transport, with a blocking entry point
 * ({@link #execute}) and an asynchronous one ({@link #executeAsync}), as Failsafe offers
 * {@code get} and {@code getAsync}. A transport supplies only "send this request with this key"
 * and "hand the answer on" ({@link Transport}); everything else happens here, per attempt:
 *
 * <ol>
 *   <li><b>place</b>: {@link Affinity#place} says which keys may serve (any, one project, one key,
 *       discover the owner, unreachable), before the first attempt; the asynchronous entry calls it
 *       off the caller's thread when {@link Affinity#mayBlock};
 *   <li><b>permission</b>: the {@link CircuitGuard}, through the request's {@link Attempts};
 *   <li><b>acquire</b> a key under the placement's constraint;
 *   <li><b>send</b> (the transport's only job);
 *   <li><b>classify</b> with the {@link GeminiClassifier}, from the status, the headers and, for the
 *       statuses {@link #readsErrorBody} lists, a peek of the error body;
 *   <li><b>complete the lease</b> and report to the guard exactly once (via {@link Attempts});
 *   <li><b>decide</b>: return, retry now on another key, retry after a backoff, stop.
 * </ol>
 *
 * <p>A success's body streams to the caller untouched; the transport reports its end to the
 * {@link Attempt}, which completes the lease and tells the affinity what the answer taught
 * ({@link Affinity#served}, with the first {@link Affinity#MAX_ANSWER_BYTES} of the body when
 * {@link Affinity#readsAnswer}). When the loop ends without a usable answer the caller gets one
 * of the exchange's own ({@link LocalAnswer}): the pool's (429 with {@code Retry-After} from
 * {@link RetryAdvice}, 503 when only an operator can help), the breaker's (503), the pinned
 * project's (429 or 503 naming the project and when a key frees up), or, for a resource no
 * project holds, 404. After an upstream or transport error it gets that last failure instead;
 * after a key's own failure (rate-limited, rejected) never that key's answer but the pool's.
 *
 * <p><b>Discovery</b> ({@link Placement.Discover}, a resource not created through this pool): the
 * loop asks one key per project. A 404, or a 403 the classifier does not blame on the key (no
 * key-level {@code ErrorInfo} reason: {@link GeminiClassifier}), moves on to the next project
 * ({@link RequestContext#skippingProject}); the key's lease completes as cancelled (no failure,
 * no success for its health), the breaker hears that Gemini answered, and {@link
 * AttemptPolicy#maxAttempts()} is not spent. The request makes at most {@link
 * AttemptPolicy#maxDiscoveryAttempts()} upstream calls while discovering (so a client naming
 * random resources on a pool of hundreds of projects costs at most that many calls per request).
 * When no project is left the affinity hears {@link Affinity#notFound} (only when the rotator has
 * no key left that could be asked later) and the caller gets the last 403/404 as Gemini gave it,
 * scrubbed; when the bound stops it, the same answer without {@code notFound}. A success lets the
 * affinity pin the resource ({@link Affinity#served}). Under {@link Placement.Pinned} and {@link
 * Placement.PinnedKey} a 403/404 is the client's answer, as any client error. The rule is from
 * docs/gemini-resources.md, section 9 ("Which error does a key of another project get?"): a key
 * of another project gets 403 PERMISSION_DENIED or 404 NOT_FOUND for a resource (Google answers
 * 403 for "denied or does not exist", so such a 403 says nothing about the key), and key-level
 * 403s carry a {@code google.rpc.ErrorInfo} reason (https://ai.google.dev/api/files,
 * https://cloud.google.com/apis/design/errors).
 *
 * <p>Backoffs: the blocking entry sleeps in short steps, watching for the caller's cancel and
 * deadline; the asynchronous entry schedules the next attempt on the caller's scheduler (the
 * proxy passes its event loop) and never holds a thread.
 *
 * <p>Immutable and thread-safe: one instance serves every call of a transport.
 */
public final class GeminiExchange {

  private static final Logger log = LoggerFactory.getLogger(GeminiExchange.class);
  /** How long a blocking backoff sleeps before it looks at the caller again. */
  private static final long PAUSE_STEP_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  private final KeyRotator rotator;
  private final CircuitGuard guard;
  private final AttemptPolicy policy;
  private final GeminiClassifier classifier;
  private final Affinity affinity;
  private final Clock clock;
  private final Executor placer;

  private GeminiExchange(Builder b) {
    this.rotator = b.rotator;
    this.clock = b.clock;
    this.guard = b.guard != null ? b.guard : ResilientCircuitGuard.builder().clock(b.clock).build();
    this.policy = b.policy;
    this.classifier = b.classifier != null ? b.classifier
        : GeminiClassifier.builder().clock(b.clock).build();
    this.affinity = b.affinity;
    this.placer = b.placer;
  }

  /** Starts a builder; the rotator must be set. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Whether the classifier needs a peek of the error body for this status: a credential, quota
   * or upstream answer whose body says whose fault it is. The one list every transport follows.
   */
  public static boolean readsErrorBody(int status) {
    return status == 400 || status == 401 || status == 403 || status == 429 || status == 408
        || status >= 500;
  }

  public KeyRotator rotator() {
    return rotator;
  }

  public CircuitGuard guard() {
    return guard;
  }

  public AttemptPolicy policy() {
    return policy;
  }

  public GeminiClassifier classifier() {
    return classifier;
  }

  public Affinity affinity() {
    return affinity;
  }

  public Clock clock() {
    return clock;
  }

  // ---------------------------------------------------------------------------------------------
  // Blocking

  /**
   * Runs the request to its answer on the caller's thread: blocks in {@link
   * Transport.Blocking#send} and in backoffs.
   *
   * @param replayable whether the request body can be sent again; if not, one attempt only
   * @return the answer for the caller: a served success (its body still streaming), an upstream
   *     answer passed on, or the transport's rendering of a {@link LocalAnswer}
   * @throws IOException the last transport failure, or what {@link Transport#local} throws
   */
  public <R> R execute(GeminiRequest request, boolean replayable, Transport.Blocking<R> transport)
      throws IOException {
    Run<R> run = new Run<>(this, request, replayable, transport);
    try {
      if (run.start(affinity.place(request))) {
        while (run.begin()) {
          R response;
          try {
            response = transport.send(run.current.key());
          } catch (IOException e) {
            if (run.onFailure(e)) break;
            if (!pause(transport, run.delayNanos)) {
              run.giveUp();
              break;
            }
            continue;
          } catch (RuntimeException | Error e) {
            run.current.complete(Outcome.cancelled()); // a bug below us, not the key's doing
            throw e;
          }
          boolean done;
          try {
            done = run.onAnswer(response);
          } catch (RuntimeException | Error e) {
            run.current.complete(Outcome.cancelled()); // the transport failed handing it on
            throw e;
          }
          if (done) break;
          if (!pause(transport, run.delayNanos)) {
            run.giveUp();
            break;
          }
        }
      }
    } finally {
      run.attempts.finish(transport.cancelled()); // the breaker hears the request once
    }
    return run.answer();
  }

  /**
   * Waits out a backoff in short steps, watching the caller. False, without waiting, when the
   * caller cancelled or the wait would end past its deadline.
   */
  private static boolean pause(Transport.Blocking<?> transport, long waitNanos)
      throws InterruptedIOException {
    if (transport.cancelled()) return false;
    if (waitNanos <= 0) return true;
    long end = System.nanoTime() + waitNanos;
    long deadline = transport.deadlineNanos();
    if (deadline != 0 && end - deadline >= 0) {
      return false; // the caller would time out while we wait: hand it the last failure now
    }
    for (long left = waitNanos; left > 0; left = end - System.nanoTime()) {
      try {
        TimeUnit.NANOSECONDS.sleep(Math.min(left, PAUSE_STEP_NANOS));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while backing off before the next attempt");
      }
      if (transport.cancelled()) return false;
    }
    return true;
  }

  // ---------------------------------------------------------------------------------------------
  // Asynchronous

  /**
   * Runs the request without holding a thread: each attempt starts when the previous one's stage
   * completes (on whatever thread completes it, the proxy's event loop), backoffs are scheduled
   * on {@code scheduler}, and {@link Affinity#place} runs on the builder's {@linkplain
   * Builder#placer placer} when {@link Affinity#mayBlock}. Cancelling the returned future stops
   * the loop: no further attempt is made, the attempt in flight completes its lease as cancelled,
   * and an answer arriving afterwards is {@linkplain Transport#discard discarded}. A served
   * success's body keeps reporting its end to its {@link Attempt}.
   *
   * @param replayable whether the request body can be sent again; if not, one attempt only
   * @param scheduler where backoffs are scheduled and attempts after them run
   * @return completes with the answer for the caller, or exceptionally with the last transport
   *     failure (an {@link IOException}) or what {@link Transport#local} throws
   */
  public <R> CompletableFuture<R> executeAsync(GeminiRequest request, boolean replayable,
      Transport.Async<R> transport, ScheduledExecutorService scheduler) {
    Objects.requireNonNull(scheduler, "scheduler");
    AsyncRun<R> run = new AsyncRun<>(new Run<>(this, request, replayable, transport), scheduler);
    run.future.whenComplete((r, e) -> {
      if (run.future.isCancelled()) run.cancel();
    });
    if (affinity.mayBlock(request)) {
      try {
        placer.execute(() -> {
          Placement placement;
          try {
            placement = affinity.place(request);
          } catch (RuntimeException | Error e) {
            run.fail(e);
            return;
          }
          scheduler.execute(() -> run.start(placement));
        });
      } catch (RuntimeException e) { // rejected
        run.fail(e);
      }
    } else {
      try {
        run.start(affinity.place(request));
      } catch (RuntimeException | Error e) {
        run.fail(e);
      }
    }
    return run.future;
  }

  /** One asynchronous request: each step runs after the previous one's stage completed. */
  private static final class AsyncRun<R> {
    final Run<R> run;
    final ScheduledExecutorService scheduler;
    final CompletableFuture<R> future = new CompletableFuture<>();
    volatile boolean cancelled;

    AsyncRun(Run<R> run, ScheduledExecutorService scheduler) {
      this.run = run;
      this.scheduler = scheduler;
    }

    void start(Placement placement) {
      if (future.isDone()) return;
      if (!run.start(placement)) {
        finish();
        return;
      }
      step();
    }

    void step() {
      if (cancelled || future.isDone()) return;
      boolean sending;
      try {
        sending = run.begin();
      } catch (RuntimeException | Error e) {
        fail(e);
        return;
      }
      if (!sending) {
        finish();
        return;
      }
      Attempt attempt = run.current;
      Transport.Async<R> transport = (Transport.Async<R>) run.transport;
      java.util.concurrent.CompletionStage<R> stage;
      try {
        stage = transport.send(attempt.key());
      } catch (RuntimeException | Error e) {
        attempt.complete(Outcome.cancelled());
        fail(e);
        return;
      }
      stage.whenComplete((response, error) -> onSent(attempt, response, error));
    }

    private void onSent(Attempt attempt, R response, Throwable error) {
      if (cancelled || future.isDone()) {
        attempt.complete(Outcome.cancelled());
        if (response != null) run.transport.discard(response);
        return;
      }
      boolean done;
      try {
        if (error != null) {
          Throwable cause = error instanceof CompletionException && error.getCause() != null
              ? error.getCause() : error;
          if (!(cause instanceof IOException io)) {
            attempt.complete(Outcome.cancelled()); // a bug below us, not the key's doing
            fail(cause);
            return;
          }
          done = run.onFailure(io);
        } else {
          done = run.onAnswer(response);
        }
      } catch (RuntimeException | Error e) {
        fail(e);
        return;
      }
      if (done) {
        finish();
      } else if (run.delayNanos > 0) {
        scheduler.schedule(this::step, run.delayNanos, TimeUnit.NANOSECONDS);
      } else {
        scheduler.execute(this::step);
      }
    }

    /** The caller cancelled: the attempt in flight (if any) is released as cancelled. */
    void cancel() {
      cancelled = true;
      Attempt attempt = run.current;
      if (attempt != null) attempt.complete(Outcome.cancelled());
      run.attempts.finish(true);
    }

    void finish() {
      run.attempts.finish(cancelled || run.transport.cancelled());
      R answer;
      try {
        answer = run.answer();
      } catch (IOException e) {
        future.completeExceptionally(e);
        return;
      } catch (RuntimeException | Error e) {
        future.completeExceptionally(e);
        return;
      }
      if (!future.complete(answer) && answer != null) {
        run.transport.discard(answer); // cancelled meanwhile: nobody reads it
      }
    }

    void fail(Throwable e) {
      Attempt attempt = run.current;
      if (attempt != null) attempt.complete(Outcome.cancelled()); // not the key's doing
      run.attempts.finish(true);
      future.completeExceptionally(e);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // The loop's state, shared by both entry points

  /** One request's loop state. Its steps run one at a time (the async steps in sequence). */
  static final class Run<R> {
    final GeminiExchange exchange;
    final GeminiRequest request;
    final Transport<R> transport;
    final Attempts attempts;
    private RequestContext context;
    private Placement placement = Placement.ANY;
    private boolean discovering;

    volatile Attempt current;
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

    Run(GeminiExchange exchange, GeminiRequest request, boolean replayable,
        Transport<R> transport) {
      this.exchange = exchange;
      this.request = request;
      this.transport = transport;
      this.attempts = exchange.policy.newAttempts(exchange.guard, request.model(), replayable);
      this.context = request.context();
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
      // The guard first: a call it fails fast must not spend a key's quota permit.
      try {
        attempts.acquirePermission();
      } catch (CircuitOpenException e) {
        settle();
        if (!endWithLast()) {
          local = new LocalAnswer(LocalAnswer.Kind.CIRCUIT_OPEN, RetryAdvice.UNAVAILABLE_STATUS,
              e.getMessage(), RetryAdvice.breakerOpen(e.retryAt(), exchange.clock).seconds(), e);
        }
        return false;
      }
      KeyLease lease;
      try {
        lease = exchange.rotator.acquire(context);
      } catch (NoKeyAvailableException e) {
        attempts.handBack(); // the permission, unused
        settle();
        if (keptMiss) { // every project that could be asked was: none holds it
          if (e.earliestAvailable().isEmpty()) notFound();
          result = transport.passKept(kept, -1);
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
        result = transport.passKept(kept, retryAfter(transport.status(kept), kept));
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
        if (exchange.affinity != Affinity.NONE) {
          attempt.serving(code, name -> transport.header(response, name),
              exchange.affinity.readsAnswer(request));
        }
        result = transport.serve(response, attempt);
        return true;
      }
      String peek = readsErrorBody(code) ? transport.peek(response) : null;
      Outcome outcome = transport.cancelled() ? Outcome.cancelled()
          : exchange.classifier.classify(code, name -> transport.header(response, name), peek,
              attempt.key());
      if (discovering && (code == 403 || code == 404)
          && outcome.kind() == Outcome.Kind.CLIENT_ERROR) {
        return miss(attempt, response);
      }
      Decision decision = attempt.decide(outcome);
      boolean more = decision.retries() && !(discovering
          && attempts.calls() >= exchange.policy.maxDiscoveryAttempts());
      if (!more) {
        settle();
        result = transport.pass(response, attempt, retryAfter(code, response));
        return true;
      }
      keep(transport.keep(response, attempt), false);
      logRetry(attempt, outcome, decision);
      next(attempt, decision);
      return false;
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
        result = transport.passKept(kept, -1);
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
          : exchange.classifier.classifyTransportFailure(failure);
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
        result = transport.passKept(kept, keptMiss ? -1 : retryAfter(transport.status(kept), kept));
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

    /** The answer the loop ended with, rendered by the transport. */
    R answer() throws IOException {
      if (kept != null && kept != result) {
        transport.discard(kept); // a later attempt answered: the kept failure is not needed
        kept = null;
      }
      if (local != null) return transport.local(local);
      if (thrown != null) throw thrown;
      return result;
    }

    /** A success's body ended well: the affinity learns from it. */
    void served(Attempt attempt) {
      Affinity affinity = exchange.affinity;
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
        exchange.affinity.notFound(request, resource());
      } catch (RuntimeException e) {
        log.warn("affinity {} failed to note a resource no project holds", exchange.affinity, e);
      }
    }

    private ResourceRef resource() {
      return placement instanceof Placement.Discover d ? d.resource() : null;
    }

    /** Reports the request to the breaker now that its answer is chosen. */
    private void settle() {
      attempts.finish(transport.cancelled());
    }

    /** The pool's {@code Retry-After} for an upstream 429 or 503 passed on, else -1. */
    private long retryAfter(int code, R response) {
      if (code != 429 && code != 503) return -1;
      Function<String, String> headers = name -> transport.header(response, name);
      return RetryAdvice.of(exchange.rotator, exchange.guard, request.model(), exchange.clock)
          .forUpstream(code, headers);
    }

    /** The answer when the rotator has no key: the pool's, or the pinned project's. */
    private LocalAnswer noKey(NoKeyAvailableException e) {
      RetryAdvice advice = RetryAdvice.of(e, exchange.guard, exchange.clock);
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
      String name = u.resource().name();
      long seconds = u.retryAt() == null ? -1 : RetryAdvice.secondsUntil(u.retryAt(),
          exchange.clock);
      if (u.project() == null) {
        return new LocalAnswer(LocalAnswer.Kind.UNREACHABLE, 404,
            name + " was not found in any project of the pool"
                + (u.retryAt() == null ? "" : "; asked again after " + u.retryAt()),
            seconds, null);
      }
      return new LocalAnswer(LocalAnswer.Kind.UNREACHABLE, RetryAdvice.UNAVAILABLE_STATUS,
          name + " belongs to project " + u.project() + ", which has no key in the pool"
              + (u.retryAt() == null ? "; only an operator can help (add a key of that project)"
                  : "; retry after " + u.retryAt()),
          seconds, null);
    }

    private void logRetry(Attempt attempt, Outcome outcome, Decision decision) {
      if (log.isDebugEnabled()) {
        log.debug("attempt {} for model {} with key {} ended {}: {}", attempts.made(),
            request.model(), attempt.key().id(), outcome.kind(), decision);
      }
    }
  }

  @Override
  public String toString() {
    return "GeminiExchange{" + policy + ", affinity=" + affinity + '}';
  }

  /**
   * Builds a {@link GeminiExchange}: by default a {@link ResilientCircuitGuard} of its own, the
   * default {@link AttemptPolicy}, a {@link GeminiClassifier}, {@link Affinity#NONE}, the system
   * UTC clock, and the common pool for blocking placements. Not thread-safe.
   */
  public static final class Builder {
    private KeyRotator rotator;
    private CircuitGuard guard;
    private AttemptPolicy policy = AttemptPolicy.defaults();
    private GeminiClassifier classifier;
    private Affinity affinity = Affinity.NONE;
    private Clock clock = Clock.systemUTC();
    private Executor placer = ForkJoinPool.commonPool();

    private Builder() {
    }

    /** The pool keys are leased from. Required. */
    public Builder rotator(KeyRotator rotator) {
      this.rotator = Objects.requireNonNull(rotator, "rotator");
      return this;
    }

    /** The circuit guard; {@link CircuitGuard#disabled()} turns it off. */
    public Builder guard(CircuitGuard guard) {
      this.guard = Objects.requireNonNull(guard, "guard");
      return this;
    }

    /** How many attempts a call gets, the backoff between them, the discovery bound. */
    public Builder policy(AttemptPolicy policy) {
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /** The answer classifier; by default a {@link GeminiClassifier} on {@link #clock}. */
    public Builder classifier(GeminiClassifier classifier) {
      this.classifier = Objects.requireNonNull(classifier, "classifier");
      return this;
    }

    /** Resource affinity; {@link Affinity#NONE} (every key may serve every request) by default. */
    public Builder affinity(Affinity affinity) {
      this.affinity = Objects.requireNonNull(affinity, "affinity");
      return this;
    }

    /** The wall clock for {@code Retry-After} values (and the default guard and classifier). */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Where {@link GeminiExchange#executeAsync} runs a placement that {@linkplain Affinity#mayBlock may block}
     * (one store read); the common pool by default.
     */
    public Builder placer(Executor placer) {
      this.placer = Objects.requireNonNull(placer, "placer");
      return this;
    }

    /**
     * @throws IllegalStateException if no rotator was set
     */
    public GeminiExchange build() {
      if (rotator == null) {
        throw new IllegalStateException("rotator must be set: GeminiExchange.builder()"
            + ".rotator(GeminiKeyRotator.builder().secrets(...).build())");
      }
      return new GeminiExchange(this);
    }
  }
}
