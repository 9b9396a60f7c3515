package dev.geminirotator.core.internal.exchange;

import static dev.geminirotator.core.internal.exchange.GeminiRequests.MAX_RESOURCES;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.MAX_SEGMENTS;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.VERSION_SEARCH;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.canonicalModel;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.decode;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.isId;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.isVersion;
import static dev.geminirotator.core.internal.exchange.GeminiRequests.refOf;

import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.exchange.GeminiRequest.Route;
import java.util.ArrayList;
import java.util.List;

/**
 * The state of one {@link GeminiRequests} parse, and the reading of its path and query (the body
 * is {@link RequestBodyReader}'s). Confined to the calling thread.
 */
final class RequestParse {

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
  /** Whether the path's last segment holds a {@code :} (a custom method, valid or not). */
  private boolean hasColon;

  RequestParse(String method) {
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
    return readsBody(method, route);
  }

  /** Whether a body may name a model or resource for this (upper-case) method and route. */
  static boolean readsBody(String method, Route route) {
    if (!(method.equals("POST") || method.equals("PUT") || method.equals("PATCH"))) {
      return false;
    }
    // Never an upload's bytes: a file's content is not a request to read.
    return route == Route.MODEL_CALL || route == Route.OPENAI || route == Route.RESOURCE;
  }

  /**
   * Path segments the parse compares against, read as these constants rather than copied out of
   * the path (a model call's path holds three of them).
   */
  private static final String[] WORDS = {"v1beta", "v1", "v1alpha", "models", "upload", "openai",
      "files", "cachedContents", "batches", "fileSearchStores", "operations", "interactions",
      "generatedFiles", "tunedModels"};
  /** The custom methods most calls name, read as these constants. */
  private static final String[] ACTIONS = {"generateContent", "streamGenerateContent",
      "countTokens", "embedContent", "batchEmbedContents"};

  /**
   * Reads the route from a raw path: {@code raw}'s characters from {@code start} up to the first
   * {@code ?} or {@code #}, or to {@code limit}.
   */
  void path(String raw, int start, int limit) {
    int end = limit;
    for (int i = start; i < limit; i++) {
      char c = raw.charAt(i);
      if (c == '?' || c == '#') {
        end = i;
        break;
      }
    }
    // Where the last segment is: its custom method is split off as it is read.
    int lastTo = end;
    while (lastTo > start && raw.charAt(lastTo - 1) == '/') {
      lastTo--;
    }
    int lastFrom = Math.max(start, raw.lastIndexOf('/', lastTo - 1) + 1);
    String[] seg = new String[8];
    int n = 0;
    for (int i = start; i < end; ) {
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
        seg[n++] = i == lastFrom ? lastSegment(raw, i, slash) : segment(raw, i, slash);
      }
      i = slash + 1;
    }
    int v = -1;
    for (int i = 0; i < Math.min(n, VERSION_SEARCH); i++) {
      if (isVersion(seg[i]) && !(hasColon && i == n - 1)) { // "v1beta:x" is no version
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
        models(seg, from, n, hasColon);
        return;
      case "tunedModels":
        tunedModels(seg, from, n, hasColon);
        return;
      case "files":
      case "cachedContents":
      case "batches":
      case "fileSearchStores":
      case "operations":
      case "interactions":
      case "generatedFiles":
        inCollection(seg, from, n, hasColon);
        return;
      default:
        // A model call under another prefix (a Vertex-style projects/.../models/{m}:{method}).
        if (hasColon && n - from >= 2 && seg[n - 2].equals("models")) {
          route = Route.MODEL_CALL;
          model = canonicalModel(seg[n - 1]);
        }
    }
  }

  /** The segment {@code raw[from, to)}, percent-decoded; a {@link #WORDS} constant if one. */
  private static String segment(String raw, int from, int to) {
    String word = known(WORDS, raw, from, to);
    return word != null ? word : decode(raw.substring(from, to));
  }

  /**
   * The last segment, decoded, without its custom method: what follows its first {@code :} (an
   * escaped {@code %3A} included) becomes {@link #action} when it is a valid one.
   */
  private String lastSegment(String raw, int from, int to) {
    int colon = raw.indexOf(':', from);
    if (colon >= to) {
      colon = -1;
    }
    int percent = raw.indexOf('%', from);
    if (percent < 0 || percent >= to) { // nothing to decode
      if (colon < 0) {
        return segment(raw, from, to);
      }
      hasColon = true;
      if (isAction(raw, colon + 1, to)) {
        String known = known(ACTIONS, raw, colon + 1, to);
        action = known != null ? known : raw.substring(colon + 1, to);
      }
      return segment(raw, from, colon);
    }
    String decoded = decode(raw.substring(from, to));
    int c = decoded.indexOf(':');
    if (c < 0) {
      return decoded;
    }
    hasColon = true;
    String a = decoded.substring(c + 1);
    action = isAction(a, 0, a.length()) ? a : null;
    return decoded.substring(0, c);
  }

  /** The one of {@code words} that {@code raw[from, to)} spells, or null. */
  private static String known(String[] words, String raw, int from, int to) {
    int length = to - from;
    for (String word : words) {
      if (word.length() == length && raw.startsWith(word, from)) {
        return word;
      }
    }
    return null;
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

  /** Whether {@code a[from, to)} is a custom method: 1 to 64 ASCII letters and digits. */
  private static boolean isAction(String a, int from, int to) {
    int n = to - from;
    if (n <= 0 || n > 64) {
      return false;
    }
    for (int i = from; i < to; i++) {
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
        return GeminiRequests.uploadId(q.substring(i + 10, amp));
      }
      i = amp + 1;
    }
    return null;
  }
}
