package dev.geminirotator.standalone;

import java.io.IOException;
import org.eclipse.jetty.http.HttpStatus;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.handler.ErrorHandler;
import org.eclipse.jetty.util.Callback;

/**
 * Jetty's own error responses (a request line, path, header or body Jetty refuses before or
 * around the proxy's handlers: ambiguous or badly encoded paths, control characters, oversized
 * headers or URIs, failed reads) as the proxy's problem documents instead of Jetty's HTML page.
 * A 4xx keeps Jetty's short reason (fixed parser text such as "Ambiguous URI path segment"); a
 * 5xx says nothing about the exception. Stateless and thread-safe.
 */
final class ProblemErrorHandler extends ErrorHandler {

  /** Every method gets its problem document (Jetty's default: GET, POST and HEAD only). */
  @Override
  public boolean errorPageForMethod(String method) {
    return true;
  }

  @Override
  protected void generateResponse(Request request, Response response, int code, String message,
      Throwable cause, Callback callback) throws IOException {
    if (RequestIds.get(request) == null) {
      try {
        response.getHeaders().put(RequestIds.HEADER, RequestIds.assign(request));
      } catch (RuntimeException e) {
        // a request too broken to carry attributes still gets its problem document
      }
    }
    ProxyServer.securityHeaders(response);
    String path = pathOf(request);
    String reason = HttpStatus.getMessage(code);
    String detail = code >= 500 || message == null ? reason : sanitize(message);
    String slug = switch (code) {
      case 400 -> "bad-request";
      case 408 -> "request-timeout";
      case 413 -> "request-too-large";
      case 414 -> "uri-too-long";
      case 431 -> "headers-too-large";
      case 503 -> "unavailable"; // Jetty's graceful shutdown refusing a new request
      default -> code >= 500 ? "proxy-error" : "http-" + code;
    };
    Problems.send(request, response, callback, code, slug, reason, detail,
        path != null && GeminiProxy.isProxied(path), -1);
  }

  private static String pathOf(Request request) {
    try {
      return request.getHttpURI() == null ? null : request.getHttpURI().getPath();
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** Jetty's reason, as printable ASCII, at most 120 characters. */
  static String sanitize(String message) {
    StringBuilder sb = new StringBuilder(Math.min(message.length(), 120));
    for (int i = 0; i < message.length() && sb.length() < 120; i++) {
      char c = message.charAt(i);
      sb.append(c >= 0x20 && c < 0x7f ? c : '?');
    }
    return sb.toString();
  }
}
