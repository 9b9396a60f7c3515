package dev.geminirotator.standalone;

import java.util.UUID;
import java.util.regex.Pattern;
import org.eclipse.jetty.server.Request;

/**
 * Request ids: the client's {@code X-Request-Id} when it is sane (at most 64 characters of
 * {@code [A-Za-z0-9._-]}), else a fresh UUID. Stored as a request attribute. Thread-safe.
 */
final class RequestIds {

  static final String HEADER = "X-Request-Id";
  static final String ATTRIBUTE = RequestIds.class.getName();
  private static final Pattern SANE = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private RequestIds() {
  }

  /** Assigns the request its id and returns it. */
  static String assign(Request request) {
    String given = request.getHeaders().get(HEADER);
    String id = given != null && SANE.matcher(given).matches() ? given : UUID.randomUUID()
        .toString();
    request.setAttribute(ATTRIBUTE, id);
    return id;
  }

  /** The id assigned to this request, or {@code null}. */
  static String get(Request request) {
    Object id = request.getAttribute(ATTRIBUTE);
    return id instanceof String s ? s : null;
  }
}
