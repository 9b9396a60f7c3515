package dev.geminirotator.core.exchange;

import static dev.geminirotator.core.exchange.GeminiRequests.GEMINI_HOST;
import static dev.geminirotator.core.exchange.GeminiRequests.MAX_CANDIDATES;
import static dev.geminirotator.core.exchange.GeminiRequests.MAX_ID_LENGTH;
import static dev.geminirotator.core.exchange.GeminiRequests.MAX_MODEL_LENGTH;
import static dev.geminirotator.core.exchange.GeminiRequests.canonicalModel;
import static dev.geminirotator.core.exchange.GeminiRequests.isId;
import static dev.geminirotator.core.exchange.GeminiRequests.isVersion;
import static dev.geminirotator.core.exchange.GeminiRequests.startsWithIgnoreCase;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.geminirotator.api.RequestContext;
import java.io.IOException;

/**
 * Reads the model and the resources a JSON request body names, with Jackson's streaming parser,
 * into a {@link RequestParse}: field names are matched at any depth, string values are decoded only
 * for the fields that name something, and the read stops at the bounds {@link GeminiRequests}
 * documents. Stateless; each call is confined to its thread.
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

  private static int ruleOf(String field) {
    switch (field) {
      case "fileUri":
      case "file_uri":
        return FILE_URI;
      case "uri":
        return URI;
      case "cachedContent":
      case "cached_content":
        return CACHED;
      case "fileSearchStoreNames":
      case "file_search_store_names":
        return STORES;
      case "fileName":
      case "file_name":
        return FILE_NAME;
      case "previous_interaction_id":
      case "previousInteractionId":
        return INTERACTION;
      case "model":
        return MODEL;
      case "store":
        return STORE_FLAG;
      default:
        return NONE;
    }
  }

  static void read(RequestParse s, JsonParser p) {
    try {
      int depth = 0;
      JsonToken t;
      while ((t = p.nextToken()) != null) {
        switch (t) {
          case START_OBJECT:
          case START_ARRAY:
            depth++;
            break;
          case END_OBJECT:
          case END_ARRAY:
            depth--;
            break;
          case FIELD_NAME:
            depth += field(s, p, ruleOf(p.currentName()), depth == 1);
            if (s.full() || s.candidates >= MAX_CANDIDATES) {
              return;
            }
            break;
          default:
            break;
        }
      }
    } catch (IOException | RuntimeException e) {
      // Malformed, too deep, or not JSON: keep what was found so far; Gemini answers the rest.
    }
  }

  /**
   * Reads the value of a field the parser is at; returns the change in depth (1 when the value
   * opens an object or array that the main loop then walks).
   */
  private static int field(RequestParse s, JsonParser p, int rule, boolean topLevel)
      throws IOException {
    JsonToken v = p.nextToken();
    if (v == JsonToken.START_OBJECT) {
      return 1;
    }
    if (v == JsonToken.START_ARRAY) {
      if (rule != STORES) {
        return 1;
      }
      while ((v = p.nextToken()) != JsonToken.END_ARRAY && v != null) {
        if (v == JsonToken.VALUE_STRING) {
          s.add(named(p, "fileSearchStores/"));
          if (s.full() || ++s.candidates >= MAX_CANDIDATES) {
            return 0;
          }
        } else {
          p.skipChildren();
        }
      }
      return 0;
    }
    if (rule == STORE_FLAG) {
      if (topLevel && v == JsonToken.VALUE_FALSE && s.creates == ResourceKind.INTERACTION) {
        s.creates = null; // store=false: nothing is kept to be named later (section 7)
      }
      return 0;
    }
    if (v != JsonToken.VALUE_STRING || rule == NONE) {
      return 0;
    }
    if (rule == MODEL) {
      if (topLevel && s.modelInBody) {
        s.modelInBody = false; // the first one counts
        String text = small(p, MAX_MODEL_LENGTH + 16);
        s.model = text == null ? RequestContext.ANY_MODEL : canonicalModel(text);
      }
      return 0;
    }
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
    return 0;
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
