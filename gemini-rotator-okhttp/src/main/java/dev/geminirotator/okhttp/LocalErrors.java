package dev.geminirotator.okhttp;

import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.NoKeyAvailableException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import okhttp3.MediaType;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * The responses the interceptor answers itself, shaped like Gemini's own errors so that SDKs
 * understand them: {@code {"error": {"code": 429, "message": "...", "status":
 * "RESOURCE_EXHAUSTED"}}} with {@code Retry-After} in whole seconds, rounded up.
 */
final class LocalErrors {

  /** Marks a response the interceptor made without calling Gemini; its value says why. */
  static final String SOURCE_HEADER = "X-Gemini-Rotator";

  private static final MediaType JSON = MediaType.get("application/json; charset=UTF-8");

  private LocalErrors() {
  }

  /** 429 RESOURCE_EXHAUSTED: no key can take the request now. */
  static Response noKeyAvailable(Request request, NoKeyAvailableException e, Clock clock) {
    return error(request, 429, "Too Many Requests", "RESOURCE_EXHAUSTED", e.getMessage(),
        e.earliestAvailable().orElse(null), "no-key-available", clock);
  }

  /** 503 UNAVAILABLE: the circuit guard is open. */
  static Response circuitOpen(Request request, CircuitOpenException e, Clock clock) {
    return error(request, 503, "Service Unavailable", "UNAVAILABLE", e.getMessage(), e.retryAt(),
        "circuit-open", clock);
  }

  /** Whole seconds from now until {@code at}, rounded up, at least 1. */
  static long retryAfterSeconds(Instant at, Clock clock) {
    long millis = Duration.between(clock.instant(), at).toMillis();
    return Math.max(1, (millis + 999) / 1000);
  }

  private static Response error(Request request, int code, String reasonPhrase, String status,
      String message, Instant retryAt, String source, Clock clock) {
    String json = "{\"error\":{\"code\":" + code + ",\"message\":\"" + escape(message)
        + "\",\"status\":\"" + status + "\"}}";
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
    if (retryAt != null) {
      b.header("Retry-After", Long.toString(retryAfterSeconds(retryAt, clock)));
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
