package dev.geminirotator.standalone;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * Writes the RFC 7807 problem documents the proxy produces itself: {@code type}, {@code title},
 * {@code status}, {@code detail}, {@code instance}, {@code requestId}, and on Gemini routes also
 * Gemini's own {@code error} object so SDKs understand them. Details never carry secrets: callers
 * pass fixed text or messages from core that name ids only. Stateless and thread-safe.
 */
final class Problems {

  static final String TYPE_BASE = "https://gemini-rotator.dev/problems/";
  static final ObjectMapper JSON = new ObjectMapper();

  private Problems() {
  }

  /**
   * Sends a problem, ending the response.
   *
   * @param slug the last part of the type URI, e.g. {@code no-key-available}
   * @param gemini whether to add Gemini's {@code error} object
   * @param retryAfterSeconds the {@code Retry-After} value, or a negative number for none
   * @param onDone gets {@code null} once sent, else the failure
   */
  static void send(ProxyRequest request, ProxyResponse response, int status, String slug,
      String title, String detail, boolean gemini, long retryAfterSeconds,
      Consumer<Throwable> onDone) {
    byte[] bytes = body(status, slug, title, detail, request.path(), request.requestId(),
        gemini);
    response.headers().set("Cache-Control", "no-store");
    if (retryAfterSeconds >= 0) {
      response.headers().set("Retry-After", Long.toString(retryAfterSeconds));
    }
    response.send(status, "application/problem+json", bytes, onDone);
  }

  /** Sends a problem; nothing to do when it is written. */
  static void send(ProxyRequest request, ProxyResponse response, int status, String slug,
      String title, String detail, boolean gemini, long retryAfterSeconds) {
    send(request, response, status, slug, title, detail, gemini, retryAfterSeconds, x -> { });
  }

  /** The problem document's bytes. */
  static byte[] body(int status, String slug, String title, String detail, String instance,
      String requestId, boolean gemini) {
    ObjectNode body = JSON.createObjectNode();
    body.put("type", TYPE_BASE + slug);
    body.put("title", title);
    body.put("status", status);
    body.put("detail", detail);
    if (instance != null) body.put("instance", instance);
    if (requestId != null) body.put("requestId", requestId);
    if (gemini) {
      ObjectNode error = body.putObject("error");
      error.put("code", status);
      error.put("message", detail);
      error.put("status", grpcStatus(status));
    }
    try {
      return JSON.writeValueAsBytes(body);
    } catch (Exception e) {
      return ("{\"status\":" + status + "}").getBytes(StandardCharsets.UTF_8);
    }
  }

  /** The google.rpc.Code name Gemini uses for an HTTP status. */
  static String grpcStatus(int status) {
    return switch (status) {
      case 400 -> "INVALID_ARGUMENT";
      case 401 -> "UNAUTHENTICATED";
      case 403 -> "PERMISSION_DENIED";
      case 404 -> "NOT_FOUND";
      case 408, 504 -> "DEADLINE_EXCEEDED";
      case 409 -> "ABORTED";
      case 413 -> "INVALID_ARGUMENT";
      case 429 -> "RESOURCE_EXHAUSTED";
      case 501 -> "UNIMPLEMENTED";
      case 502, 503 -> "UNAVAILABLE";
      default -> status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION";
    };
  }
}
