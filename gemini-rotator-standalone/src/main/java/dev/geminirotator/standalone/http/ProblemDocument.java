package dev.geminirotator.standalone.http;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.charset.StandardCharsets;

/**
 * An RFC 7807 problem document ({@code application/problem+json}): {@code type}, {@code title},
 * {@code status}, {@code detail}, {@code instance} and {@code requestId}, and the one JSON mapper
 * the proxy writes its own bodies with. Callers pass fixed text or messages that name ids only,
 * never a secret. Stateless and thread-safe.
 */
public final class ProblemDocument {

  /** Every problem's {@code type} is this followed by its slug. */
  public static final String TYPE_BASE = "https://gemini-rotator.dev/problems/";
  /** The media type of a problem document. */
  public static final String MEDIA_TYPE = "application/problem+json";
  /** Writes the proxy's own JSON bodies. Thread-safe once configured, and never reconfigured. */
  public static final ObjectMapper JSON = new ObjectMapper();

  private ProblemDocument() {
  }

  /** A problem document; {@code instance} and {@code requestId} are left out when null. */
  public static ObjectNode of(int status, String slug, String title, String detail,
      String instance, String requestId) {
    ObjectNode body = JSON.createObjectNode();
    body.put("type", TYPE_BASE + slug);
    body.put("title", title);
    body.put("status", status);
    body.put("detail", detail);
    if (instance != null) body.put("instance", instance);
    if (requestId != null) body.put("requestId", requestId);
    return body;
  }

  /** A document's bytes; should writing fail, a minimal one that still carries the status. */
  public static byte[] bytes(ObjectNode body, int status) {
    try {
      return JSON.writeValueAsBytes(body);
    } catch (Exception e) {
      return ("{\"status\":" + status + "}").getBytes(StandardCharsets.UTF_8);
    }
  }
}
