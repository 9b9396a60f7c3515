package dev.geminirotator.core.internal;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * Writes errors a gemini-rotator answers itself in the shape Gemini answers its own, so that the
 * official SDKs and any Google-aware client read them as they read Gemini's:
 *
 * <pre>{@code
 * {"error": {"code": 429, "message": "no key available for model ...", "status": "RESOURCE_EXHAUSTED",
 *   "details": [
 *     {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "NO_KEY_AVAILABLE",
 *      "domain": "gemini-rotator", "metadata": {"requestId": "...", ...}},
 *     {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "12s"}]}}
 * }</pre>
 *
 * <p>{@code status} is the google.rpc.Code name Google uses for the HTTP status. The
 * {@code ErrorInfo}'s domain {@value #DOMAIN} says the answer is a rotator's own and not about a
 * Gemini key (no reason of ours is one {@link GeminiClassifier} takes for a key's); the
 * {@code RetryInfo} is there when the answer has a {@code Retry-After}, as Gemini's 429s carry one.
 * Stateless and thread-safe.
 */
public final class GeminiErrors {

  /** The {@code ErrorInfo.domain} of every error a gemini-rotator makes itself. */
  public static final String DOMAIN = "gemini-rotator";

  static final String ERROR_INFO = "type.googleapis.com/google.rpc.ErrorInfo";
  static final String RETRY_INFO = "type.googleapis.com/google.rpc.RetryInfo";

  private static final ObjectMapper JSON = new ObjectMapper();

  private GeminiErrors() {
  }

  /**
   * Gemini's {@code error} object.
   *
   * @param code the HTTP status
   * @param message what happened and what to do; never a secret
   * @param reason an upper-case token for {@code ErrorInfo.reason}, e.g. {@code NO_KEY_AVAILABLE};
   *     a slug such as {@code no-key-available} is turned into one
   * @param metadata string pairs for {@code ErrorInfo.metadata} (the request id, the problem type,
   *     ...); null values are left out
   * @param retryAfterSeconds the {@code RetryInfo.retryDelay} in seconds; negative for none
   */
  public static ObjectNode error(int code, String message, String reason,
      Map<String, String> metadata, long retryAfterSeconds) {
    Objects.requireNonNull(reason, "reason");
    ObjectNode error = JSON.createObjectNode();
    error.put("code", code);
    error.put("message", message == null ? "" : message);
    error.put("status", statusName(code));
    ArrayNode details = error.putArray("details");
    ObjectNode info = details.addObject();
    info.put("@type", ERROR_INFO);
    info.put("reason", reason.toUpperCase(Locale.ROOT).replace('-', '_'));
    info.put("domain", DOMAIN);
    ObjectNode meta = info.putObject("metadata");
    if (metadata != null) {
      metadata.forEach((k, v) -> {
        if (v != null) meta.put(k, v);
      });
    }
    if (retryAfterSeconds >= 0) {
      ObjectNode retry = details.addObject();
      retry.put("@type", RETRY_INFO);
      retry.put("retryDelay", retryAfterSeconds + "s");
    }
    return error;
  }

  /** A whole body, {@code {"error": ...}}, as UTF-8 JSON; see {@link #error}. */
  public static byte[] body(int code, String message, String reason, Map<String, String> metadata,
      long retryAfterSeconds) {
    ObjectNode body = JSON.createObjectNode();
    body.set("error", error(code, message, reason, metadata, retryAfterSeconds));
    try {
      return JSON.writeValueAsBytes(body);
    } catch (Exception e) {
      return ("{\"error\":{\"code\":" + code + ",\"status\":\"" + statusName(code) + "\"}}")
          .getBytes(StandardCharsets.UTF_8);
    }
  }

  /** The google.rpc.Code name Google's APIs answer with this HTTP status. */
  public static String statusName(int status) {
    return switch (status) {
      case 400, 411, 413, 414, 431 -> "INVALID_ARGUMENT";
      case 401 -> "UNAUTHENTICATED";
      case 403 -> "PERMISSION_DENIED";
      case 404 -> "NOT_FOUND";
      case 405, 501 -> "UNIMPLEMENTED";
      case 408, 504 -> "DEADLINE_EXCEEDED";
      case 409 -> "ABORTED";
      case 412 -> "FAILED_PRECONDITION";
      case 416 -> "OUT_OF_RANGE";
      case 429 -> "RESOURCE_EXHAUSTED";
      case 499 -> "CANCELLED";
      case 502, 503 -> "UNAVAILABLE";
      default -> status >= 500 ? "INTERNAL" : status >= 400 ? "FAILED_PRECONDITION" : "UNKNOWN";
    };
  }
}
