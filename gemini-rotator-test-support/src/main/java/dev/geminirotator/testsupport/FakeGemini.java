package dev.geminirotator.testsupport;

import static dev.geminirotator.testsupport.GeminiAnswers.JSON;
import static dev.geminirotator.testsupport.GeminiAnswers.error;
import static dev.geminirotator.testsupport.GeminiAnswers.invalid;
import static dev.geminirotator.testsupport.GeminiAnswers.json;
import static dev.geminirotator.testsupport.GeminiAnswers.notVisible;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.function.IntFunction;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Headers;
import okhttp3.HttpUrl;

/**
 * A fake Gemini upstream that holds per-project state and enforces project ownership the way
 * Gemini does (docs/gemini-resources.md): each configured key belongs to a project; files,
 * context caches, batches and file search stores belong to the project of the key that created
 * them, and a key of another project gets 403 PERMISSION_DENIED or 404 NOT_FOUND for them
 * ({@link GeminiAnswers#notVisible}). It speaks the resumable upload protocol as Gemini and the
 * Java SDK 2.0.0 use it (§1, §10), with an {@code X-Goog-Upload-URL} that carries the key that
 * started the upload, and an upload session bound to that key. A {@link Dispatcher} for
 * MockWebServer 3: {@link #start()} runs it on its own server, {@link #install} on one a test
 * already has.
 *
 * <p>Credentials are read from {@code x-goog-api-key}, {@code ?key=} and
 * {@code Authorization: Bearer}; an unknown key gets Gemini's 400 {@code API_KEY_INVALID}. Every
 * request served is recorded ({@link #served()}), with the key's id and project, never the
 * secret. Tables are bounded ({@link #MAX_RESOURCES}, {@link #MAX_UPLOADS}, {@link #MAX_SERVED}).
 *
 * <p>Thread-safe: requests are served one at a time.
 */
public final class FakeGemini extends Dispatcher {

  /** The most resources (files, caches, batches, stores) the fake holds at once. */
  public static final int MAX_RESOURCES = 10_000;
  /** The most unfinished upload sessions the fake holds at once. */
  public static final int MAX_UPLOADS = 1_000;
  /** How many served requests {@link #served()} remembers (the oldest are dropped). */
  public static final int MAX_SERVED = 100_000;
  /** The largest upload the fake accepts; it counts bytes, it does not keep them. */
  public static final long MAX_UPLOAD_BYTES = 64L << 20;
  /** Files live 48 h (docs/gemini-resources.md §2, https://ai.google.dev/gemini-api/docs/files). */
  public static final Duration FILE_LIFETIME = Duration.ofHours(48);
  /** A cache without {@code ttl} or {@code expireTime} lives 1 h (§3, UNCONFIRMED there). */
  public static final Duration DEFAULT_CACHE_TTL = Duration.ofHours(1);
  /** Where Gemini's own file URIs point (§2); the fake's own host is accepted as well. */
  public static final String GEMINI_HOST = "generativelanguage.googleapis.com";

  /** The project-bound things the fake keeps. */
  public enum Kind { UPLOAD, FILE, CACHED_CONTENT, BATCH, FILE_SEARCH_STORE }

  /** Who holds a resource: the id of the key that created it, and that key's project. */
  public record Owner(String keyId, String project) {
  }

  /**
   * One request the fake answered: the method, the path and query with any {@code key}
   * parameter removed, the id and project of the key it carried (both {@code null} when it
   * carried no known key), and the status answered.
   */
  public record Served(String method, String target, String keyId, String project, int status) {
    /** Whether the path (without the query) ends with {@code suffix}. */
    public boolean pathEndsWith(String suffix) {
      int q = target.indexOf('?');
      return (q < 0 ? target : target.substring(0, q)).endsWith(suffix);
    }
  }

  private static final Pattern VERSIONED = Pattern.compile("^/(upload/)?(v1|v1beta|v1alpha)/(.+)$");

  private record Key(String id, String secret, String project) {
  }

  private static final class Upload {
    final String id;
    final Owner owner;
    final String keyId;
    final ObjectNode file;
    final long declared;
    long received;

    Upload(String id, Owner owner, ObjectNode file, long declared) {
      this.id = id;
      this.owner = owner;
      this.keyId = owner.keyId();
      this.file = file;
      this.declared = declared;
    }
  }

  private final Map<String, Key> bySecret;
  private final Map<String, Key> byId;
  private final FakeResources resources;
  private final Map<String, Upload> uploads = new LinkedHashMap<>();
  private final ArrayDeque<Served> served = new ArrayDeque<>();
  private volatile HttpUrl base;
  private MockWebServer owned;

  private FakeGemini(Builder b) {
    this.bySecret = Map.copyOf(b.bySecret);
    this.byId = Map.copyOf(b.byId);
    this.resources = new FakeResources(b.clock, b.seed, () -> base);
  }

  /** A builder with no keys, the system clock and a fixed seed for resource ids. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A fake with {@code projects × keysPerProject} keys: {@code k1..kn}, the first
   * {@code keysPerProject} in {@code project-1}, and so on; key {@code ki}'s secret is
   * {@link RealLookingKeys#key(long) RealLookingKeys.key(i)}.
   */
  public static FakeGemini of(int projects, int keysPerProject) {
    return builder().projects(projects, keysPerProject, RealLookingKeys::key).build();
  }

  /** Starts a MockWebServer on 127.0.0.1 and a random port serving this fake; see {@link #close}. */
  public synchronized MockWebServer start() {
    if (owned != null) throw new IllegalStateException("the fake Gemini is already started");
    MockWebServer server = new MockWebServer();
    try {
      server.start();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    owned = server;
    install(server);
    return server;
  }

  /** Makes a started {@code server} (e.g. a test harness's upstream) serve this fake. */
  public void install(MockWebServer server) {
    base = server.url("/");
    server.setDispatcher(this);
  }

  /** The base URL the fake serves on ({@code http://127.0.0.1:port/}). */
  public HttpUrl baseUrl() {
    HttpUrl b = base;
    if (b == null) throw new IllegalStateException("the fake Gemini is not installed on a server");
    return b;
  }

  /**
   * Stops the server {@link #start()} started, if any (MockWebServer also calls this when a
   * server the fake was {@linkplain #install installed} on closes; state is kept).
   */
  @Override
  public void close() {
    MockWebServer server;
    synchronized (this) {
      server = owned;
      owned = null;
    }
    if (server != null) server.close();
  }

  /** The key ids, in configuration order. */
  public List<String> keyIds() {
    return List.copyOf(byId.keySet().stream().sorted(FakeGemini::byNumber).toList());
  }

  /** Every configured secret, for a {@link SecretScanner}. */
  public List<String> secrets() {
    return keyIds().stream().map(id -> byId.get(id).secret()).toList();
  }

  /** The secret of key {@code keyId}. */
  public String secret(String keyId) {
    return key(keyId).secret();
  }

  /** The project of key {@code keyId}. */
  public String projectOf(String keyId) {
    return key(keyId).project();
  }

  /**
   * This fake's keys as the {@code keys:} section of a proxy configuration (id, secret and
   * project of each, in {@link #keyIds()} order), for tests that start a proxy in front of it.
   */
  public String keysYaml() {
    StringBuilder yaml = new StringBuilder("keys:\n");
    for (String id : keyIds()) {
      yaml.append("  - id: ").append(id).append("\n    secret: ").append(secret(id))
          .append("\n    project: ").append(projectOf(id)).append('\n');
    }
    return yaml.toString();
  }

  /**
   * Who holds the live resource {@code name} ({@code files/abc}, {@code cachedContents/x},
   * {@code batches/y}, {@code fileSearchStores/z}), or the open upload session
   * {@code uploads/<upload_id>}; empty when there is none (never created, deleted, expired).
   */
  public synchronized Optional<Owner> owner(String name) {
    if (name.startsWith("uploads/")) {
      Upload u = uploads.get(name.substring("uploads/".length()));
      return Optional.ofNullable(u).map(x -> x.owner);
    }
    return Optional.ofNullable(resources.live(name)).map(FakeResources.Resource::owner);
  }

  /** The names of the live resources of {@code kind}, in creation order. */
  public synchronized List<String> resources(Kind kind) {
    return resources.names(kind);
  }

  /** Every request served so far (up to {@link #MAX_SERVED}, oldest first). */
  public synchronized List<Served> served() {
    return List.copyOf(served);
  }

  /** Forgets the served requests (state is kept). */
  public synchronized void clearServed() {
    served.clear();
  }

  @Override
  public synchronized MockResponse dispatch(RecordedRequest request) {
    HttpUrl url = request.getUrl();
    Key key = null;
    MockResponse answer;
    try {
      Object auth = authenticate(request);
      if (auth instanceof MockResponse refused) {
        answer = refused;
      } else {
        key = (Key) auth;
        answer = route(request, key);
      }
    } catch (BadRequest e) {
      answer = invalid(e.getMessage());
    }
    if (served.size() >= MAX_SERVED) served.removeFirst();
    String target = url.newBuilder().removeAllQueryParameters("key").build().encodedPath()
        + (query(url) == null ? "" : "?" + query(url));
    served.addLast(new Served(request.getMethod(), target, key == null ? null : key.id(),
        key == null ? null : key.project(), answer.getCode()));
    return answer;
  }

  private static String query(HttpUrl url) {
    return url.newBuilder().removeAllQueryParameters("key").build().encodedQuery();
  }

  /** The key the request carries, or the answer refusing it. */
  private Object authenticate(RecordedRequest request) {
    List<String> presented = new ArrayList<>();
    Headers headers = request.getHeaders();
    presented.addAll(headers.values("x-goog-api-key"));
    presented.addAll(request.getUrl().queryParameterValues("key"));
    for (String auth : headers.values("Authorization")) {
      if (auth.regionMatches(true, 0, "Bearer ", 0, 7)) presented.add(auth.substring(7).trim());
    }
    presented.removeIf(p -> p == null || p.isEmpty());
    if (presented.isEmpty()) return GeminiAnswers.unregistered();
    if (presented.stream().distinct().count() > 1) {
      return invalid("The request carries " + presented.size() + " different credentials"
          + " (x-goog-api-key, key=, Authorization); send one.");
    }
    Key key = bySecret.get(presented.get(0));
    return key == null ? GeminiAnswers.apiKeyInvalid() : key;
  }

  private MockResponse route(RecordedRequest request, Key key) {
    String path = request.getUrl().encodedPath();
    Matcher m = VERSIONED.matcher(path);
    if (!m.matches()) return GeminiAnswers.notFound(path);
    boolean upload = m.group(1) != null;
    String rest = m.group(3);
    String method = request.getMethod();
    Owner caller = new Owner(key.id(), key.project());
    if (upload) {
      if (!rest.equals("files") || !method.equals("POST")) return GeminiAnswers.notFound(path);
      String uploadId = request.getUrl().queryParameter("upload_id");
      return uploadId == null ? startUpload(request, caller) : chunk(request, caller, uploadId);
    }
    int colon = rest.indexOf(':');
    if (rest.startsWith("models/") && colon > 0) {
      return modelAction(request, caller, rest.substring("models/".length(), colon),
          rest.substring(colon + 1));
    }
    String[] segments = rest.split("/", -1);
    String collection = segments[0];
    Kind kind = switch (collection) {
      case "files" -> Kind.FILE;
      case "cachedContents" -> Kind.CACHED_CONTENT;
      case "batches" -> Kind.BATCH;
      case "fileSearchStores" -> Kind.FILE_SEARCH_STORE;
      default -> null;
    };
    if (kind == null || segments.length > 2 || rest.indexOf(':') >= 0) {
      return GeminiAnswers.notFound(path);
    }
    if (segments.length == 1) {
      if (method.equals("GET")) return resources.list(kind, caller);
      if (method.equals("POST") && kind == Kind.CACHED_CONTENT) {
        return resources.createCache(body(request), caller);
      }
      if (method.equals("POST") && kind == Kind.FILE_SEARCH_STORE) {
        return resources.createStore(body(request), caller);
      }
      return GeminiAnswers.notFound(method + " " + path);
    }
    String name = collection + "/" + segments[1];
    FakeResources.Resource r = resources.live(name);
    if (r == null || !r.owner().project().equals(caller.project())) return notVisible(kind, name);
    return switch (method) {
      case "GET" -> json(200, r.body());
      case "DELETE" -> {
        resources.remove(name);
        yield json(200, "{}");
      }
      case "PATCH" -> kind == Kind.CACHED_CONTENT ? resources.patchCache(body(request), r)
          : GeminiAnswers.notFound(method + " " + path);
      default -> GeminiAnswers.notFound(method + " " + path);
    };
  }

  // ---- the resumable upload (docs/gemini-resources.md §1, §10) ----

  private MockResponse startUpload(RecordedRequest request, Owner caller) {
    Headers h = request.getHeaders();
    if (!"resumable".equalsIgnoreCase(h.get("X-Goog-Upload-Protocol"))
        || !"start".equalsIgnoreCase(h.get("X-Goog-Upload-Command"))) {
      return invalid("The fake Gemini takes only resumable uploads: X-Goog-Upload-Protocol was "
          + h.get("X-Goog-Upload-Protocol") + " and X-Goog-Upload-Command "
          + h.get("X-Goog-Upload-Command") + "; expected resumable and start.");
    }
    if (uploads.size() >= MAX_UPLOADS) {
      return error(429, "RESOURCE_EXHAUSTED", "The fake Gemini holds at most " + MAX_UPLOADS
          + " open uploads.");
    }
    JsonNode body = body(request);
    ObjectNode file = body.path("file").isObject() ? ((ObjectNode) body.get("file")).deepCopy()
        : JSON.createObjectNode();
    String mime = h.get("X-Goog-Upload-Header-Content-Type");
    if (mime != null && !file.has("mimeType")) file.put("mimeType", mime);
    long declared = -1;
    String length = h.get("X-Goog-Upload-Header-Content-Length");
    if (length != null) {
      try {
        declared = Long.parseLong(length.trim());
      } catch (NumberFormatException e) {
        return invalid("X-Goog-Upload-Header-Content-Length must be a number but was " + length);
      }
      if (declared < 0 || declared > MAX_UPLOAD_BYTES) {
        return invalid("X-Goog-Upload-Header-Content-Length must be 0.." + MAX_UPLOAD_BYTES
            + " but was " + declared);
      }
    }
    String id = "AHxI" + resources.randomId(40);
    uploads.put(id, new Upload(id, caller, file, declared));
    // The URL carries the key that started the upload, as the issue requires and as one report
    // says Google does (docs/gemini-resources.md §1: UNCONFIRMED for a key sent in a header).
    HttpUrl url = baseUrl().newBuilder().encodedPath("/upload/v1beta/files")
        .addQueryParameter("upload_id", id).addQueryParameter("upload_protocol", "resumable")
        .addQueryParameter("key", key(caller.keyId()).secret()).build();
    return new MockResponse.Builder().code(200)
        .addHeader("X-Goog-Upload-URL", url.toString())
        .addHeader("X-Goog-Upload-Status", "active")
        .addHeader("Content-Type", "text/plain; charset=utf-8").body("").build();
  }

  private MockResponse chunk(RecordedRequest request, Owner caller, String uploadId) {
    Upload u = uploads.get(uploadId);
    if (u == null) return finalStatus(notVisible(Kind.UPLOAD, "uploads/" + uploadId));
    if (!u.owner.project().equals(caller.project())) {
      return finalStatus(error(403, "PERMISSION_DENIED", "The caller does not have permission"
          + " to continue upload " + uploadId + "."));
    }
    if (!u.keyId.equals(caller.keyId())) {
      // Same project, another key: Google's rule is UNCONFIRMED (§10.4); the fake keeps the
      // session to the key whose secret its URL carries, the stricter and safe choice.
      return finalStatus(error(403, "PERMISSION_DENIED", "Upload " + uploadId + " belongs to"
          + " another API key."));
    }
    String command = request.getHeaders().get("X-Goog-Upload-Command");
    List<String> commands = new ArrayList<>();
    for (String c : (command == null ? "" : command).split(",")) {
      if (!c.isBlank()) commands.add(c.trim().toLowerCase(Locale.ROOT));
    }
    if (commands.equals(List.of("query"))) {
      return new MockResponse.Builder().code(200).addHeader("X-Goog-Upload-Status", "active")
          .addHeader("X-Goog-Upload-Size-Received", Long.toString(u.received)).body("").build();
    }
    boolean finalize = commands.contains("finalize");
    commands.remove("upload");
    commands.remove("finalize");
    if (!commands.isEmpty() || command == null) {
      return finalStatus(invalid("X-Goog-Upload-Command must be upload, 'upload, finalize',"
          + " finalize or query but was " + command));
    }
    long offset;
    try {
      offset = Long.parseLong(String.valueOf(request.getHeaders().get("X-Goog-Upload-Offset"))
          .trim());
    } catch (NumberFormatException e) {
      return finalStatus(invalid("X-Goog-Upload-Offset must be a number but was "
          + request.getHeaders().get("X-Goog-Upload-Offset")));
    }
    if (offset != u.received) {
      return finalStatus(invalid("X-Goog-Upload-Offset must be " + u.received
          + " (the bytes received so far) but was " + offset));
    }
    long size = request.getBodySize() < 0 ? 0 : request.getBodySize();
    long limit = u.declared >= 0 ? u.declared : MAX_UPLOAD_BYTES;
    if (u.received + size > limit) {
      uploads.remove(uploadId);
      return finalStatus(invalid("Upload " + uploadId + " got " + (u.received + size)
          + " bytes but declared " + limit));
    }
    u.received += size;
    if (!finalize) {
      return new MockResponse.Builder().code(200).addHeader("X-Goog-Upload-Status", "active")
          .body("").build();
    }
    if (u.declared >= 0 && u.received != u.declared) {
      uploads.remove(uploadId);
      return finalStatus(invalid("Upload " + uploadId + " finalized at " + u.received
          + " bytes but declared " + u.declared));
    }
    uploads.remove(uploadId);
    ObjectNode file = resources.addFile(u.owner, u.file, u.received);
    if (file == null) return finalStatus(FakeResources.full());
    ObjectNode answer = JSON.createObjectNode();
    answer.set("file", file);
    return new MockResponse.Builder().code(200).addHeader("X-Goog-Upload-Status", "final")
        .addHeader("Content-Type", "application/json; charset=UTF-8").body(answer.toString())
        .build();
  }

  /**
   * An upload error with {@code X-Goog-Upload-Status: final}: without the header the SDKs retry
   * a chunk three times over seven seconds (§1.2), which would only slow a failing test down.
   */
  private static MockResponse finalStatus(MockResponse error) {
    return error.newBuilder().addHeader("X-Goog-Upload-Status", "final").build();
  }

  // ---- models/{m}:action ----

  private MockResponse modelAction(RecordedRequest request, Owner caller, String model,
      String action) {
    if (!request.getMethod().equals("POST")) {
      return GeminiAnswers.notFound(request.getMethod() + " models/" + model + ":" + action);
    }
    JsonNode body = body(request);
    MockResponse refused = resources.checkNames(body, caller, model);
    if (refused != null) return refused;
    return switch (action) {
      case "generateContent" -> json(200, Fixtures.geminiResponse("generate-content.json"));
      case "streamGenerateContent" ->
          GeminiAnswers.stream("sse".equals(request.getUrl().queryParameter("alt")));
      case "countTokens" -> json(200, Fixtures.geminiResponse("count-tokens.json"));
      case "batchGenerateContent" -> resources.createBatch(body, caller, model);
      default -> GeminiAnswers.notFound("models/" + model + ":" + action);
    };
  }


  // ---- helpers ----

  private Key key(String keyId) {
    Key k = byId.get(keyId);
    if (k == null) throw new IllegalArgumentException("no key " + keyId + "; keys: " + keyIds());
    return k;
  }

  private static JsonNode body(RecordedRequest request) {
    if (request.getBody() == null || request.getBody().size() == 0) {
      return JSON.createObjectNode();
    }
    try {
      JsonNode node = JSON.readTree(request.getBody().utf8());
      if (node == null || !node.isObject()) throw new BadRequest("The body must be a JSON object");
      return node;
    } catch (JsonProcessingException e) {
      throw new BadRequest("Invalid JSON payload received: " + e.getOriginalMessage());
    }
  }

  private static int byNumber(String a, String b) {
    String da = a.replaceAll("\\D", "");
    String db = b.replaceAll("\\D", "");
    if (!da.isEmpty() && !db.isEmpty() && da.length() < 10 && db.length() < 10
        && !da.equals(db)) {
      return Integer.compare(Integer.parseInt(da), Integer.parseInt(db));
    }
    return a.compareTo(b);
  }

  /** A client mistake, answered 400 INVALID_ARGUMENT with this message. */
  static final class BadRequest extends RuntimeException {
    private static final long serialVersionUID = 1L;

    BadRequest(String message) {
      super(message, null, false, false);
    }
  }

  /** Configures a {@link FakeGemini}. Not thread-safe. */
  public static final class Builder {
    private final Map<String, Key> bySecret = new LinkedHashMap<>();
    private final Map<String, Key> byId = new LinkedHashMap<>();
    private Clock clock = Clock.systemUTC();
    private long seed = 16;

    private Builder() {
    }

    /** Adds key {@code id} with {@code secret}, belonging to {@code project}. */
    public Builder key(String id, String secret, String project) {
      if (id == null || id.isBlank()) throw new IllegalArgumentException("key id is blank");
      if (secret == null || secret.isBlank()) {
        throw new IllegalArgumentException("key " + id + ": secret is blank");
      }
      if (project == null || project.isBlank()) {
        throw new IllegalArgumentException("key " + id + ": project is blank");
      }
      if (byId.containsKey(id)) throw new IllegalArgumentException("key " + id + " is repeated");
      if (bySecret.containsKey(secret)) {
        throw new IllegalArgumentException("key " + id + " repeats the secret of key "
            + bySecret.get(secret).id());
      }
      Key k = new Key(id, secret, project);
      byId.put(id, k);
      bySecret.put(secret, k);
      return this;
    }

    /**
     * Adds keys {@code k1..kn}, {@code keysPerProject} in each of {@code project-1} to
     * {@code project-<projects>}, key {@code ki} with {@code secret.apply(i)}.
     */
    public Builder projects(int projects, int keysPerProject, IntFunction<String> secret) {
      if (projects < 1) throw new IllegalArgumentException("projects must be >= 1 but was "
          + projects);
      if (keysPerProject < 1) {
        throw new IllegalArgumentException("keysPerProject must be >= 1 but was "
            + keysPerProject);
      }
      int i = byId.size();
      for (int p = 1; p <= projects; p++) {
        for (int k = 0; k < keysPerProject; k++) {
          i++;
          key("k" + i, secret.apply(i), "project-" + p);
        }
      }
      return this;
    }

    /** The clock resource lifetimes are measured on (a {@link FakeClock} in tests). */
    public Builder clock(Clock clock) {
      if (clock == null) throw new IllegalArgumentException("clock is null");
      this.clock = clock;
      return this;
    }

    /** The seed of the resource and upload ids (the same seed gives the same ids). */
    public Builder seed(long seed) {
      this.seed = seed;
      return this;
    }

    public FakeGemini build() {
      if (byId.isEmpty()) throw new IllegalStateException("a fake Gemini needs at least one key");
      return new FakeGemini(this);
    }
  }
}
