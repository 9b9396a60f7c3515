package dev.geminirotator.testsupport;

import static dev.geminirotator.testsupport.FakeGemini.DEFAULT_CACHE_TTL;
import static dev.geminirotator.testsupport.FakeGemini.MAX_RESOURCES;
import static dev.geminirotator.testsupport.GeminiAnswers.JSON;
import static dev.geminirotator.testsupport.GeminiAnswers.error;
import static dev.geminirotator.testsupport.GeminiAnswers.invalid;
import static dev.geminirotator.testsupport.GeminiAnswers.json;
import static dev.geminirotator.testsupport.GeminiAnswers.notVisible;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.testsupport.FakeGemini.Kind;
import dev.geminirotator.testsupport.FakeGemini.Owner;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.MockResponse;
import okhttp3.HttpUrl;

/**
 * The resources {@link FakeGemini} holds, each with the key and project that created it and its
 * lifetime: creating them, answering for them, and checking that a request names only what its
 * project can see. Not thread-safe: {@link FakeGemini} serves one request at a time.
 */
final class FakeResources {

  private static final Pattern FILE_URI_PATH =
      Pattern.compile("^/(?:v1|v1beta|v1alpha)/(files/[a-z0-9-]{1,40})(?::download)?$");
  private static final Pattern TTL = Pattern.compile("^(\\d{1,9})(?:\\.(\\d{1,9}))?s$");
  private static final String ID_CHARS = "abcdefghijklmnopqrstuvwxyz0123456789";

  /** One live resource: its answer body, and when it expires ({@code null}: when deleted). */
  record Resource(Kind kind, String name, Owner owner, ObjectNode body, Instant expires) {
  }

  private final Clock clock;
  private final Random random;
  private final Supplier<HttpUrl> base;
  private final Map<String, Resource> resources = new LinkedHashMap<>();

  FakeResources(Clock clock, long seed, Supplier<HttpUrl> base) {
    this.clock = clock;
    this.random = new Random(seed);
    this.base = base;
  }

  /** The names of the live resources of {@code kind}, in creation order. */
  List<String> names(Kind kind) {
    List<String> names = new ArrayList<>();
    for (Resource r : resources.values()) {
      if (r.kind() == kind && !expired(r)) names.add(r.name());
    }
    return names;
  }

  void remove(String name) {
    resources.remove(name);
  }

  /**
   * Keeps the file an upload finalized, for {@code owner}, and returns its {@code file} object
   * (name, uri on Gemini's host, expirationTime 48 h on: docs/gemini-resources.md §1, §2), or
   * {@code null} when the table is full.
   */
  ObjectNode addFile(Owner owner, ObjectNode metadata, long size) {
    if (resources.size() >= MAX_RESOURCES) return null;
    String id = randomId(12);
    Instant now = clock.instant();
    Instant expires = now.plus(FakeGemini.FILE_LIFETIME);
    ObjectNode file = metadata.deepCopy();
    file.put("name", "files/" + id);
    if (!file.has("mimeType")) file.put("mimeType", "application/octet-stream");
    file.put("sizeBytes", Long.toString(size));
    file.put("createTime", now.toString()).put("updateTime", now.toString())
        .put("expirationTime", expires.toString())
        .put("sha256Hash", "ZmFrZS1zaGEyNTYtb2YtdGhlLWJ5dGVz")
        .put("uri", "https://" + FakeGemini.GEMINI_HOST + "/v1beta/files/" + id)
        .put("state", "ACTIVE").put("source", "UPLOADED");
    resources.put("files/" + id, new Resource(Kind.FILE, "files/" + id, owner, file, expires));
    return file;
  }

  /**
   * The first resource {@code body} names that the caller's project cannot see, answered as
   * Gemini answers it (§9), or {@code null}: every {@code fileData.fileUri} on Gemini's host,
   * {@code cachedContent} (which must also be of the request's model, §3), every name in
   * {@code fileSearchStoreNames} and a {@code fileName} naming {@code files/…}, at any depth (so
   * batch inline requests and cache contents are checked too).
   */
  MockResponse checkNames(JsonNode node, Owner caller, String model) {
    if (node.isArray()) {
      for (JsonNode child : node) {
        MockResponse r = checkNames(child, caller, model);
        if (r != null) return r;
      }
      return null;
    }
    if (!node.isObject()) return null;
    for (Map.Entry<String, JsonNode> field : node.properties()) {
      JsonNode value = field.getValue();
      String name = switch (field.getKey()) {
        case "fileUri" -> value.isTextual() ? fileName(value.asText()) : null;
        case "cachedContent" -> value.isTextual() ? value.asText() : null;
        case "fileName" -> value.isTextual() && value.asText().startsWith("files/")
            ? value.asText() : null;
        default -> null;
      };
      if (name != null) {
        MockResponse r = visible(name, caller);
        if (r != null) return r;
        if (field.getKey().equals("cachedContent") && model != null) {
          String cacheModel = live(name).body().path("model").asText();
          if (!cacheModel.equals("models/" + model)) {
            return invalid("Model used by GenerateContent request (models/" + model
                + ") and CachedContent (" + cacheModel + ") has to be the same.");
          }
        }
      }
      if (field.getKey().equals("fileSearchStoreNames") && value.isArray()) {
        for (JsonNode store : value) {
          MockResponse r = visible(store.asText(), caller);
          if (r != null) return r;
        }
      }
      MockResponse r = checkNames(value, caller, model);
      if (r != null) return r;
    }
    return null;
  }

  private MockResponse visible(String name, Owner caller) {
    Kind kind = name.startsWith("files/") ? Kind.FILE
        : name.startsWith("cachedContents/") ? Kind.CACHED_CONTENT
        : name.startsWith("fileSearchStores/") ? Kind.FILE_SEARCH_STORE : null;
    if (kind == null) return invalid("Not a resource name: " + name);
    Resource r = live(name);
    return r != null && r.owner().project().equals(caller.project()) ? null
        : notVisible(kind, name);
  }

  /** {@code files/<id>} for a file URI on Gemini's (or the fake's) host, else {@code null}. */
  private String fileName(String uri) {
    URI parsed;
    try {
      parsed = URI.create(uri);
    } catch (IllegalArgumentException e) {
      return null;
    }
    HttpUrl b = base.get();
    boolean ours = FakeGemini.GEMINI_HOST.equals(parsed.getHost())
        || b != null && b.host().equals(parsed.getHost()) && b.port() == parsed.getPort();
    if (!ours || parsed.getRawPath() == null) return null;
    Matcher m = FILE_URI_PATH.matcher(parsed.getRawPath());
    return m.matches() ? m.group(1) : null;
  }

  // ---- creating answers ----

  MockResponse createCache(JsonNode body, Owner caller) {
    String model = body.path("model").asText("");
    if (!model.startsWith("models/") || model.length() == "models/".length()) {
      return invalid("CachedContent.model must be models/<model> but was '" + model + "'");
    }
    MockResponse refused = checkNames(body, caller, null);
    if (refused != null) return refused;
    Instant now = clock.instant();
    Instant expires = expiry(body, now, DEFAULT_CACHE_TTL);
    if (resources.size() >= MAX_RESOURCES) return full();
    String name = "cachedContents/" + randomId(40);
    ObjectNode cache = JSON.createObjectNode().put("name", name).put("model", model);
    if (body.has("displayName")) cache.set("displayName", body.get("displayName"));
    cache.put("createTime", now.toString()).put("updateTime", now.toString())
        .put("expireTime", expires.toString());
    cache.putObject("usageMetadata").put("totalTokenCount", 4096);
    resources.put(name, new Resource(Kind.CACHED_CONTENT, name, caller, cache, expires));
    return json(200, cache);
  }

  /** PATCH moves {@code expireTime} ("only expiration is updatable", §3). */
  MockResponse patchCache(JsonNode body, Resource r) {
    Instant now = clock.instant();
    Instant expires = expiry(body, now, null);
    if (expires == null) return invalid("A CachedContent update must set ttl or expireTime.");
    ObjectNode cache = r.body().deepCopy();
    cache.put("updateTime", now.toString()).put("expireTime", expires.toString());
    resources.put(r.name(), new Resource(r.kind(), r.name(), r.owner(), cache, expires));
    return json(200, cache);
  }

  private static Instant expiry(JsonNode body, Instant now, Duration fallback) {
    if (body.hasNonNull("expireTime")) {
      try {
        return Instant.parse(body.get("expireTime").asText());
      } catch (RuntimeException e) {
        throw new FakeGemini.BadRequest("expireTime must be an RFC 3339 timestamp but was "
            + body.get("expireTime"));
      }
    }
    if (body.hasNonNull("ttl")) {
      Matcher m = TTL.matcher(body.get("ttl").asText());
      if (!m.matches()) {
        throw new FakeGemini.BadRequest("ttl must be a duration like 300s but was " + body.get("ttl"));
      }
      return now.plusSeconds(Long.parseLong(m.group(1)));
    }
    return fallback == null ? null : now.plus(fallback);
  }

  MockResponse createBatch(JsonNode body, Owner caller, String model) {
    JsonNode batch = body.path("batch");
    JsonNode input = batch.path("inputConfig");
    if (!input.has("requests") && !input.has("fileName")) {
      return invalid("batch.inputConfig must hold requests or a fileName");
    }
    if (resources.size() >= MAX_RESOURCES) return full();
    String name = "batches/" + randomId(24);
    Instant now = clock.instant();
    ObjectNode operation = JSON.createObjectNode().put("name", name);
    ObjectNode metadata = operation.putObject("metadata")
        .put("@type", "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch")
        .put("model", "models/" + model)
        .put("displayName", batch.path("displayName").asText(name))
        .put("state", "BATCH_STATE_PENDING")
        .put("createTime", now.toString()).put("updateTime", now.toString());
    metadata.put("name", name);
    operation.put("done", false);
    resources.put(name, new Resource(Kind.BATCH, name, caller, operation, null));
    return json(200, operation);
  }

  MockResponse createStore(JsonNode body, Owner caller) {
    if (resources.size() >= MAX_RESOURCES) return full();
    String display = body.path("displayName").asText("");
    String slug = display.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9]+", "").replaceAll(
        "^(.{0,28}).*$", "$1");
    // "derived from displayName along with a 12 character random suffix" (§5)
    String name = "fileSearchStores/" + (slug.isEmpty() ? "" : slug + "-") + randomId(12);
    Instant now = clock.instant();
    ObjectNode store = JSON.createObjectNode().put("name", name);
    if (!display.isEmpty()) store.put("displayName", display);
    store.put("createTime", now.toString()).put("updateTime", now.toString());
    resources.put(name, new Resource(Kind.FILE_SEARCH_STORE, name, caller, store, null));
    return json(200, store);
  }

  MockResponse list(Kind kind, Owner caller) {
    String field = switch (kind) {
      case FILE -> "files";
      case CACHED_CONTENT -> "cachedContents";
      case BATCH -> "operations";
      case FILE_SEARCH_STORE -> "fileSearchStores";
      case UPLOAD -> throw new IllegalArgumentException("uploads are not listed");
    };
    ObjectNode answer = JSON.createObjectNode();
    ArrayNode items = answer.putArray(field);
    for (String name : names(kind)) {
      Resource r = resources.get(name);
      if (r.owner().project().equals(caller.project())) items.add(r.body());
    }
    return json(200, answer);
  }

  static MockResponse full() {
    return error(429, "RESOURCE_EXHAUSTED", "The fake Gemini holds at most " + MAX_RESOURCES
        + " resources.");
  }

  Resource live(String name) {
    Resource r = resources.get(name);
    if (r != null && expired(r)) {
      resources.remove(name);
      return null;
    }
    return r;
  }

  private boolean expired(Resource r) {
    return r.expires() != null && !clock.instant().isBefore(r.expires());
  }

  /** {@code length} random lowercase letters and digits, from the seeded generator. */
  String randomId(int length) {
    StringBuilder sb = new StringBuilder(length);
    for (int i = 0; i < length; i++) sb.append(ID_CHARS.charAt(random.nextInt(ID_CHARS.length())));
    return sb.toString();
  }
}
