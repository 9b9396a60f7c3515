package dev.geminirotator.core.exchange;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.exchange.GeminiRequest.Route;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
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
 *       Field names are matched at any depth, so batch inline requests and cache contents are
 *       covered too.
 * </ul>
 * A resource id is 1 to {@value #MAX_ID_LENGTH} characters of {@code [A-Za-z0-9._-]} (not
 * {@code .} or {@code ..}); Gemini's own are shorter (a file id is "up to 40 characters that are
 * lowercase alphanumeric or dashes"). An {@code upload_id} may be up to {@value
 * #MAX_UPLOAD_ID_LENGTH} characters of {@code [A-Za-z0-9._~-]}.
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

  private static final String GEMINI_HOST = "https://generativelanguage.googleapis.com/";
  private static final String TUNED_PREFIX = "tunedModels/";

  private static final JsonFactory JSON = JsonFactory.builder()
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
    Parse p = head(method, rawPath, rawQuery);
    if (body != null && length > 0 && offset >= 0 && length <= body.length - offset
        && p.readsBody() && (p.modelInBody || mayNameResources(body, offset, length))) {
      try (JsonParser json = JSON.createParser(body, offset, length)) {
        p.body(json);
      } catch (IOException | RuntimeException e) {
        // not JSON at all: nothing read
      }
    }
    return p.build();
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
    Parse p = head(method, rawPath, rawQuery);
    if (body != null && p.readsBody()) {
      try (InputStream in = body.get()) {
        if (in != null) {
          try (JsonParser json = JSON.createParser(in)) {
            p.body(json);
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
    Parse p = new Parse(request.method());
    p.route = request.route();
    return p.readsBody();
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

  private static Parse head(String method, String rawPath, String rawQuery) {
    String m = method == null ? "GET" : upper(method);
    Parse p = new Parse(m);
    p.path(rawPath == null ? "" : rawPath);
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
  private static ResourceRef refOf(String[] s, int from, int to) {
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

  /** A resource id: 1..MAX_ID_LENGTH of [A-Za-z0-9._-], not "." or "..". */
  static boolean isId(String s) {
    int n = s.length();
    if (n == 0 || n > MAX_ID_LENGTH || s.equals(".") || s.equals("..")) {
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

  private static boolean isUploadId(String s) {
    int n = s.length();
    if (n == 0 || n > MAX_UPLOAD_ID_LENGTH) {
      return false;
    }
    for (int i = 0; i < n; i++) {
      char c = s.charAt(i);
      if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '_' || c == '.' || c == '~')) {
        return false;
      }
    }
    return true;
  }

  private static boolean startsWithIgnoreCase(String s, String prefix) {
    return s.regionMatches(true, 0, prefix, 0, prefix.length());
  }

  private static String upper(String method) {
    for (int i = 0; i < method.length(); i++) {
      char c = method.charAt(i);
      if (c >= 'a' && c <= 'z') {
        return method.toUpperCase(Locale.ROOT);
      }
    }
    return method;
  }

  private static boolean isVersion(String s) {
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

  /** The state of one parse. Confined to the calling thread. */
  private static final class Parse {
    final String method;
    String version;
    Route route = Route.OTHER;
    String action;
    String model = RequestContext.ANY_MODEL;
    List<ResourceRef> resources; // null until the first
    ResourceKind creates;
    ResourceRef deletes;
    /** The collection after the version ({@code files}, {@code openai}, ...), or null. */
    String collection;
    /** Read top-level {@code model} from the body (OpenAI-compatible, Interactions create). */
    boolean modelInBody;
    int candidates;

    Parse(String method) {
      this.method = method;
    }

    GeminiRequest build() {
      return new GeminiRequest(method, version, route, action, model,
          resources == null ? List.of() : resources, creates, deletes);
    }

    boolean full() {
      return resources != null && resources.size() >= MAX_RESOURCES;
    }

    void add(ResourceRef ref) {
      if (ref == null) {
        return;
      }
      if (resources == null) {
        resources = new ArrayList<>(4);
      } else if (resources.size() >= MAX_RESOURCES || resources.contains(ref)) {
        return;
      }
      resources.add(ref);
    }

    boolean post() {
      return method.equals("POST");
    }

    /** Whether the body may name a model or resource on this route. */
    boolean readsBody() {
      if (!(post() || method.equals("PUT") || method.equals("PATCH"))) {
        return false;
      }
      // Never an upload's bytes: a file's content is not a request to read.
      return route == Route.MODEL_CALL || route == Route.OPENAI || route == Route.RESOURCE;
    }

    void path(String raw) {
      int end = raw.length();
      for (int i = 0; i < end; i++) {
        char c = raw.charAt(i);
        if (c == '?' || c == '#') {
          end = i;
          break;
        }
      }
      String[] seg = new String[8];
      int n = 0;
      for (int i = 0; i < end; ) {
        int slash = raw.indexOf('/', i);
        if (slash < 0 || slash > end) {
          slash = end;
        }
        if (slash > i) {
          if (n == MAX_SEGMENTS) {
            return; // too long to be a Gemini route: OTHER, naming nothing
          }
          if (n == seg.length) {
            seg = java.util.Arrays.copyOf(seg, MAX_SEGMENTS);
          }
          seg[n++] = decode(raw.substring(i, slash));
        }
        i = slash + 1;
      }
      int v = -1;
      for (int i = 0; i < Math.min(n, VERSION_SEARCH); i++) {
        if (isVersion(seg[i])) {
          v = i;
          break;
        }
      }
      int from = v + 1;
      if (v >= 0) {
        version = seg[v];
      }
      if (from >= n) {
        return;
      }
      // The custom method: after the first ':' of the last segment (an escaped %3A included).
      String last = seg[n - 1];
      int colon = last.indexOf(':');
      if (colon >= 0) {
        String a = last.substring(colon + 1);
        action = isAction(a) ? a : null;
        seg[n - 1] = last.substring(0, colon);
      }
      boolean upload = v > 0 && seg[v - 1].equals("upload");
      collection = seg[from];
      int count = n - from;
      if (upload) {
        route = Route.UPLOAD_START; // or UPLOAD_CONTINUE, once the query says so
        if (collection.equals("fileSearchStores") && count >= 2 && isId(seg[from + 1])) {
          add(refOf(seg, from, from + 2));
        }
        return;
      }
      switch (collection) {
        case "openai":
          route = Route.OPENAI;
          modelInBody = true;
          return;
        case "models":
          models(seg, from, n, colon >= 0);
          return;
        case "tunedModels":
          tunedModels(seg, from, n, colon >= 0);
          return;
        case "files":
        case "cachedContents":
        case "batches":
        case "fileSearchStores":
        case "operations":
        case "interactions":
        case "generatedFiles":
          inCollection(seg, from, n, colon >= 0);
          return;
        default:
          // A model call under another prefix (a Vertex-style projects/.../models/{m}:{method}).
          if (colon >= 0 && n - from >= 2 && seg[n - 2].equals("models")) {
            route = Route.MODEL_CALL;
            model = canonicalModel(seg[n - 1]);
          }
      }
    }

    private void models(String[] seg, int from, int n, boolean hasColon) {
      int count = n - from;
      if (count == 1) {
        route = hasColon ? Route.OTHER : Route.MODELS; // the list
        return;
      }
      if (count == 2) {
        model = canonicalModel(seg[from + 1]);
        if (hasColon) {
          route = Route.MODEL_CALL;
          modelCallCreates();
        } else {
          route = Route.MODELS; // GET models/{m}: that model's metadata, scoped to it
        }
        return;
      }
      // models/{m}/operations/{op}: a project-bound operation (section 6), not a call.
      ResourceRef ref = allIds(seg, from, n) ? refOf(seg, from, n) : null;
      route = ref != null ? Route.RESOURCE : Route.OTHER;
      add(ref);
    }

    private void tunedModels(String[] seg, int from, int n, boolean hasColon) {
      int count = n - from;
      route = Route.RESOURCE;
      if (count == 1) {
        if (post() && !hasColon) {
          creates = ResourceKind.TUNED_MODEL;
        }
        return;
      }
      if (!isId(seg[from + 1])) {
        route = Route.OTHER;
        return;
      }
      ResourceRef ref = refOf(seg, from, from + 2);
      add(ref);
      if (count == 2) {
        model = canonicalModel(ref.name());
        if (hasColon) {
          route = Route.MODEL_CALL;
          modelCallCreates();
        } else if (method.equals("DELETE")) {
          deletes = ref;
        }
      }
    }

    private void modelCallCreates() {
      if (!post() || action == null) {
        return;
      }
      switch (action) {
        case "batchGenerateContent":
        case "asyncBatchEmbedContent":
          creates = ResourceKind.BATCH; // an Operation named batches/{id} (section 4)
          break;
        case "predictLongRunning":
          creates = ResourceKind.OPERATION; // models/{m}/operations/{op} (section 6)
          break;
        case "generateContent":
        case "streamGenerateContent":
          break;
        default:
          break;
      }
    }

    private void inCollection(String[] seg, int from, int n, boolean hasColon) {
      int count = n - from;
      route = Route.RESOURCE;
      if (count == 1) {
        if (post() && !hasColon) {
          switch (collection) {
            case "files": // metadata-only create, POST /v1beta/files (section 1)
              creates = ResourceKind.FILE;
              break;
            case "cachedContents":
              creates = ResourceKind.CACHED_CONTENT;
              break;
            case "fileSearchStores":
              creates = ResourceKind.FILE_SEARCH_STORE;
              break;
            case "interactions":
              creates = ResourceKind.INTERACTION;
              modelInBody = true;
              break;
            default:
              break;
          }
        }
        return;
      }
      ResourceRef ref = allIds(seg, from, n) ? refOf(seg, from, n) : null;
      if (ref == null) {
        route = Route.OTHER;
        return;
      }
      add(ref);
      if (count == 2) {
        if (hasColon && post() && collection.equals("fileSearchStores") && action != null
            && (action.equals("importFile") || action.equals("uploadToFileSearchStore"))) {
          creates = ResourceKind.OPERATION; // fileSearchStores/{s}/operations/{op} (section 5)
        }
        if (!hasColon && method.equals("DELETE")) {
          deletes = ref;
        }
      }
    }

    private static boolean allIds(String[] seg, int from, int n) {
      for (int i = from; i < n; i++) {
        if (!isId(seg[i])) {
          return false;
        }
      }
      return true;
    }

    private static boolean isAction(String a) {
      int n = a.length();
      if (n == 0 || n > 64) {
        return false;
      }
      for (int i = 0; i < n; i++) {
        char c = a.charAt(i);
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
          return false;
        }
      }
      return true;
    }

    /**
     * A resumable upload's follow-up (chunk or finalize) carries the session's {@code upload_id}
     * (section 1); the finalize's answer names the file (or, for a file search store, an
     * operation of the store).
     */
    void uploadQuery(String rawQuery) {
      String id = uploadId(rawQuery);
      if (id == null) {
        if (post()) {
          creates = ResourceKind.UPLOAD;
        }
        return;
      }
      route = Route.UPLOAD_CONTINUE;
      add(new ResourceRef(ResourceKind.UPLOAD, id));
      if (post() || method.equals("PUT")) {
        creates = collection != null && collection.equals("fileSearchStores")
            ? ResourceKind.OPERATION : ResourceKind.FILE;
      }
    }

    private static String uploadId(String q) {
      if (q == null || q.isEmpty()) {
        return null;
      }
      for (int i = 0; i < q.length(); ) {
        int amp = q.indexOf('&', i);
        if (amp < 0) {
          amp = q.length();
        }
        if (q.startsWith("upload_id=", i)) {
          String v = decode(q.substring(i + 10, amp));
          return isUploadId(v) ? v : null;
        }
        i = amp + 1;
      }
      return null;
    }

    // ---- the body ----------------------------------------------------------------------------

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

    void body(JsonParser p) {
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
              depth += field(p, ruleOf(p.currentName()), depth == 1);
              if (full() || candidates >= MAX_CANDIDATES) {
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
    private int field(JsonParser p, int rule, boolean topLevel) throws IOException {
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
            add(named(p, "fileSearchStores/"));
            if (full() || ++candidates >= MAX_CANDIDATES) {
              return 0;
            }
          } else {
            p.skipChildren();
          }
        }
        return 0;
      }
      if (rule == STORE_FLAG) {
        if (topLevel && v == JsonToken.VALUE_FALSE && creates == ResourceKind.INTERACTION) {
          creates = null; // store=false: nothing is kept to be named later (section 7)
        }
        return 0;
      }
      if (v != JsonToken.VALUE_STRING || rule == NONE) {
        return 0;
      }
      if (rule == MODEL) {
        if (topLevel && modelInBody) {
          modelInBody = false; // the first one counts
          String text = small(p, MAX_MODEL_LENGTH + 16);
          model = text == null ? RequestContext.ANY_MODEL : canonicalModel(text);
        }
        return 0;
      }
      candidates++;
      switch (rule) {
        case FILE_URI:
          add(fileOf(small(p, 4 * MAX_ID_LENGTH), true));
          break;
        case URI:
          add(fileOf(small(p, 4 * MAX_ID_LENGTH), false));
          break;
        case CACHED:
          add(named(p, "cachedContents/"));
          break;
        case STORES:
          add(named(p, "fileSearchStores/"));
          break;
        case FILE_NAME:
          add(fileOf(small(p, 4 * MAX_ID_LENGTH), true));
          break;
        case INTERACTION: {
          String id = small(p, MAX_ID_LENGTH + 16);
          if (id != null && id.startsWith("interactions/")) {
            id = id.substring(13);
          }
          add(id != null && isId(id)
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
}
