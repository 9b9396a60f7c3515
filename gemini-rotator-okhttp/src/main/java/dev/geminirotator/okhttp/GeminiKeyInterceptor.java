package dev.geminirotator.okhttp;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.core.affinity.AffinityPolicy;
import dev.geminirotator.core.internal.affinity.Affinity;
import dev.geminirotator.core.internal.affinity.ResourceAffinity;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.internal.exchange.RetryAdvice;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.internal.exchange.GeminiExchange;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import java.io.IOException;
import java.time.Clock;
import java.util.Objects;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

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
 *   <li>hands the call to core's attempt loop ({@link GeminiExchange#execute}) for the model
 *       the request calls ({@code .../models/{model}:{method}}, {@code tunedModels/{id}}, under
 *       any prefix, or the OpenAI-compatible body's {@code model}; other requests lease for any
 *       model) and the resources it names: the placement, the guard's permission, a key, the
 *       {@link GeminiClassifier}'s verdict and the retry decision are all core's. Rate-limited
 *       and rejected keys are retried at once on another key, upstream and transport errors after
 *       a backoff, client errors are returned untouched; the caller sees one response;
 *   <li>sends the key where Gemini expects it: {@code x-goog-api-key} by default, the {@code key}
 *       query parameter with {@link KeyPlacement#QUERY}, and {@code Authorization: Bearer} on the
 *       OpenAI-compatible surface ({@code /v1beta/openai/**}) whatever the placement.
 * </ol>
 *
 * <p>Resource affinity (on by default, {@link Builder#affinity}): the request is read once by
 * core's parser (path, query and, when replayable and small, the JSON body: {@link GeminiRoute});
 * a request naming a project-bound resource (a file, an upload in progress, a context cache, a
 * batch ...) goes only to keys of the project that holds it (an upload's chunks only to the key
 * that started it); one whose owner is unknown asks one key per project, a wrong project's 403/404
 * blaming no key (see {@link GeminiExchange}). A pinned project with no usable key gets a 429
 * naming it, with a {@code Retry-After} from that project's cooldown.
 *
 * <p>A successful body is never read ahead or buffered: it streams to the caller (server-sent
 * events included) and the lease completes when the body ends: success when read to the end, a
 * transport error when reading fails, cancelled (nobody blamed) when closed early. The guard hears
 * the same outcome at the same moment. Close every response, as OkHttp asks anyway, or its key
 * stays counted as in flight.
 *
 * <p>Not retried: requests whose body is {@linkplain RequestBody#isOneShot() one-shot} or
 * {@linkplain RequestBody#isDuplex() duplex}, and cancelled calls (a call past its
 * {@code callTimeout} is cancelled by OkHttp and blames no key). A backoff that would outlast the
 * call timeout is skipped and the last failure returned.
 *
 * <p>When no key can serve, the caller gets a 429 shaped like a Gemini error
 * ({@code RESOURCE_EXHAUSTED}) with {@code Retry-After} ({@link RetryAdvice}), or a 503 without
 * it when only an operator can help; with {@link NoKeyBehavior#THROW} a {@link
 * NoKeyAvailableIOException}. While the guard is open: a 503 with {@code Retry-After}, or with
 * {@link CircuitOpenBehavior#THROW} a {@link CircuitOpenIOException}. Responses the interceptor
 * makes itself carry an {@code X-Gemini-Rotator} header saying why. A 429 or 503 from Gemini
 * passed on carries the pool's {@code Retry-After} (the pinned project's, under a pin).
 *
 * <p>No secret leaves it: the {@code request()} of every returned response (and of its network,
 * cache and prior responses) has the pool key removed, every pool key in a header or an error
 * body becomes its id as the caller reads it (such a body has no declared length; a gzip one comes
 * inflated, one in another coding empty), and an exception naming the key is replaced by a copy
 * naming its id. Interceptors added after this one, network interceptors and event listeners do
 * see the key: have a logging interceptor redact {@code x-goog-api-key} and {@code Authorization}
 * or add it before this one; with an upstream you do not trust, build the client with
 * {@code followRedirects(false)} (OkHttp carries {@code x-goog-api-key} across hosts).
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

  final GeminiExchange exchange;
  // Read by this call's OkHttpTransport.
  final KeyPlacement keyPlacement;
  final NoKeyBehavior noKeyBehavior;
  final CircuitOpenBehavior circuitOpenBehavior;

  private GeminiKeyInterceptor(Builder b) {
    GeminiExchange.Builder exchange = GeminiExchange.builder().rotator(b.rotator).clock(b.clock)
        .policy(b.policy).affinity(b.affinity != null ? b.affinity : defaultAffinity(b));
    if (b.guard != null) exchange.guard(b.guard);
    if (b.classifier != null) exchange.classifier(b.classifier);
    this.exchange = exchange.build();
    this.keyPlacement = b.keyPlacement;
    this.noKeyBehavior = b.noKeyBehavior;
    this.circuitOpenBehavior = b.circuitOpenBehavior;
  }

  /** Pins in the rotator's store when it is a GeminiKeyRotator (written by a daemon thread). */
  private static Affinity defaultAffinity(Builder b) {
    return b.rotator instanceof GeminiKeyRotator rotator
        ? ResourceAffinity.of(b.affinityPolicy, rotator.store(), b.clock)
        : ResourceAffinity.of(b.affinityPolicy, b.clock);
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
    return exchange.rotator();
  }

  /** The circuit guard asked before each attempt. */
  public CircuitGuard guard() {
    return exchange.guard();
  }

  /** The policy that decides retries. */
  public AttemptPolicy policy() {
    return exchange.policy();
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    Request request = chain.request();
    Request.Builder stripped = Credentials.stripping(request);
    Request base = stripped == null ? request : stripped.build();
    GeminiRequest parsed = GeminiRoute.parse(base);
    RequestBody body = base.body();
    boolean replayable = body == null || !(body.isOneShot() || body.isDuplex());
    return exchange.execute(parsed, replayable,
        new OkHttpTransport(chain, base, stripped, GeminiRoute.openAi(parsed), this));
  }

  @Override
  public String toString() {
    return "GeminiKeyInterceptor{keyPlacement=" + keyPlacement + ", noKeyBehavior="
        + noKeyBehavior + ", circuitOpenBehavior=" + circuitOpenBehavior + ", " + policy()
        + ", affinity=" + exchange.affinity() + '}';
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
    private AffinityPolicy affinityPolicy = AffinityPolicy.defaults();
    private Affinity affinity; // null: defaultAffinity, from affinityPolicy

    private Builder() {
    }

    /**
     * Resource affinity: files, uploads, caches, batches, file search stores, operations and
     * interactions belong to the project whose key created them, and a request naming one goes
     * only to keys of that project. On by default ({@link AffinityPolicy#defaults()}), keeping
     * its pins in the rotator's store when the rotator is a {@link GeminiKeyRotator} (so
     * instances sharing a Redis store share pins), else in this JVM only. A policy with {@code
     * enabled(false)} turns it off: every key then serves every request, and a resource of one
     * project asked of another project's key gets Gemini's 403 or 404.
     */
    public Builder affinity(AffinityPolicy policy) {
      this.affinityPolicy = Objects.requireNonNull(policy, "policy");
      this.affinity = null;
      return this;
    }

    /** For tests: an affinity of their own instead of {@link #affinity(AffinityPolicy)}'s. */
    Builder customAffinity(Affinity affinity) {
      this.affinity = Objects.requireNonNull(affinity, "affinity");
      return this;
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
