package dev.geminirotator.core.internal.exchange;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.affinity.Affinity;
import dev.geminirotator.core.internal.affinity.Placement;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.attempt.Attempts;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
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
 *   <li><b>classify</b> with the {@link GeminiClassifier}, from the status, the headers and,
 *       for the statuses {@link #readsErrorBody} lists, a peek of the error body;
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
 * key-level {@code ErrorInfo} reason: {@link GeminiClassifier}), that is about the resource
 * itself (its own path, or an error naming it: {@link DiscoveryRules}) moves on to the next
 * project; any other 403/404 (a bogus model, say) is the caller's answer at once, with no
 * negative cache. When no key is free now but an unasked project's keys only cool down, the
 * caller gets the pool's 429, never a 404. A success pins only the resource being discovered,
 * and only when it proves ownership (its own path, or a synchronous model call naming it; never
 * an asynchronous acceptance such as {@code batchGenerateContent}): {@link
 * Affinity#discovered}. Under {@link Placement.Pinned}, a 404 (or an unblamed 403) on the pinned
 * resource's own path drops the pin ({@link Affinity#misplaced}) after passing the answer on.
 * Moving on skips the asked project ({@link RequestContext#skippingProject}); the key's lease completes as cancelled (no failure,
 * no success for its health), the breaker hears that Gemini answered, and {@link
 * AttemptPolicy#maxAttempts()} is not spent. The request makes at most {@link
 * AttemptPolicy#maxDiscoveryAttempts()} upstream calls while discovering (so a client naming
 * random resources on a pool of hundreds of projects costs at most that many calls per request).
 * When no project is left the affinity hears {@link Affinity#notFound} (only when the rotator has
 * no key left that could be asked later) and the caller gets the last 403/404 as Gemini gave it,
 * scrubbed; when the bound stops it, the same answer without {@code notFound}. Under {@link
 * Placement.Pinned} and {@link
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
  /**
   * The first attempt's context of each model's requests, shared by its calls (a context is
   * immutable): one object per model, not per call. At most {@link #MAX_SHARED_CONTEXTS} models,
   * since clients name models; the rest get a context of their own.
   */
  private final ConcurrentHashMap<String, RequestContext> firstContexts =
      new ConcurrentHashMap<>();
  static final int MAX_SHARED_CONTEXTS = 256;

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
   * Whether the loop needs a peek of the error body for this status: a credential, quota or
   * upstream answer whose body says whose fault it is, or a 403/404 whose body says which
   * resource it is about (discovery). The one list every transport follows.
   */
  public static boolean readsErrorBody(int status) {
    return status == 400 || status == 401 || status == 403 || status == 404 || status == 429
        || status == 408 || status >= 500;
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
    ExchangeRun<R> run = new ExchangeRun<>(this, request, replayable, transport);
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
            run.discardAfterFailure(response); // nobody will read it: free its connection
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
    AsyncExchangeRun<R> run = new AsyncExchangeRun<>(
        new ExchangeRun<>(this, request, replayable, transport), scheduler);
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
          try {
            scheduler.execute(() -> run.start(placement));
          } catch (RuntimeException e) { // rejected: no permission is held yet, but the caller
            run.fail(e);                 // waits for the future
          }
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

  /** The context for {@code request}'s first attempt: {@link GeminiRequest#context()}, shared. */
  RequestContext firstContext(GeminiRequest request) {
    RequestContext context = firstContexts.get(request.model());
    if (context == null) {
      context = request.context();
      if (firstContexts.size() < MAX_SHARED_CONTEXTS) {
        RequestContext shared = firstContexts.putIfAbsent(request.model(), context);
        if (shared != null) context = shared;
      }
    }
    return context;
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
     * Where {@link GeminiExchange#executeAsync} runs a placement that {@linkplain
     * Affinity#mayBlock may block} (one store read); the common pool by default.
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
