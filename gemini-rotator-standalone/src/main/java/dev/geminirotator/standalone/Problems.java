package dev.geminirotator.standalone;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.Callback;

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
   * Sends a problem and completes the callback.
   *
   * @param slug the last part of the type URI, e.g. {@code no-key-available}
   * @param gemini whether to add Gemini's {@code error} object
   * @param retryAfterSeconds the {@code Retry-After} value, or a negative number for none
   */
  static void send(Request request, Response response, Callback callback, int status, String slug,
      String title, String detail, boolean gemini, long retryAfterSeconds) {
    ObjectNode body = JSON.createObjectNode();
    body.put("type", TYPE_BASE + slug);
    body.put("title", title);
    body.put("status", status);
    body.put("detail", detail);
    String instance = instanceOf(request);
    if (instance != null) body.put("instance", instance);
    String requestId = RequestIds.get(request);
    if (requestId != null) body.put("requestId", requestId);
    if (gemini) {
      ObjectNode error = body.putObject("error");
      error.put("code", status);
      error.put("message", detail);
      error.put("status", grpcStatus(status));
    }
    byte[] bytes;
    try {
      bytes = JSON.writeValueAsBytes(body);
    } catch (Exception e) {
      bytes = ("{\"status\":" + status + "}").getBytes(StandardCharsets.UTF_8);
    }
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/problem+json");
    response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
    if (retryAfterSeconds >= 0) {
      response.getHeaders().put(HttpHeader.RETRY_AFTER, Long.toString(retryAfterSeconds));
    }
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
    response.write(true, java.nio.ByteBuffer.wrap(bytes), callback);
  }

  /** The request's path, or {@code null} for a request line too broken to have one. */
  private static String instanceOf(Request request) {
    try {
      return request.getHttpURI() == null ? null : request.getHttpURI().getPath();
    } catch (RuntimeException e) {
      return null;
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
