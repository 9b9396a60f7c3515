package dev.geminirotator.genai;

import com.google.genai.types.HttpRetryOptions;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.Response;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the SDK's own retry at one attempt for every call, including calls whose per-request
 * {@code httpOptions} (for example {@code GenerateContentConfig.httpOptions}) ask for more.
 *
 * <p>google-genai 2.0.0 puts a request's own {@code HttpRetryOptions} on the OkHttp request as a
 * tag, and its {@code RetryInterceptor}, which the SDK appends after every interceptor of the
 * client it is given, prefers that tag to the client's options. It repeats a 408, 429 or 5xx on
 * the same request, that is on the same pool key, so a per-request {@code attempts(5)} would have
 * a cooled key hit four more times. This interceptor runs just before the SDK's and replaces such
 * a tag by a copy with {@code attempts(1)}; the rotator still retries on another key. The first
 * override is logged at WARN, once per client, so a misconfigured app is seen without flooding
 * the log.
 *
 * <p>Thread-safe.
 */
final class SingleSdkAttempt implements Interceptor {

  private static final Logger log = LoggerFactory.getLogger(SingleSdkAttempt.class);
  /** The SDK's attempts when {@code HttpRetryOptions.attempts} is unset (RetryInterceptor). */
  static final int SDK_DEFAULT_ATTEMPTS = 5;

  private final AtomicBoolean warned = new AtomicBoolean();

  @Override
  public Response intercept(Chain chain) throws IOException {
    Request request = chain.request();
    HttpRetryOptions asked = request.tag(HttpRetryOptions.class);
    if (asked == null || attempts(asked) <= 1) return chain.proceed(request);
    if (warned.compareAndSet(false, true)) {
      log.warn("a call asked the GenAI SDK for {} attempts (httpOptions.retryOptions.attempts);"
          + " under gemini-rotator the SDK makes one, since it would repeat the same pool key,"
          + " and the interceptor retries on another key instead. Logged once per client.",
          attempts(asked));
    }
    HttpRetryOptions single = asked.toBuilder().attempts(1).build();
    return chain.proceed(request.newBuilder().tag(HttpRetryOptions.class, single).build());
  }

  /** The attempts the SDK would make with these options. */
  static int attempts(HttpRetryOptions options) {
    return options.attempts().orElse(SDK_DEFAULT_ATTEMPTS);
  }

  @Override
  public String toString() {
    return "SingleSdkAttempt";
  }
}
