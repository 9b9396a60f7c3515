package dev.geminirotator.core.internal.exchange;

import static dev.geminirotator.core.internal.exchange.GeminiRequests.GEMINI_HOST;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.MAX_CANDIDATES;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.MAX_ID_LENGTH;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.MAX_MODEL_LENGTH;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.canonicalModel;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.isId;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.isVersion;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.startsWithIgnoreCase;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.geminirotator.api.RequestContext;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;

/**
 * Reads the model and the resources a JSON request body names, with Jackson's streaming parser,
 * into a {@link RequestParse}: a name is read ONLY at one of its documented JSON paths (the
 * allowlist below, each segment in its camelCase and snake_case spelling, as proto JSON accepts
 * both), every other subtree is skipped unread, string values are decoded only at those paths,
 * and the read stops at the bounds {@link GeminiRequests} documents. Stateless; each call is
 * confined to its thread.
 *
 * <p>Why an allowlist: free-form {@code Struct}/{@code Value} subtrees ({@code
 * functionCall.args}, {@code functionResponse.response}, {@code responseSchema}, {@code
 * responseJsonSchema}, {@code parametersJsonSchema}, a function's {@code parameters}, a batch
 * request's {@code metadata}) are the client's own data, which Gemini never reads as a resource
 * name; a name read there would let any client pin (or hide) someone else's resource. The paths,
 * from {@code docs/gemini-resources.md} (sections 2 to 7 and its summary table) and the sources it
 * cites ({@code content.proto}, {@code generative_service.proto}, {@code cached_content.proto},
 * the python SDK's {@code batches.py} and {@code file_search_stores.py}, the JS SDK's
 * {@code interactions} types):
 * <ul>
 *   <li>a {@code GenerateContentRequest} ({@code generateContent}, {@code
 *       streamGenerateContent}, a {@code cachedContents} create, which holds the same fields):
 *       {@code contents[].parts[].fileData.fileUri}, {@code
 *       systemInstruction.parts[].fileData.fileUri}, {@code cachedContent}, {@code
 *       tools[].fileSearch.fileSearchStoreNames[]}, and {@code model} at the top;
 *   <li>{@code countTokens}: the above, and the same under {@code generateContentRequest};
 *   <li>{@code embedContent}: {@code content.parts[].fileData.fileUri};
 *   <li>{@code batchGenerateContent}: {@code batch.inputConfig.fileName}, and a
 *       {@code GenerateContentRequest} under {@code batch.inputConfig.requests.requests[].request};
 *   <li>{@code fileSearchStores/{s}:importFile}: {@code fileName};
 *   <li>Interactions: {@code previous_interaction_id}, {@code tools[].file_search_store_names[]},
 *       {@code input[].uri} and {@code input[].content[].uri}, {@code store};
 *   <li>the OpenAI-compatible surface: {@code cached_content} and
 *       {@code extra_body.google.cached_content}.
 * </ul>
 * Arrays are walked one level (a repeated field); an array inside an array is skipped.
 */
final class RequestBodyReader {

  private RequestBodyReader() {
  }

  private static final int NONE = 0;
  private static final int FILE_URI = 1;
  private static final int URI = 2;
  private static final int CACHED = 3;
  private static final int STORES = 4;
  private static final int FILE_NAME = 5;
  private static final int INTERACTION = 6;
  private static final int MODEL = 7;
  private static final int STORE_FLAG = 8;

  /** One step of the allowlist: what the value at this path is, and where deeper paths go. */
  private static final class Node {
    final Map<String, Node> children = new HashMap<>();
    int rule = NONE;

    /** The child at {@code camel} (also reachable by its snake_case spelling), made if absent. */
    Node at(String camel) {
      Node n = children.get(camel);
      if (n == null) {
        n = new Node();
        children.put(camel, n);
        children.put(snake(camel), n);
      }
      return n;
    }

    Node path(String dotted, int rule) {
      Node n = this;
      for (String segment : dotted.split("\\.")) {
        n = n.at(segment);
      }
      n.rule = rule;
      return n;
    }

    /** Grafts {@code other}'s paths under this node (shared, read-only afterwards). */
    void graft(Node other) {
      children.putAll(other.children);
    }
  }

  /** The root of every allowlisted path. Built once; read-only afterwards. */
  private static final Node ROOT = allowlist();

  /** A {@code GenerateContentRequest}'s (and a {@code CachedContent}'s) resource fields. */
  private static Node generate() {
    Node g = new Node();
    g.path("contents.parts.fileData.fileUri", FILE_URI);
    g.path("systemInstruction.parts.fileData.fileUri", FILE_URI);
    g.path("cachedContent", CACHED);
    g.path("tools.fileSearch.fileSearchStoreNames", STORES);
    return g;
  }

  private static Node allowlist() {
    Node root = generate();
    root.path("model", MODEL);
    root.path("store", STORE_FLAG);
    root.path("generateContentRequest", NONE).graft(generate());
    root.path("content.parts.fileData.fileUri", FILE_URI);
    root.path("batch.inputConfig.fileName", FILE_NAME);
    root.path("batch.inputConfig.requests.requests.request", NONE).graft(generate());
    root.path("fileName", FILE_NAME);
    root.path("previousInteractionId", INTERACTION);
    root.path("tools.fileSearchStoreNames", STORES); // an Interactions file_search tool
    root.path("input.uri", URI);
    root.path("input.content.uri", URI);
    root.path("extraBody.google.cachedContent", CACHED);
    return root;
  }

  private static String snake(String camel) {
    StringBuilder b = new StringBuilder(camel.length() + 4);
    for (int i = 0; i < camel.length(); i++) {
      char c = camel.charAt(i);
      if (c >= 'A' && c <= 'Z') {
        b.append('_').append((char) (c + 32));
      } else {
        b.append(c);
      }
    }
    return b.toString();
  }

  static void read(RequestParse s, JsonParser p) {
    try {
      if (p.nextToken() == JsonToken.START_OBJECT) {
        object(s, p, ROOT, true);
      }
    } catch (IOException | RuntimeException e) {
      // Malformed, too deep, or not JSON: keep what was found so far; Gemini answers the rest.
    }
  }

  /** Reads the object the parser just opened; false when the read should stop. */
  private static boolean object(RequestParse s, JsonParser p, Node node, boolean top)
      throws IOException {
    JsonToken t;
    while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
      Node child = node.children.get(p.currentName());
      JsonToken v = p.nextToken();
      if (child == null) {
        p.skipChildren(); // not an allowlisted path: never read
      } else if (!value(s, p, child, v, top, false)) {
        return false;
      }
    }
    return t == JsonToken.END_OBJECT;
  }

  /** Reads the value the parser is at, at {@code node}'s path; false when the read should stop. */
  private static boolean value(RequestParse s, JsonParser p, Node node, JsonToken v, boolean top,
      boolean inArray) throws IOException {
    if (v == null) {
      return false;
    }
    switch (v) {
      case START_OBJECT:
        if (node.children.isEmpty()) {
          p.skipChildren();
          return true;
        }
        return object(s, p, node, false);
      case START_ARRAY:
        if (inArray) {
          p.skipChildren(); // a repeated field holds no arrays
          return true;
        }
        while ((v = p.nextToken()) != JsonToken.END_ARRAY) {
          if (!value(s, p, node, v, false, true)) {
            return false;
          }
        }
        return true;
      case VALUE_FALSE:
        if (node.rule == STORE_FLAG && top && s.creates == ResourceKind.INTERACTION) {
          s.creates = null; // store=false: nothing is kept to be named later (section 7)
        }
        return true;
      case VALUE_STRING:
        if (node.rule == NONE || node.rule == STORE_FLAG) {
          return true;
        }
        if (node.rule == MODEL) {
          if (top && s.modelInBody) {
            s.modelInBody = false; // the first one counts
            String text = small(p, MAX_MODEL_LENGTH + 16);
            s.model = text == null ? RequestContext.ANY_MODEL : canonicalModel(text);
          }
          return true;
        }
        leaf(s, p, node.rule);
        return !(s.full() || s.candidates >= MAX_CANDIDATES);
      default:
        return true;
    }
  }

  /** A string at a resource-naming path. */
  private static void leaf(RequestParse s, JsonParser p, int rule) throws IOException {
    s.candidates++;
    switch (rule) {
      case FILE_URI:
        s.add(fileOf(small(p, 4 * MAX_ID_LENGTH), true));
        break;
      case URI:
        s.add(fileOf(small(p, 4 * MAX_ID_LENGTH), false));
        break;
      case CACHED:
        s.add(named(p, "cachedContents/"));
        break;
      case STORES:
        s.add(named(p, "fileSearchStores/"));
        break;
      case FILE_NAME:
        s.add(fileOf(small(p, 4 * MAX_ID_LENGTH), true));
        break;
      case INTERACTION: {
        String id = small(p, MAX_ID_LENGTH + 16);
        if (id != null && id.startsWith("interactions/")) {
          id = id.substring(13);
        }
        s.add(id != null && isId(id)
            ? new ResourceRef(ResourceKind.INTERACTION, "interactions/" + id) : null);
        break;
      }
      default:
        break;
    }
  }

  /** The current string value if it has at most {@code max} characters, else null. */
  private static String small(JsonParser p, int max) throws IOException {
    // getTextLength decodes into the parser's own buffer; no String for an oversized value.
    return p.getTextLength() <= max ? p.getText() : null;
  }

  /** The ref of {@code collection}{id} when the current string names one, else null. */
  private static ResourceRef named(JsonParser p, String collection) throws IOException {
    String s = small(p, collection.length() + MAX_ID_LENGTH);
    if (s == null || !s.startsWith(collection)) {
      return null;
    }
    String id = s.substring(collection.length());
    return isId(id) ? GeminiRequests.resource(s) : null;
  }

  /**
   * A file named by {@code files/{id}} (when {@code bare} is allowed) or by its URI {@code
   * https://generativelanguage.googleapis.com/{version}/files/{id}}, optionally followed by
   * {@code :download} and a query (a generated video's URI: section 2); else null.
   */
  private static ResourceRef fileOf(String s, boolean bare) {
    if (s == null) {
      return null;
    }
    String rest;
    if (bare && s.startsWith("files/")) {
      rest = s.substring(6);
    } else if (startsWithIgnoreCase(s, GEMINI_HOST)) {
      int slash = s.indexOf('/', GEMINI_HOST.length());
      if (slash < 0 || !isVersion(s.substring(GEMINI_HOST.length(), slash))
          || !s.startsWith("files/", slash + 1)) {
        return null;
      }
      rest = s.substring(slash + 7);
    } else {
      return null;
    }
    int end = rest.length();
    for (int i = 0; i < rest.length(); i++) {
      char c = rest.charAt(i);
      if (c == ':' || c == '?' || c == '#') {
        end = i;
        break;
      }
    }
    String id = rest.substring(0, end);
    return isId(id) ? new ResourceRef(ResourceKind.FILE, "files/" + id) : null;
  }
}
