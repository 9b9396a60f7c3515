package dev.geminirotator.core.internal.exchange;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.exchange.GeminiRequest.Route;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * Reads a {@link GeminiRequest} from a request's method, raw path, raw query and (when buffered)
 * JSON body: once, the same way for the interceptor and the proxy. Stateless and thread-safe.
 *
 * <p><b>Never throws on a client's input.</b> Whatever the path, query or body holds, {@link
 * #parse} returns what it could read: a path it does not know is {@link Route#OTHER}; a name that
 * does not look like a Gemini resource name is left out; a malformed body yields what was found
 * before the error. The request itself always goes upstream unchanged, and Gemini answers 400 or
 * 404 to what it does not accept.
 *
 * <p><b>The work one request can cause is bounded.</b>
 * <ul>
 *   <li>At most {@value #MAX_RESOURCES} distinct resources are collected; the body is not read
 *       further once they are found, or once {@value #MAX_CANDIDATES} values of resource-naming
 *       fields were looked at (valid or not).
 *   <li>Paths of more than {@value #MAX_SEGMENTS} segments are {@link Route#OTHER}, naming nothing.
 *   <li>The body is read with Jackson's streaming parser, never into a tree. A string value is
 *       decoded only when its field names a resource ({@code fileUri}, {@code cachedContent},
 *       ...) or a top-level {@code model}; every other string (inline data, text) is skipped
 *       without being decoded. JSON nested deeper than {@value #MAX_DEPTH} levels, or with field
 *       names over {@value #MAX_NAME_LENGTH} characters, stops the read there.
 *   <li>A request that has no body (or whose route takes none that names anything) never touches
 *       Jackson, nor does a body that holds none of the {@link #BODY_MARKERS} when the model is
 *       not read from it (one pass over its bytes).
 * </ul>
 *
 * <p><b>Models.</b> The model is read from the path ({@code models/{m}:{action}}, {@code GET
 * models/{m}}, {@code tunedModels/{t}...}), or on the OpenAI-compatible surface ({@code
 * /{version}/openai/**}) and on an Interactions create from the body's top-level {@code model}.
 * It is then given one canonical spelling ({@link #canonicalModel}): a {@code models/} prefix is
 * dropped, a tuned model keeps its {@code tunedModels/} prefix, ASCII letters are lower-cased, and
 * a name that is not 1 to {@value #MAX_MODEL_LENGTH} characters of {@code [a-z0-9._-]} starting
 * with a letter or digit becomes {@link RequestContext#ANY_MODEL}. So a client cannot mint a new
 * cooldown or breaker scope by spelling a model differently, and an invalid name is still sent
 * upstream as it came (Gemini answers 400 or 404) under the any-model scope.
 *
 * <p><b>Resources.</b> The names, where requests carry them, and what creates and deletes them
 * are those of {@code docs/gemini-resources.md} (the summary table in its section 0):
 * <ul>
 *   <li>path: {@code files/{id}}, {@code cachedContents/{id}}, {@code batches/{id}}, {@code
 *       fileSearchStores/{id}} with its {@code documents/}, {@code operations/}, {@code
 *       upload/operations/} and {@code media/} children (all named after the store, so the
 *       store's ref stands for them: section 5), {@code operations/{id}}, {@code
 *       interactions/{id}}, {@code tunedModels/{id}} (also a model), and the project-bound
 *       operations {@code models/{m}/operations/{op}} and {@code
 *       generatedFiles/{g}/operations/{op}}
 *       under their full name (section 6); under any API version ({@code v1beta}, {@code v1},
 *       {@code v1alpha}), as the research recommends;
 *   <li>query: the {@code upload_id} of a resumable upload's follow-up requests (section 1);
 *   <li>body: {@code fileUri}/{@code file_uri} (a full {@code
 *       https://generativelanguage.googleapis.com/{version}/files/{id}} URI or {@code files/{id}};
 *       other URIs such as {@code gs://} or YouTube are not project-bound: section 2), an
 *       Interactions {@code uri} (the full URI only), {@code cachedContent}/{@code
 *       cached_content} (also the OpenAI-compatible {@code extra_body.google.cached_content}),
 *       {@code fileSearchStoreNames}/{@code file_search_store_names}, a batch's or {@code
 *       importFile}'s {@code fileName}/{@code file_name}, and {@code previous_interaction_id}.
 *       Each is read only at its documented JSON path (batch inline requests and cache
 *       contents included), never inside free-form {@code Struct} data such as {@code
 *       functionResponse.response}: {@link RequestBodyReader} lists the paths.
 * </ul>
 * A resource id is 1 to {@value #MAX_ID_LENGTH} characters of {@code [A-Za-z0-9._-]} not
 * starting with a dot; Gemini's own are shorter (a file id is "up to 40 characters that are
 * lowercase alphanumeric or dashes"). An {@code upload_id} may be up to {@value
 * #MAX_UPLOAD_ID_LENGTH} characters of {@code [A-Za-z0-9._~+=-]} ({@link #uploadId}). The
 * affinity reads the names in creating answers with the same rules ({@link #resource},
 * {@link #uploadId}).
 */
public final class GeminiRequests {

  /** At most this many distinct resources are read from one request. */
  public static final int MAX_RESOURCES = 16;
  /** At most this many values of resource-naming body fields are examined per request. */
  public static final int MAX_CANDIDATES = 4 * MAX_RESOURCES;
  /** Longest model id accepted as a scope (without the {@code tunedModels/} prefix). */
  public static final int MAX_MODEL_LENGTH = 128;
  /** Longest resource id accepted. */
  public static final int MAX_ID_LENGTH = 128;
  /** Longest {@code upload_id} accepted. */
  public static final int MAX_UPLOAD_ID_LENGTH = 512;
  /** Paths with more segments than this name nothing. */
  public static final int MAX_SEGMENTS = 32;
  /** The version segment is looked for among this many leading segments. */
  static final int VERSION_SEARCH = 4;
  /** JSON nesting beyond which the body is not read. */
  public static final int MAX_DEPTH = 256;
  /** JSON field names longer than this stop the body's read. */
  public static final int MAX_NAME_LENGTH = 4096;

  static final String GEMINI_HOST = "https://generativelanguage.googleapis.com/";
  static final String TUNED_PREFIX = "tunedModels/";

  static final JsonFactory JSON = JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder()
          .maxNestingDepth(MAX_DEPTH)
          .maxNameLength(MAX_NAME_LENGTH)
          .build())
      .build();

  private GeminiRequests() {
  }

  /**
   * Parses a request.
   *
   * @param method the HTTP method (any case)
   * @param rawPath the path as sent, still percent-encoded; anything from a {@code ?} or {@code #}
   *     on is ignored
   * @param rawQuery the query as sent (without {@code ?}), or {@code null}
   * @param body the whole request body, or {@code null} when it is not buffered (then nothing is
   *     read from it)
   */
  public static GeminiRequest parse(String method, String rawPath, String rawQuery, byte[] body) {
    return body == null
        ? parse(method, rawPath, rawQuery, null, 0, 0)
        : parse(method, rawPath, rawQuery, body, 0, body.length);
  }

  /**
   * Parses a request whose body is {@code length} bytes of {@code body} from {@code offset}.
   *
   * @see #parse(String, String, String, byte[])
   */
  public static GeminiRequest parse(String method, String rawPath, String rawQuery, byte[] body,
      int offset, int length) {
    RequestParse p = head(method, rawPath, rawQuery);
    if (body != null && length > 0 && offset >= 0 && length <= body.length - offset
        && p.readsBody() && (p.modelInBody || mayNameResources(body, offset, length))) {
      try (JsonParser json = JSON.createParser(body, offset, length)) {
        RequestBodyReader.read(p, json);
      } catch (IOException | RuntimeException e) {
        // not JSON at all: nothing read
      }
    }
    return p.build();
  }

  /**
   * What {@link #parse(String, String, String, byte[])} gives for this request with its {@code
   * body}, from {@code head}, the parse of the same method, raw path and raw query without a body
   * (a transport that decides on the head before it reads the body has one): {@code head} itself
   * when the body cannot add anything (none, an empty one, a route that reads none, or one holding
   * none of the {@link #BODY_MARKERS} when the model is not read from it), so the usual request is
   * parsed once; otherwise the whole request is parsed again with its body.
   *
   * @param head {@code parse(method, rawPath, rawQuery, null)} of this very request
   */
  public static GeminiRequest withBody(GeminiRequest head, String rawPath, String rawQuery,
      byte[] body) {
    if (body == null || body.length == 0 || !readsBody(head)
        || !readsModelFromBody(head) && !mayNameResources(body, 0, body.length)) {
      return head;
    }
    return parse(head.method(), rawPath, rawQuery, body);
  }

  /**
   * Parses a request without its body, reading its raw path in place: from {@code pathStart} in
   * {@code text} up to the first {@code ?} or {@code #} (or the end). A transport that holds the
   * whole URL as text passes it as it is, rather than copying the path out of it.
   *
   * @param rawQuery the query as sent (without {@code ?}), or {@code null}
   * @throws IndexOutOfBoundsException if {@code pathStart} is not within {@code text}
   * @see #parse(String, String, String, byte[])
   */
  public static GeminiRequest parse(String method, String text, int pathStart, String rawQuery) {
    if (pathStart < 0 || pathStart > text.length()) {
      throw new IndexOutOfBoundsException("pathStart must be within the text's " + text.length()
          + " characters but was " + pathStart);
    }
    return head(method, text, pathStart, text.length(), rawQuery).build();
  }

  /**
   * Parses a request whose body is read from a stream, opened only when the route takes a body
   * that may name a model or resource (so a transport that must copy its body to read it copies
   * it only then). The stream is read at most to the end of the first JSON value and closed.
   *
   * @param body opens the body; it may return {@code null} when the body cannot be read (then
   *     nothing is read from it); {@code null} for no body
   * @see #parse(String, String, String, byte[])
   */
  public static GeminiRequest parseStream(String method, String rawPath, String rawQuery,
      Supplier<InputStream> body) {
    RequestParse p = head(method, rawPath, rawQuery);
    if (body != null && p.readsBody()) {
      try (InputStream in = body.get()) {
        if (in != null) {
          try (JsonParser json = JSON.createParser(in)) {
            RequestBodyReader.read(p, json);
          }
        }
      } catch (IOException | RuntimeException e) {
        // unreadable: keep what was found
      }
    }
    return p.build();
  }

  /**
   * Whether {@link #parse} reads a body on this request's route and method: a {@code POST},
   * {@code PUT} or {@code PATCH} of a model call, an OpenAI-compatible call or a resource route;
   * never an upload's bytes.
   */
  public static boolean readsBody(GeminiRequest request) {
    return RequestParse.readsBody(request.method(), request.route());
  }

  /**
   * Whether {@link #parse} reads the model from this request's body: on the OpenAI-compatible
   * surface and for an Interactions create. Then the body is read even when it holds none of the
   * {@link #BODY_MARKERS}.
   */
  public static boolean readsModelFromBody(GeminiRequest request) {
    return request.route() == Route.OPENAI
        || (request.creates() == ResourceKind.INTERACTION && request.method().equals("POST"));
  }

  /**
   * ASCII strings of which every body that names a resource holds at least one: each resource
   * name or URI holds its collection ({@code files}, {@code cachedContents}, {@code
   * fileSearchStores}), and a previous interaction is named by a field holding {@code
   * interaction} or {@code Interaction}. A body holding none names no resource and is not given
   * to Jackson (a client that writes those letters as JSON unicode escapes only loses its own
   * pinning: real encoders escape no ASCII letter). A transport that must
   * copy a body to parse it may look for these first.
   */
  public static final List<String> BODY_MARKERS =
      List.of("files", "cachedContents", "fileSearchStores", "interaction", "Interaction");

  private static final byte[][] MARKERS = {
      "files".getBytes(StandardCharsets.US_ASCII),
      "cachedContents".getBytes(StandardCharsets.US_ASCII),
      "fileSearchStores".getBytes(StandardCharsets.US_ASCII),
      "interaction".getBytes(StandardCharsets.US_ASCII),
      "Interaction".getBytes(StandardCharsets.US_ASCII)};

  /** Whether the bytes hold one of the {@link #BODY_MARKERS}. One pass. */
  static boolean mayNameResources(byte[] b, int offset, int length) {
    int end = offset + length;
    for (int i = offset; i < end; i++) {
      byte c = b[i];
      if (c == 'f') {
        if (at(b, i, end, MARKERS[0])) {
          return true; // "files"; "fileSearchStores" starts differently after "file"
        }
        if (at(b, i, end, MARKERS[2])) {
          return true;
        }
      } else if (c == 'c') {
        if (at(b, i, end, MARKERS[1])) {
          return true;
        }
      } else if (c == 'i' && at(b, i, end, MARKERS[3])) {
        return true;
      } else if (c == 'I' && at(b, i, end, MARKERS[4])) {
        return true;
      }
    }
    return false;
  }

  private static boolean at(byte[] b, int i, int end, byte[] m) {
    if (end - i < m.length) {
      return false;
    }
    for (int j = 1; j < m.length; j++) {
      if (b[i + j] != m[j]) {
        return false;
      }
    }
    return true;
  }

  private static RequestParse head(String method, String rawPath, String rawQuery) {
    String raw = rawPath == null ? "" : rawPath;
    return head(method, raw, 0, raw.length(), rawQuery);
  }

  private static RequestParse head(String method, String text, int pathStart, int pathLimit,
      String rawQuery) {
    String m = method == null ? "GET" : upper(method);
    RequestParse p = new RequestParse(m);
    p.path(text, pathStart, pathLimit);
    if (p.route == Route.UPLOAD_START || p.route == Route.UPLOAD_CONTINUE) {
      p.uploadQuery(rawQuery);
    }
    return p;
  }

  /**
   * The canonical spelling of a model name as a cooldown and breaker scope: without a {@code
   * models/} prefix, tuned models as {@code tunedModels/{id}}, ASCII lower case; {@link
   * RequestContext#ANY_MODEL} for {@code null}, an empty name, or one that is not 1 to {@value
   * #MAX_MODEL_LENGTH} characters of {@code [a-z0-9._-]} starting with a letter or digit.
   */
  public static String canonicalModel(String name) {
    if (name == null || name.isEmpty() || name.length() > MAX_MODEL_LENGTH + 16) {
      return RequestContext.ANY_MODEL;
    }
    String prefix = "";
    String id = name;
    if (startsWithIgnoreCase(id, "models/")) {
      id = id.substring(7);
    } else if (startsWithIgnoreCase(id, TUNED_PREFIX)) {
      prefix = TUNED_PREFIX;
      id = id.substring(TUNED_PREFIX.length());
    }
    if (id.isEmpty() || id.length() > MAX_MODEL_LENGTH) {
      return RequestContext.ANY_MODEL;
    }
    boolean lower = true;
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      boolean alnum = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
      if (c >= 'A' && c <= 'Z') {
        lower = false;
        alnum = true;
      }
      if (!alnum && (i == 0 || (c != '.' && c != '-' && c != '_'))) {
        return RequestContext.ANY_MODEL;
      }
    }
    if (!lower) {
      id = id.toLowerCase(Locale.ROOT);
    }
    return prefix.isEmpty() ? id : prefix + id;
  }

  /**
   * The resource a Gemini resource name stands for, or {@code null} when the name is none: {@code
   * files/{id}}, {@code cachedContents/{id}}, {@code batches/{id}}, {@code interactions/{id}},
   * {@code operations/{id}}, {@code tunedModels/{id}[/...]} (the tuned model), {@code
   * fileSearchStores/{id}[/...]} (the store: its documents and operations are named after it),
   * {@code models/{m}/operations/{op}} and {@code generatedFiles/{g}/operations/{op}} (the
   * operation under its full name). A trailing {@code :method} is ignored. Useful for the names
   * in creating answers too.
   */
  public static ResourceRef resource(String name) {
    if (name == null || name.length() > 4 * MAX_ID_LENGTH) {
      return null;
    }
    int colon = name.indexOf(':');
    String n = colon < 0 ? name : name.substring(0, colon);
    String[] parts = n.split("/", 6);
    if (parts.length < 2) {
      return null;
    }
    for (String part : parts) {
      if (!isId(part)) {
        return null;
      }
    }
    return refOf(parts, 0, parts.length);
  }

  /** The ref named by segments [from, to) (at least two; each already checked), or null. */
  static ResourceRef refOf(String[] s, int from, int to) {
    int n = to - from;
    String collection = s[from];
    String id = s[from + 1];
    switch (collection) {
      case "files":
        return n == 2 ? new ResourceRef(ResourceKind.FILE, "files/" + id) : null;
      case "cachedContents":
        return n == 2 ? new ResourceRef(ResourceKind.CACHED_CONTENT, "cachedContents/" + id) : null;
      case "batches":
        return n == 2 ? new ResourceRef(ResourceKind.BATCH, "batches/" + id) : null;
      case "operations":
        return n == 2 ? new ResourceRef(ResourceKind.OPERATION, "operations/" + id) : null;
      case "interactions":
        // POST interactions/{id}/cancel is a path segment, not a :method (section 7).
        return n == 2 || (n == 3 && s[from + 2].equals("cancel"))
            ? new ResourceRef(ResourceKind.INTERACTION, "interactions/" + id) : null;
      case "fileSearchStores":
        return new ResourceRef(ResourceKind.FILE_SEARCH_STORE, "fileSearchStores/" + id);
      case "tunedModels":
        return new ResourceRef(ResourceKind.TUNED_MODEL, TUNED_PREFIX + id);
      case "models":
      case "generatedFiles":
        // Project-bound operations on a public model or a generated file: the full name.
        if (n == 4 && s[from + 2].equals("operations")) {
          return new ResourceRef(ResourceKind.OPERATION,
              collection + '/' + id + "/operations/" + s[from + 3]);
        }
        return null;
      default:
        return null;
    }
  }

  /**
   * A resource id: 1..MAX_ID_LENGTH of [A-Za-z0-9._-], not starting with a dot (so never "." or
   * ".."). The one rule for ids in requests and in answers (review L5).
   */
  static boolean isId(String s) {
    int n = s.length();
    if (n == 0 || n > MAX_ID_LENGTH || s.charAt(0) == '.') {
      return false;
    }
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_' || c == '.')) {
        return false;
      }
    }
    return true;
  }

  /**
   * The {@code upload_id} a raw (still percent-encoded) query value names, or null: decoded once
   * ({@code %XX} only; a {@code +} stays a {@code +}, never a space), then 1 to {@value
   * #MAX_UPLOAD_ID_LENGTH} characters of {@code [A-Za-z0-9._~+=-]}. The one rule for an upload
   * URL in an answer's header and for the query of the requests that continue it, so both name
   * the same upload (review L5).
   */
  public static String uploadId(String rawValue) {
    if (rawValue == null || rawValue.length() > 3 * MAX_UPLOAD_ID_LENGTH) {
      return null;
    }
    String v = decode(rawValue);
    return isUploadId(v) ? v : null;
  }

  static boolean isUploadId(String s) {
    int n = s.length();
    if (n == 0 || n > MAX_UPLOAD_ID_LENGTH) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_' || c == '.' || c == '~' || c == '+' || c == '=')) {
        return false;
      }
    }
    return true;
  }

  static boolean startsWithIgnoreCase(String s, String prefix) {
    return s.regionMatches(true, 0, prefix, 0, prefix.length());
  }

  static String upper(String method) {
    for (int i = 0; i < method.length(); i++) {
      char c = method.charAt(i);
      if (c >= 'a' && c <= 'z') {
        return method.toUpperCase(Locale.ROOT);
      }
    }
    return method;
  }

  static boolean isVersion(String s) {
    return s.equals("v1beta") || s.equals("v1") || s.equals("v1alpha");
  }

  /**
   * Percent-decodes a path segment or query value as UTF-8; {@code s} itself when it holds no
   * escape, or when an escape is broken or the bytes are not UTF-8 (the raw text then fails every
   * name check, since {@code %} is in none of their charsets).
   */
  static String decode(String s) {
    int first = s.indexOf('%');
    if (first < 0) {
      return s;
    }
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(s.length());
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (c == '%') {
        if (i + 2 >= s.length()) {
          return s;
        }
        int hi = Character.digit(s.charAt(i + 1), 16);
        int lo = Character.digit(s.charAt(i + 2), 16);
        if (hi < 0 || lo < 0) {
          return s;
        }
        bytes.write(hi << 4 | lo);
        i += 2;
      } else if (c < 0x80) {
        bytes.write(c);
      } else {
        return s; // a raw non-ASCII character: no name holds one
      }
    }
    try {
      return StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(bytes.toByteArray())).toString();
    } catch (CharacterCodingException e) {
      return s;
    }
  }
}
