package dev.geminirotator.genai;

import com.google.genai.Client;
import com.google.genai.types.ClientOptions;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.regex.Pattern;
import okhttp3.Dispatcher;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;

/**
 * A ready {@link Client} of the official Google GenAI Java SDK ({@code google-genai} 2.0.0) whose
 * every call runs through a {@link GeminiKeyInterceptor}, in one call:
 *
 * <pre>{@code
 * Client gemini = GeminiGenAi.client(rotator);
 * GenerateContentResponse answer = gemini.models.generateContent("gemini-2.5-flash", "Hi", null);
 * }</pre>
 *
 * <p>What it sets up, so that no SDK user has to know it:
 * <ul>
 *   <li>the interceptor on an OkHttp 5 client handed to the SDK as its {@code customHttpClient}
 *       (this module brings {@code okhttp-jvm} 5 and excludes the SDK's OkHttp 4.12);
 *   <li>the SDK's own retries off ({@code HttpRetryOptions.attempts(1)}). Left on, the SDK's
 *       {@code RetryInterceptor}, which it appends after the interceptor, repeats a 429 or 5xx
 *       on the same request, so on the same pool key, before the rotator sees it. The interceptor
 *       retries on another key instead, by its {@code AttemptPolicy}. Options asking the SDK to
 *       retry are refused: client-wide ones by {@link Builder#httpOptions} with an
 *       {@link IllegalArgumentException}; per-call ones (a request's own {@code httpOptions}) are
 *       brought back to one attempt, and the first such call is logged at WARN;
 *   <li>the SDK holds {@link #PLACEHOLDER_API_KEY}, never a pool key: it sends the placeholder,
 *       the interceptor removes it and puts in a pool key below everything the SDK can see, and
 *       it scrubs pool keys out of the answers and exceptions that come back;
 *   <li>the Gemini Developer API, not Vertex AI, and no key from the environment
 *       ({@code GOOGLE_GENAI_USE_VERTEXAI}, {@code GOOGLE_API_KEY} are ignored);
 *   <li>no read or write timeout on a client it creates, as on the SDK's own client (a long
 *       generation sends nothing until it is done); bound a whole call, retries included, with
 *       {@link Builder#timeout}.
 * </ul>
 *
 * <p>The SDK's {@code Client.close()} shuts down the dispatcher of the OkHttp client it runs on and
 * closes its cache, so the client handed to the SDK always gets its own {@link Dispatcher} (with
 * the request limits of the one it was built with, on OkHttp's default executor) and no cache
 * (Gemini's answers are not cacheable anyway): closing the SDK client never stops an
 * app's other OkHttp clients built from the same {@link Builder#okHttpClient builder}. It does not
 * close the rotator, which the caller owns.
 *
 * <p>Every request the SDK makes goes through this one OkHttp client: the resumable upload's
 * start and its chunks too ({@code docs/gemini-resources.md} section 10: the SDK re-bases
 * {@code X-Goog-Upload-URL} onto the base URL and sends {@code x-goog-api-key} on each chunk, and
 * its {@code RetryInterceptor} would repeat chunks as well), and the Interactions API, which the
 * SDK sends through the same client with its own retries off.
 *
 * <p>Thread-safe: the static methods may be called from any thread, and the returned
 * {@link Client} serves concurrent calls as the SDK documents. {@link Builder} is not thread-safe.
 */
public final class GeminiGenAi {

  /**
   * The API key the SDK holds and sends; the interceptor replaces it with a pool key on every
   * call. It is no secret, and Gemini would reject it if it ever got there.
   */
  public static final String PLACEHOLDER_API_KEY = "gemini-rotator-placeholder";
  /** Connect timeout of an OkHttp client this class creates: OkHttp's default. */
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
  /** Read timeout of an OkHttp client this class creates: none, as on the SDK's own client. */
  public static final Duration DEFAULT_READ_TIMEOUT = Duration.ZERO;
  /** Write timeout of an OkHttp client this class creates: none, as on the SDK's own client. */
  public static final Duration DEFAULT_WRITE_TIMEOUT = Duration.ZERO;

  private static final Pattern API_VERSION = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,31}");

  private GeminiGenAi() {
  }

  /**
   * A client whose calls lease keys from {@code rotator} through a
   * {@link GeminiKeyInterceptor#of default interceptor}, on Google's endpoint.
   */
  public static Client client(KeyRotator rotator) {
    return builder().rotator(rotator).build();
  }

  /** A client whose calls run through {@code interceptor}, on Google's endpoint. */
  public static Client client(GeminiKeyInterceptor interceptor) {
    return builder().interceptor(interceptor).build();
  }

  /** Starts a builder; a rotator or an interceptor must be set. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Builds a GenAI SDK {@link Client} over a {@link GeminiKeyInterceptor}. Setters validate their
   * argument; options that conflict fail in {@link #build()}. Not thread-safe.
   *
   * <p>There is no {@code ClientOptions} setter: with the custom OkHttp client this module must
   * give the SDK, the SDK ignores every other {@code ClientOptions} field (connection limits,
   * proxy). Set those on the OkHttp builder passed to {@link #okHttpClient} instead
   * ({@code dispatcher}, {@code connectionPool}, {@code proxy}).
   */
  public static final class Builder {
    private KeyRotator rotator;
    private GeminiKeyInterceptor interceptor;
    private OkHttpClient.Builder okHttp;
    private HttpOptions httpOptions;
    private String baseUrl;
    private String apiVersion;
    private Duration timeout;
    private Duration connectTimeout;
    private Duration readTimeout;
    private Duration writeTimeout;

    private Builder() {
    }

    /** The pool: calls run through {@code GeminiKeyInterceptor.of(rotator)}. */
    public Builder rotator(KeyRotator rotator) {
      this.rotator = Objects.requireNonNull(rotator, "rotator");
      return this;
    }

    /** The interceptor every call runs through, for a guard, policy or clock of your own. */
    public Builder interceptor(GeminiKeyInterceptor interceptor) {
      this.interceptor = Objects.requireNonNull(interceptor, "interceptor");
      return this;
    }

    /**
     * An OkHttp builder to extend, e.g. {@code appClient.newBuilder()} to share its connection
     * pool. Its interceptors run before the key interceptor and so see only the placeholder key;
     * its <em>network</em> interceptors and event listeners run after it and see the pool key, so
     * have a logging one redact {@code x-goog-api-key}. Its read and write timeouts stand unless
     * set here (OkHttp's default read timeout, 10 s, is short for long generations). It gets its
     * own dispatcher and no cache (see {@link GeminiGenAi}); it is not modified.
     */
    public Builder okHttpClient(OkHttpClient.Builder okHttp) {
      this.okHttp = Objects.requireNonNull(okHttp, "okHttpClient");
      return this;
    }

    /**
     * The SDK's own options, passed through (headers, extra body, base URL, API version,
     * timeout).
     *
     * @throws IllegalArgumentException if they ask the SDK to retry: {@code retryOptions} with
     *     {@code attempts} unset (the SDK then makes 5) or above 1
     */
    public Builder httpOptions(HttpOptions httpOptions) {
      Objects.requireNonNull(httpOptions, "httpOptions");
      Optional<HttpRetryOptions> retry = httpOptions.retryOptions();
      if (retry.isPresent() && SingleSdkAttempt.attempts(retry.get()) > 1) {
        throw new IllegalArgumentException("httpOptions.retryOptions.attempts must be 1 but was "
            + retry.get().attempts().map(String::valueOf)
                .orElse("unset (the SDK then makes " + SingleSdkAttempt.SDK_DEFAULT_ATTEMPTS + ")")
            + ": the SDK would repeat a failed call on the same pool key, while the interceptor"
            + " retries it on another key (see AttemptPolicy); leave retryOptions unset");
      }
      this.httpOptions = httpOptions;
      return this;
    }

    /**
     * Where the SDK sends its calls, e.g. a test server or a gateway; Google's endpoint by
     * default.
     *
     * @throws IllegalArgumentException unless it is an http or https URL without a query
     */
    public Builder baseUrl(String baseUrl) {
      Objects.requireNonNull(baseUrl, "baseUrl");
      HttpUrl url = HttpUrl.parse(baseUrl);
      if (url == null) {
        throw new IllegalArgumentException("baseUrl must be an http or https URL, e.g."
            + " https://generativelanguage.googleapis.com, but was '" + shown(baseUrl) + "'");
      }
      if (url.encodedQuery() != null || url.encodedFragment() != null) {
        // The query is left out of the message: it may hold a key.
        throw new IllegalArgumentException("baseUrl must have no query or fragment (the SDK"
            + " appends /{version}/{path} to it) but was " + url.newBuilder().query(null)
            .fragment(null).build() + " with one");
      }
      this.baseUrl = baseUrl;
      return this;
    }

    /** The API version path segment, e.g. {@code v1beta}; the SDK's default when unset. */
    public Builder apiVersion(String apiVersion) {
      Objects.requireNonNull(apiVersion, "apiVersion");
      if (!API_VERSION.matcher(apiVersion).matches()) {
        throw new IllegalArgumentException("apiVersion must be one path segment such as v1beta"
            + " or v1 but was '" + shown(apiVersion) + "'");
      }
      this.apiVersion = apiVersion;
      return this;
    }

    /**
     * The deadline of one whole SDK call, every key it tries and backoff included (the SDK's
     * {@code HttpOptions.timeout}, OkHttp's call timeout); none by default.
     *
     * @throws IllegalArgumentException unless between 1 ms and {@code Integer.MAX_VALUE} ms
     */
    public Builder timeout(Duration timeout) {
      Objects.requireNonNull(timeout, "timeout");
      if (timeout.compareTo(Duration.ofMillis(1)) < 0
          || timeout.compareTo(Duration.ofMillis(Integer.MAX_VALUE)) > 0) {
        throw new IllegalArgumentException("timeout must be between 1 ms and "
            + Integer.MAX_VALUE + " ms but was " + timeout);
      }
      this.timeout = timeout;
      return this;
    }

    /** TCP and TLS connect timeout; {@link #DEFAULT_CONNECT_TIMEOUT} on a client made here. */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = notNegative("connectTimeout", connectTimeout);
      return this;
    }

    /**
     * Longest silence while reading an answer, zero for none; {@link #DEFAULT_READ_TIMEOUT} on a
     * client made here. A read that times out counts as a transport error: the interceptor may
     * retry it on another key.
     */
    public Builder readTimeout(Duration readTimeout) {
      this.readTimeout = notNegative("readTimeout", readTimeout);
      return this;
    }

    /** Longest stall while writing a request, zero for none; {@link #DEFAULT_WRITE_TIMEOUT}. */
    public Builder writeTimeout(Duration writeTimeout) {
      this.writeTimeout = notNegative("writeTimeout", writeTimeout);
      return this;
    }

    /**
     * Builds the SDK client. Close it when done (it stops its dispatcher); the rotator stays open.
     *
     * @throws IllegalStateException if neither or both of a rotator and an interceptor were set,
     *     or if {@link #baseUrl}, {@link #apiVersion} or {@link #timeout} disagree with the same
     *     field of {@link #httpOptions}
     */
    public Client build() {
      if (rotator != null && interceptor != null) {
        throw new IllegalStateException("set a rotator or an interceptor, not both: the"
            + " interceptor already has its rotator");
      }
      if (rotator == null && interceptor == null) {
        throw new IllegalStateException("a rotator or an interceptor must be set:"
            + " GeminiGenAi.builder().rotator(GeminiKeyRotator.builder().secrets(...).build())");
      }
      GeminiKeyInterceptor keys = interceptor != null ? interceptor
          : GeminiKeyInterceptor.of(rotator);
      return Client.builder()
          .apiKey(PLACEHOLDER_API_KEY)
          .vertexAI(false)
          .httpOptions(sdkOptions())
          .clientOptions(ClientOptions.builder().customHttpClient(okHttpClient(keys)).build())
          .build();
    }

    private HttpOptions sdkOptions() {
      HttpOptions.Builder http = httpOptions != null ? httpOptions.toBuilder()
          : HttpOptions.builder();
      if (baseUrl != null) {
        agree("baseUrl", baseUrl, httpOptions == null ? null : httpOptions.baseUrl());
        http.baseUrl(baseUrl);
      }
      if (apiVersion != null) {
        agree("apiVersion", apiVersion, httpOptions == null ? null : httpOptions.apiVersion());
        http.apiVersion(apiVersion);
      }
      if (timeout != null) {
        int millis = (int) timeout.toMillis();
        agree("timeout", millis, httpOptions == null ? null : httpOptions.timeout());
        http.timeout(millis);
      }
      if (httpOptions == null || httpOptions.retryOptions().isEmpty()) {
        http.retryOptions(HttpRetryOptions.builder().attempts(1).build());
      }
      return http.build();
    }

    private static <T> void agree(String field, T set, Optional<T> passed) {
      if (passed != null && passed.isPresent() && !passed.get().equals(set)) {
        throw new IllegalStateException(field + " was set to " + set + " and httpOptions."
            + field + " to " + passed.get() + ": set it once");
      }
    }

    private OkHttpClient okHttpClient(GeminiKeyInterceptor keys) {
      OkHttpClient base = (okHttp != null ? okHttp : new OkHttpClient.Builder()
          .connectTimeout(DEFAULT_CONNECT_TIMEOUT)
          .readTimeout(DEFAULT_READ_TIMEOUT)
          .writeTimeout(DEFAULT_WRITE_TIMEOUT)).build();
      // The SDK's Client.close() shuts this dispatcher's executor down and closes the cache:
      // neither may be one that the app's other clients share.
      Dispatcher own = new Dispatcher();
      own.setMaxRequests(base.dispatcher().getMaxRequests());
      own.setMaxRequestsPerHost(base.dispatcher().getMaxRequestsPerHost());
      OkHttpClient.Builder b = base.newBuilder().dispatcher(own).cache(null);
      if (connectTimeout != null) b.connectTimeout(connectTimeout);
      if (readTimeout != null) b.readTimeout(readTimeout);
      if (writeTimeout != null) b.writeTimeout(writeTimeout);
      // The SDK appends its RetryInterceptor right after these two.
      return b.addInterceptor(keys).addInterceptor(new SingleSdkAttempt()).build();
    }

    private static Duration notNegative(String field, Duration value) {
      Objects.requireNonNull(value, field);
      if (value.isNegative()) {
        throw new IllegalArgumentException(field + " must be zero (none) or positive but was "
            + value);
      }
      return value;
    }

    /** A bad value as a message shows it: at most 64 characters. */
    private static String shown(String value) {
      return value.length() <= 64 ? value : value.substring(0, 64) + "…";
    }
  }
}
