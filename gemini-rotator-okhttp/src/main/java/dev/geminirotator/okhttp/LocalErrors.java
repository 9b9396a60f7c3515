package dev.geminirotator.okhttp;

import dev.geminirotator.core.internal.exchange.RetryAdvice;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.internal.GeminiErrors;
import dev.geminirotator.core.internal.exchange.LocalAnswer;
import java.time.Clock;
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

  /** Core's own answer ({@link LocalAnswer}) as a Gemini error. */
  static Response render(Request request, LocalAnswer answer, Clock clock) {
    return error(request, answer.status(), reasonPhrase(answer.status()), answer.message(),
        answer.retryAfterSeconds(), answer.reason(), clock);
  }

  private static String reasonPhrase(int code) {
    return switch (code) {
      case 404 -> "Not Found";
      case 429 -> "Too Many Requests";
      case 503 -> "Service Unavailable";
      default -> "Error";
    };
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
}
