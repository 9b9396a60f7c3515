package dev.geminirotator.okhttp;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import dev.geminirotator.core.attempt.Attempts;
import dev.geminirotator.core.attempt.RetryAdvice;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.exchange.SecretScrubber;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;
import okio.ByteString;
import okio.GzipSource;
import okio.Okio;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Spreads the Gemini calls of an {@link okhttp3.OkHttpClient} over a pool of API keys: add it
 * with {@code addInterceptor} (an application interceptor, not a network one) and every call gets
 * a healthy key, an invisible retry on another key when Gemini answers 429 or rejects the key,
 * cooldowns, and a circuit guard that fails fast while Gemini is down.
 *
 * <pre>{@code
 * GeminiKeyRotator rotator = GeminiKeyRotator.builder().secrets(k1, k2, k3).build();
 * OkHttpClient client = new OkHttpClient.Builder()
 *     .addInterceptor(GeminiKeyInterceptor.of(rotator))
 *     .build();
 * }</pre>
 *
 * <p>For each call it
 * <ol>
 *   <li>removes any credential the caller set, so that nothing but the pool key reaches Gemini:
 *       the {@code x-goog-api-key}, {@code Authorization} and {@code Cookie} headers, the
 *       {@code key}, {@code access_token} and {@code oauth_token} query parameters in any
 *       spelling ({@code $key}, {@code %61ccess_token}), and the quota and billing attribution a
 *       caller could move off the pool key's project ({@code X-Goog-User-Project},
 *       {@code X-Goog-Quota-User}, {@code userProject}, {@code quotaUser}). Gemini answers a key
 *       next to an OAuth credential with 401, which never blames the key. (A {@code CookieJar}
 *       on the client adds its cookies below this interceptor: leave it at the default,
 *       {@code CookieJar.NO_COOKIES}, for Gemini calls);
 *   <li>leases a key for the model named in the path ({@code .../models/{model}:{method}},
 *       {@code tunedModels/{id}}, under {@code /v1beta}, {@code /v1} or any prefix; other paths
 *       lease for any model) and asks the {@link CircuitGuard} for permission;
 *   <li>sends the key where Gemini expects it: {@code x-goog-api-key} by default, the {@code key}
 *       query parameter with {@link KeyPlacement#QUERY}, and {@code Authorization: Bearer} on the
 *       OpenAI-compatible surface ({@code /v1beta/openai/**}) whatever the placement;
 *   <li>classifies the answer with the {@link GeminiClassifier} from its status, headers and, for
 *       errors only, a peek of at most {@link GeminiClassifier#MAX_PEEK_BYTES} of the body, and
 *       lets the request's {@link dev.geminirotator.core.attempt.Attempts} (core's attempt budget
 *       and breaker rule) decide: rate-limited and rejected keys are retried at once on another
 *       key without spending {@link AttemptPolicy#maxAttempts()}, upstream and transport errors
 *       after a backoff, client errors are returned untouched. A failed response is closed before
 *       the next attempt. The caller sees one response: the first success, a client error, the
 *       last upstream or transport failure, or, when no usable key is left after a key's own
 *       failure, the pool's answer (below), never that key's response.
 * </ol>
 *
 * <p>A successful body is never read ahead or buffered: it streams to the caller (server-sent
 * events included) and the lease completes when the body ends: success when read to the end, a
 * transport error when reading fails, cancelled (nobody blamed) when closed early. The guard hears
 * the same outcome at the same moment. Close every response, as OkHttp asks anyway, or its key
 * stays counted as in flight.
 *
 * <p>Not retried: requests whose body is {@linkplain RequestBody#isOneShot() one-shot} or
 * {@linkplain RequestBody#isDuplex() duplex} (one attempt only), and cancelled calls, whose lease
 * completes as cancelled. A call that runs out of its {@code callTimeout} is cancelled by OkHttp
 * and so counts as cancelled too: the caller's deadline says nothing about the key. A backoff
 * sleeps in short steps, stops when the call is cancelled, and is skipped (the last failure is
 * returned) when it would outlast the call timeout.
 *
 * <p>When no key can serve and none was tried, the caller gets a 429 shaped like a Gemini error
 * ({@code RESOURCE_EXHAUSTED}) with {@code Retry-After} in seconds until a key frees up, or with
 * {@link NoKeyBehavior#THROW} a {@link NoKeyAvailableIOException}. When no key frees up by itself
 * (every key invalid or disabled) that answer is a 503 {@code UNAVAILABLE} without
 * {@code Retry-After} instead: only an operator can help. While the guard is open the call fails
 * fast without touching the network: a 503 {@code UNAVAILABLE} with {@code Retry-After}, or with
 * {@link CircuitOpenBehavior#THROW} a {@link CircuitOpenIOException}. Responses the interceptor
 * makes itself carry an {@code X-Gemini-Rotator} header saying why. A 429 or 503 from Gemini that
 * the caller gets (the attempts ran out) carries the pool's {@code Retry-After}, computed as for
 * the interceptor's own answers ({@link RetryAdvice}).
 *
 * <p>No secret leaves it: the {@code request()} of every returned response (and of its network,
 * cache and prior responses) has the pool key removed, every pool key in an error body (4xx, 5xx)
 * becomes its id as the caller reads it (Gemini names the key in some messages; the body then has
 * no declared length, and a gzip one the caller asked for comes inflated, without
 * {@code Content-Encoding}; one in another coding cannot be checked and comes empty), and an
 * exception whose message mentions the key is replaced by a copy that names the key by id.
 * Interceptors added after this one, network interceptors and event listeners do see the key: have a logging interceptor redact
 * {@code x-goog-api-key} (and {@code Authorization}) or add it before this one. Gemini does not
 * redirect API calls, but a client that follows redirects would carry {@code x-goog-api-key} to
 * another host (OkHttp drops only {@code Authorization} across hosts): with an upstream you do
 * not trust to that degree, build the client with {@code followRedirects(false)}.
 *
 * <p>Works with {@code execute()} and {@code enqueue()}. Immutable and thread-safe: one instance
 * serves every call of a client, and may be shared by several clients.
 */
public final class GeminiKeyInterceptor implements Interceptor {

  /** Where the pool key goes on a request. Immutable. */
  public enum KeyPlacement {
    /** The {@code x-goog-api-key} header, as the official SDKs send it. */
    HEADER,
    /** The {@code key} query parameter. */
    QUERY
  }

  /** What the caller gets when no key in the pool can take the request. Immutable. */
  public enum NoKeyBehavior {
    /**
     * A 429 {@code RESOURCE_EXHAUSTED} response shaped like Gemini's, with Retry-After; a 503
     * {@code UNAVAILABLE} without it when no key frees up by itself.
     */
    RESPONSE_429,
    /** A {@link NoKeyAvailableIOException}. */
    THROW
  }

  /** What the caller gets while the circuit guard is open. Immutable. */
  public enum CircuitOpenBehavior {
    /** A 503 {@code UNAVAILABLE} response shaped like Gemini's, with Retry-After. */
    RESPONSE_503,
    /** A {@link CircuitOpenIOException}. */
    THROW
  }

  public static final KeyPlacement DEFAULT_KEY_PLACEMENT = KeyPlacement.HEADER;
  public static final NoKeyBehavior DEFAULT_NO_KEY_BEHAVIOR = NoKeyBehavior.RESPONSE_429;
  public static final CircuitOpenBehavior DEFAULT_CIRCUIT_OPEN_BEHAVIOR =
      CircuitOpenBehavior.RESPONSE_503;

  private static final Logger log = LoggerFactory.getLogger(GeminiKeyInterceptor.class);
  /** How long a backoff sleeps before it looks at the call again. */
  private static final long PAUSE_STEP_NANOS = TimeUnit.MILLISECONDS.toNanos(10);

  private final KeyRotator rotator;
  private final CircuitGuard guard;
  private final AttemptPolicy policy;
  private final GeminiClassifier classifier;
  private final KeyPlacement keyPlacement;
  private final NoKeyBehavior noKeyBehavior;
  private final CircuitOpenBehavior circuitOpenBehavior;
  private final Clock clock;

  private GeminiKeyInterceptor(Builder b) {
    this.rotator = b.rotator;
    this.clock = b.clock;
    this.guard = b.guard != null ? b.guard : ResilientCircuitGuard.builder().clock(b.clock).build();
    this.policy = b.policy;
    this.classifier = b.classifier != null ? b.classifier
        : GeminiClassifier.builder().clock(b.clock).build();
    this.keyPlacement = b.keyPlacement;
    this.noKeyBehavior = b.noKeyBehavior;
    this.circuitOpenBehavior = b.circuitOpenBehavior;
  }

  /**
   * An interceptor over this rotator with the defaults: a {@link ResilientCircuitGuard} with the
   * default {@link dev.geminirotator.core.guard.BreakerPolicy}, the default {@link AttemptPolicy},
   * keys in {@code x-goog-api-key}, a 429 response when no key is available.
   */
  public static GeminiKeyInterceptor of(KeyRotator rotator) {
    return builder().rotator(rotator).build();
  }

  /** Starts a builder from the {@code DEFAULT_*} values; the rotator must be set. */
  public static Builder builder() {
    return new Builder();
  }

  /** The rotator keys are leased from. */
  public KeyRotator rotator() {
    return rotator;
  }

  /** The circuit guard asked before each attempt. */
  public CircuitGuard guard() {
    return guard;
  }

  /** The policy that decides retries. */
  public AttemptPolicy policy() {
    return policy;
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    final long startNanos = System.nanoTime();
    final Call call = chain.call();
    final Request original = chain.request();
    final GeminiRoute route = GeminiRoute.of(original.url());
    final String model = route.model();
    final Request base = Credentials.strip(original);
    final RequestBody body = base.body();
    final boolean replayable = body == null || !(body.isOneShot() || body.isDuplex());
    final long timeoutNanos = call.timeout().timeoutNanos();
    final long deadline = timeoutNanos > 0 ? startNanos + timeoutNanos : 0;

    RequestContext context = route.context();
    Attempts attempts = policy.newAttempts(guard, model, replayable);
    try {
      return loop(chain, call, base, route, context, attempts, deadline);
    } finally {
      attempts.finish(call.isCanceled()); // the breaker hears the request once
    }
  }

  /** The attempt loop; core's {@link Attempts} decides every step. */
  private Response loop(Chain chain, Call call, Request base, GeminiRoute route,
      RequestContext context, Attempts attempts, long deadline) throws IOException {
    final String model = route.model();
    Response lastResponse = null; // the last failure, as a response with its peeked body
    IOException lastFailure = null; // or as an exception
    while (true) {
      // The guard first: a call it fails fast must not spend a key's quota permit.
      try {
        attempts.acquirePermission();
      } catch (CircuitOpenException e) {
        settle(attempts, call);
        if (!attempts.answerFromPool()) { // never one key's own failure
          if (lastResponse != null) return withPoolRetryAfter(lastResponse, model);
          if (lastFailure != null) throw lastFailure;
        }
        return circuitOpen(base, e);
      }
      KeyLease lease;
      try {
        lease = rotator.acquire(context);
      } catch (NoKeyAvailableException e) {
        attempts.handBack(); // the permission, unused
        settle(attempts, call);
        // After a key's own failure (rate-limited, rejected) the caller gets the pool's answer,
        // never that key's; after an upstream or transport error, that failure.
        if (!attempts.answerFromPool()) {
          if (lastResponse != null) return withPoolRetryAfter(lastResponse, model);
          if (lastFailure != null) throw lastFailure;
        }
        return noKeyAvailable(base, e);
      } catch (RuntimeException | Error e) {
        attempts.handBack();
        throw e;
      }
      Attempt current = new Attempt(lease, attempts, model);

      Response response;
      try {
        response = chain.proceed(Credentials.withKey(base, lease.key().secret(), route,
            keyPlacement));
      } catch (IOException e) {
        Outcome outcome = call.isCanceled() ? Outcome.cancelled()
            : classifier.classifyTransportFailure(e);
        IOException failure = Redaction.redact(e, lease.key());
        Decision decision = current.decide(outcome); // cancelled: RETURN
        if (!decision.retries()) {
          throw failure;
        }
        lastResponse = null;
        lastFailure = failure;
        logRetry(lease, model, attempts.made(), outcome, decision);
        if (!pause(call, decision.delay(), deadline)) throw lastFailure;
        context = context.excluding(lease.key().id());
        continue;
      } catch (RuntimeException e) {
        current.complete(Outcome.cancelled()); // a bug below us, not the key's doing
        throw Redaction.redact(e, lease.key());
      } catch (Error e) {
        current.complete(Outcome.cancelled());
        throw e;
      }

      int code = response.code();
      // Gemini names a key in some error messages: every pool key in the body (and in any
      // header) becomes its id.
      SecretScrubber scrubber = SecretScrubber.forAttempt(rotator, lease.key());
      if (code >= 200 && code < 300) {
        return success(response, base, current, call, scrubber);
      }
      ByteString peeked = bodyMatters(code) ? peek(response) : null;
      Outcome outcome = call.isCanceled() ? Outcome.cancelled()
          : classifier.classify(code, response::header, text(response, peeked), lease.key());
      Decision decision = current.decide(outcome);
      if (!decision.retries()) {
        settle(attempts, call);
        Response.Builder returned = Credentials.scrubbed(response, base, scrubber);
        return withPoolRetryAfter(ScrubbedErrors.scrubs(code)
            ? ScrubbedErrors.returned(response, returned, scrubber).build() : returned.build(),
            model);
      }
      lastResponse = retained(response, base, peeked, scrubber);
      lastFailure = null;
      response.close();
      logRetry(lease, model, attempts.made(), outcome, decision);
      if (!pause(call, decision.delay(), deadline)) {
        settle(attempts, call);
        return withPoolRetryAfter(lastResponse, model);
      }
      context = context.excluding(lease.key().id());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Responses

  /**
   * A 2xx: the breaker hears the request's success now that the headers arrived (core's settle
   * point, as in the proxy); the body streams to the caller and completes the attempt's lease
   * when it ends.
   */
  private Response success(Response response, Request base, Attempt attempt, Call call,
      SecretScrubber scrubber) {
    ResponseBody body = response.body();
    if (response.networkResponse() == null && response.cacheResponse() != null) {
      attempt.complete(Outcome.cancelled()); // served from cache: the key was not used
      return Credentials.scrubbed(response, base, scrubber).build();
    }
    attempt.served(); // failed attempts before this one were recovered
    int code = response.code();
    if (body.contentLength() == 0 || code == 204 || code == 205 || "HEAD".equals(base.method())) {
      attempt.complete(Outcome.success());
      return Credentials.scrubbed(response, base, scrubber).build();
    }
    return Credentials.scrubbed(response, base, scrubber)
        .body(new LeasedResponseBody(body, attempt, call, classifier))
        .build();
  }

  /**
   * The failed response kept for the caller while the next attempt runs: its peeked body,
   * scrubbed of every pool key.
   */
  private static Response retained(Response response, Request base, ByteString peeked,
      SecretScrubber scrubber) {
    Response.Builder b = Credentials.scrubbed(response, base, scrubber);
    return b.body(ScrubbedErrors.retained(response, b, peeked, scrubber)).build();
  }

  private Response noKeyAvailable(Request base, NoKeyAvailableException e)
      throws NoKeyAvailableIOException {
    if (log.isDebugEnabled()) {
      log.debug("no key for {} {}: {}", base.method(), base.url().encodedPath(), e.getMessage());
    }
    if (noKeyBehavior == NoKeyBehavior.THROW) {
      throw new NoKeyAvailableIOException(e);
    }
    return LocalErrors.noKeyAvailable(base, e, RetryAdvice.of(e, guard, clock), clock);
  }

  /**
   * A 429 or 503 from Gemini, passed on: with the pool's {@code Retry-After} ({@link
   * RetryAdvice#forUpstream}), so the caller knows when the pool, not one key, can serve again.
   * Other responses are returned as they are.
   */
  /**
   * Reports the request to the breaker now that its answer is chosen, so that the answer (its
   * {@code Retry-After}) and the caller's next request see the breaker as this request left it.
   */
  private static void settle(Attempts attempts, Call call) {
    attempts.finish(call.isCanceled());
  }

  private Response withPoolRetryAfter(Response response, String model) {
    int code = response.code();
    if (code != 429 && code != 503) return response;
    long seconds = RetryAdvice.of(rotator, guard, model, clock)
        .forUpstream(code, response::header);
    if (seconds < 0) return response;
    return response.newBuilder().header("Retry-After", Long.toString(seconds)).build();
  }

  private Response circuitOpen(Request base, CircuitOpenException e)
      throws CircuitOpenIOException {
    if (log.isDebugEnabled()) {
      log.debug("failing fast for {} {}: {}", base.method(), base.url().encodedPath(),
          e.getMessage());
    }
    if (circuitOpenBehavior == CircuitOpenBehavior.THROW) {
      throw new CircuitOpenIOException(e);
    }
    return LocalErrors.circuitOpen(base, e, clock);
  }

  /** Whether the classifier reads the body for this status: credential, quota, upstream. */
  private static boolean bodyMatters(int code) {
    return code == 400 || code == 401 || code == 403 || code == 429 || code == 408 || code >= 500;
  }

  /** Up to {@link GeminiClassifier#MAX_PEEK_BYTES} of the body, leaving it unread; null if lost. */
  private static ByteString peek(Response response) {
    try {
      return response.peekBody(GeminiClassifier.MAX_PEEK_BYTES).byteString();
    } catch (IOException | RuntimeException e) {
      return null; // the classifier falls back to the status
    }
  }

  /** The peeked bytes as text, gunzipped when the caller asked for gzip and got it raw. */
  private static String text(Response response, ByteString peeked) {
    if (peeked == null || peeked.size() == 0) {
      return null;
    }
    if (!"gzip".equalsIgnoreCase(response.header("Content-Encoding"))) {
      return peeked.utf8();
    }
    Buffer out = new Buffer();
    try (BufferedSource gunzip = Okio.buffer(new GzipSource(new Buffer().write(peeked)))) {
      while (out.size() < GeminiClassifier.MAX_PEEK_BYTES
          && gunzip.read(out, GeminiClassifier.MAX_PEEK_BYTES - out.size()) != -1) {
        // keep reading
      }
    } catch (IOException e) {
      // Cut mid-stream by the peek: what was inflated so far is what there is.
    }
    return out.readUtf8();
  }

  // ---------------------------------------------------------------------------------------------
  // Between attempts

  /**
   * Waits out a backoff in short steps, watching the call. Returns false, without waiting, when
   * the call is cancelled or the wait would end past the call's timeout.
   */
  private static boolean pause(Call call, Duration delay, long deadline)
      throws InterruptedIOException {
    if (call.isCanceled()) {
      return false;
    }
    long wait = delay.toNanos();
    if (wait <= 0) {
      return true;
    }
    long end = System.nanoTime() + wait;
    if (deadline != 0 && end - deadline >= 0) {
      return false; // the caller would time out while we wait: hand it the last failure now
    }
    for (long left = wait; left > 0; left = end - System.nanoTime()) {
      try {
        TimeUnit.NANOSECONDS.sleep(Math.min(left, PAUSE_STEP_NANOS));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while backing off before the next attempt");
      }
      if (call.isCanceled()) {
        return false;
      }
    }
    return true;
  }

  private static void logRetry(KeyLease lease, String model, int attempt, Outcome outcome,
      Decision decision) {
    if (log.isDebugEnabled()) {
      log.debug("attempt {} for model {} with key {} ended {}: {}", attempt, model,
          lease.key().id(), outcome.kind(), decision);
    }
  }

  @Override
  public String toString() {
    return "GeminiKeyInterceptor{keyPlacement=" + keyPlacement + ", noKeyBehavior="
        + noKeyBehavior + ", circuitOpenBehavior=" + circuitOpenBehavior + ", " + policy + '}';
  }

  /**
   * Builds a {@link GeminiKeyInterceptor}. Starts from the {@code DEFAULT_*} values, the default
   * {@link AttemptPolicy}, a {@link ResilientCircuitGuard} with the default policy and the system
   * UTC clock. Not thread-safe.
   */
  public static final class Builder {
    private KeyRotator rotator;
    private CircuitGuard guard;
    private AttemptPolicy policy = AttemptPolicy.defaults();
    private GeminiClassifier classifier;
    private KeyPlacement keyPlacement = DEFAULT_KEY_PLACEMENT;
    private NoKeyBehavior noKeyBehavior = DEFAULT_NO_KEY_BEHAVIOR;
    private CircuitOpenBehavior circuitOpenBehavior = DEFAULT_CIRCUIT_OPEN_BEHAVIOR;
    private Clock clock = Clock.systemUTC();

    private Builder() {
    }

    /** The pool keys are leased from. Required. */
    public Builder rotator(KeyRotator rotator) {
      this.rotator = Objects.requireNonNull(rotator, "rotator");
      return this;
    }

    /**
     * The circuit guard; {@link CircuitGuard#disabled()} turns it off. By default a
     * {@link ResilientCircuitGuard} of its own, on {@link #clock}. Share one guard between
     * interceptors (and the proxy) that call the same upstream.
     */
    public Builder guard(CircuitGuard guard) {
      this.guard = Objects.requireNonNull(guard, "guard");
      return this;
    }

    /** How many attempts a call gets and the backoff between them. */
    public Builder policy(AttemptPolicy policy) {
      this.policy = Objects.requireNonNull(policy, "policy");
      return this;
    }

    /** The response classifier; by default {@link GeminiClassifier} on {@link #clock}. */
    public Builder classifier(GeminiClassifier classifier) {
      this.classifier = Objects.requireNonNull(classifier, "classifier");
      return this;
    }

    /** Where the key goes; {@link KeyPlacement#HEADER} by default. */
    public Builder keyPlacement(KeyPlacement keyPlacement) {
      this.keyPlacement = Objects.requireNonNull(keyPlacement, "keyPlacement");
      return this;
    }

    /** What the caller gets when no key is available; a 429 response by default. */
    public Builder noKeyBehavior(NoKeyBehavior noKeyBehavior) {
      this.noKeyBehavior = Objects.requireNonNull(noKeyBehavior, "noKeyBehavior");
      return this;
    }

    /** What the caller gets while the guard is open; a 503 response by default. */
    public Builder circuitOpenBehavior(CircuitOpenBehavior circuitOpenBehavior) {
      this.circuitOpenBehavior = Objects.requireNonNull(circuitOpenBehavior,
          "circuitOpenBehavior");
      return this;
    }

    /**
     * The wall clock for {@code Retry-After} values (and for the default guard and classifier);
     * system UTC by default. Backoff sleeps use the JVM's monotonic time.
     */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * @throws IllegalStateException if no rotator was set
     */
    public GeminiKeyInterceptor build() {
      if (rotator == null) {
        throw new IllegalStateException("rotator must be set: GeminiKeyInterceptor.builder()"
            + ".rotator(GeminiKeyRotator.builder().secrets(...).build())");
      }
      return new GeminiKeyInterceptor(this);
    }
  }
}
