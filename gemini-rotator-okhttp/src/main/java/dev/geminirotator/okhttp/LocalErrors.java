package dev.geminirotator.okhttp;

import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.core.attempt.RetryAdvice;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.classify.GeminiErrors;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import okhttp3.MediaType;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * The responses the interceptor answers itself, shaped like Gemini's own errors so that SDKs
 * understand them ({@link GeminiErrors}: {@code error.code}, {@code error.message},
 * {@code error.status}, and {@code error.details} with an {@code ErrorInfo} of domain
 * {@code gemini-rotator} and, with a {@code Retry-After}, a {@code RetryInfo}). The
 * {@code Retry-After} comes from {@link RetryAdvice}: whole seconds, rounded up, at least 1. When no
 * key frees up by itself the answer is 503 without {@code Retry-After}. Every one carries
 * {@link GeminiClassifier#ROTATOR_ANSWER_HEADER}.
 */
final class LocalErrors {

  /** Marks a response the interceptor made without calling Gemini; its value says why. */
  static final String SOURCE_HEADER = GeminiClassifier.ROTATOR_ANSWER_HEADER;

  private static final MediaType JSON = MediaType.get("application/json; charset=UTF-8");

  private LocalErrors() {
  }

  /**
   * 429 RESOURCE_EXHAUSTED: no key can take the request now, with {@code Retry-After} when the
   * pool frees up; 503 UNAVAILABLE without one when no key frees up by itself.
   */
  static Response noKeyAvailable(Request request, NoKeyAvailableException e, RetryAdvice advice,
      Clock clock) {
    int code = advice.noKeyStatus();
    return error(request, code, code == 429 ? "Too Many Requests" : "Service Unavailable",
        e.getMessage(), advice.seconds(), "no-key-available", clock);
  }

  /** 503 UNAVAILABLE: the circuit guard is open. */
  static Response circuitOpen(Request request, CircuitOpenException e, Clock clock) {
    return error(request, 503, "Service Unavailable", e.getMessage(),
        RetryAdvice.breakerOpen(e.retryAt(), clock).seconds(), "circuit-open", clock);
  }

  /** Whole seconds from now until {@code at}, rounded up, at least 1. */
  static long retryAfterSeconds(Instant at, Clock clock) {
    return RetryAdvice.secondsUntil(at, clock);
  }

  private static Response error(Request request, int code, String reasonPhrase, String message,
      long retryAfterSeconds, String source, Clock clock) {
    byte[] json = GeminiErrors.body(code, message, source, Map.of("source", "interceptor"),
        retryAfterSeconds);
    long now = clock.millis();
    Response.Builder b = new Response.Builder()
        .request(request)
        .protocol(Protocol.HTTP_1_1)
        .code(code)
        .message(reasonPhrase)
        .header("Content-Type", JSON.toString())
        .header(SOURCE_HEADER, source)
        .body(ResponseBody.create(json, JSON))
        .sentRequestAtMillis(now)
        .receivedResponseAtMillis(now);
    if (retryAfterSeconds >= 0) {
      b.header("Retry-After", Long.toString(retryAfterSeconds));
    }
    return b.build();
  }

  /** JSON string escaping: quotes, backslashes and control characters. */
  static String escape(String text) {
    if (text == null) {
      return "";
    }
    StringBuilder sb = new StringBuilder(text.length() + 16);
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.toString();
  }
}
