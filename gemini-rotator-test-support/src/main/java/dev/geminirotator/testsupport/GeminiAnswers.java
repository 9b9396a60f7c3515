package dev.geminirotator.testsupport;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import mockwebserver3.MockResponse;

/**
 * The answers {@link FakeGemini} sends, in the shapes Gemini uses: JSON bodies and Google's error
 * envelope ({@code {"error": {"code", "message", "status"}}}, docs/gemini-resources.md §9).
 * Stateless and thread-safe.
 */
final class GeminiAnswers {

  static final ObjectMapper JSON = new ObjectMapper();

  private GeminiAnswers() {
  }

  static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code)
        .addHeader("Content-Type", "application/json; charset=UTF-8").body(body).build();
  }

  static MockResponse json(int code, JsonNode body) {
    return json(code, body.toString());
  }

  /** Google's error envelope with no details. */
  static MockResponse error(int code, String status, String message) {
    ObjectNode error = JSON.createObjectNode();
    error.putObject("error").put("code", code).put("message", message).put("status", status);
    return json(code, error);
  }

  /** 400 INVALID_ARGUMENT naming what was wrong. */
  static MockResponse invalid(String message) {
    return error(400, "INVALID_ARGUMENT", message);
  }

  /**
   * The answer to a resource of another project, or one that does not exist: Google does not
   * say which (docs/gemini-resources.md §9). Files, caches and file search stores answer 403
   * PERMISSION_DENIED (§2, §3, §5: the python SDK's replay tests expect PERMISSION_DENIED for
   * caches and stores; users report 403 for files); batches answer 404 NOT_FOUND, the other half
   * of what the issue saw (§4 leaves the exact status UNCONFIRMED).
   */
  static MockResponse notVisible(FakeGemini.Kind kind, String name) {
    String id = name.substring(name.indexOf('/') + 1);
    return switch (kind) {
      case FILE -> error(403, "PERMISSION_DENIED", "You do not have permission to access the File "
          + id + " or it may not exist.");
      case CACHED_CONTENT -> error(403, "PERMISSION_DENIED", "CachedContent not found (or"
          + " permission denied)");
      case FILE_SEARCH_STORE -> error(403, "PERMISSION_DENIED", "You do not have permission to"
          + " access the FileSearchStore " + id + " or it may not exist.");
      case BATCH -> error(404, "NOT_FOUND", "Requested entity was not found.");
      case UPLOAD -> error(404, "NOT_FOUND", "Upload session " + id + " was not found.");
    };
  }

  /** Gemini's answer to a credential it does not know (fixture 400-api-key-invalid). */
  static MockResponse apiKeyInvalid() {
    return json(400, Fixtures.geminiError("400-api-key-invalid"));
  }

  /** Gemini's answer to a request carrying no credential at all. */
  static MockResponse unregistered() {
    return error(403, "PERMISSION_DENIED", "Method doesn't allow unregistered callers (callers"
        + " without established identity). Please use API Key or other form of API consumer"
        + " identity to call this API.");
  }

  static MockResponse notFound(String path) {
    return error(404, "NOT_FOUND", "The fake Gemini serves no " + path);
  }

  /** The streamGenerateContent answer: SSE events with {@code alt=sse}, else a JSON array. */
  static MockResponse stream(boolean sse) {
    String events = Fixtures.geminiResponse("stream-generate-content.sse");
    if (sse) {
      return new MockResponse.Builder().code(200).addHeader("Content-Type", "text/event-stream")
          .body(events).build();
    }
    StringBuilder array = new StringBuilder("[");
    for (String line : events.split("\n")) {
      if (!line.startsWith("data: ")) continue;
      if (array.length() > 1) array.append(",\n");
      array.append(line.substring("data: ".length()));
    }
    return json(200, array.append("]").toString());
  }
}
