package dev.geminirotator.standalone.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RotatorStats;
import dev.geminirotator.config.ConfigException;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.standalone.config.ConfigWatcher;
import dev.geminirotator.standalone.config.Settings;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.standalone.http.ProblemDocument;
import dev.geminirotator.standalone.http.ProxyRequest;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin API under {@code /admin/**}, behind {@code Authorization: Bearer <admin token>}
 * (401 without one, 403 with a wrong one, compared in constant time; 404 for everything when no
 * admin token is configured). Lists, adds, removes, enables, disables and resets keys, reloads the
 * configuration and reports stats. Output shows key ids and masked secrets only; every response is
 * {@code Cache-Control: no-store}. Thread-safe.
 */
public final class AdminApi {

  private static final Logger log = LoggerFactory.getLogger(AdminApi.class);
  /** The largest admin request body (1 MB). */
  public static final int MAX_BODY = 1024 * 1024;

  private final GeminiKeyRotator rotator;
  private final ResilientCircuitGuard guard;
  private final Supplier<Settings> settings;
  private final Supplier<StandaloneConfig> reloader;
  private final RuntimeKeys runtimeKeys;

  /**
   * The admin API over this rotator and guard; {@code settings} gives the settings in force (the
   * admin token among them), {@code reloader} re-reads the configuration file and applies it.
   */
  public AdminApi(GeminiKeyRotator rotator, ResilientCircuitGuard guard,
      Supplier<Settings> settings, Supplier<StandaloneConfig> reloader, RuntimeKeys runtimeKeys) {
    this.runtimeKeys = runtimeKeys;
    this.rotator = rotator;
    this.guard = guard;
    this.settings = settings;
    this.reloader = reloader;
  }

  /**
   * The refusal for a request that may not use the admin API (404 when it is off, 401 without a
   * bearer token, 403 with a wrong one), or {@code null} when its token is the admin token.
   * Cheap and non-blocking: the caller checks this from the request head, before reading a byte
   * of the body.
   */
  public Answer refusal(ProxyRequest request) {
    Settings s = settings.get();
    if (!s.adminEnabled()) {
      return Answer.problem(request, 404, "not-found", "Not found",
          "the admin API is disabled: set admin.token to enable it");
    }
    String auth = request.header("Authorization");
    if (auth == null || !auth.regionMatches(true, 0, "Bearer ", 0, 7)
        || auth.substring(7).isBlank()) {
      return Answer.problem(request, 401, "unauthenticated", "Admin token required",
          "send Authorization: Bearer <admin token>")
          .with("WWW-Authenticate", "Bearer realm=\"admin\"");
    }
    if (!s.matchAdmin(auth.substring(7).trim())) {
      return Answer.problem(request, 403, "forbidden", "Invalid admin token",
          "the admin token is not valid");
    }
    return null;
  }

  /**
   * Answers one admin request (its body read whole), checking its token again (a reload may have
   * changed it meanwhile). May block on the store: call it off the event loop.
   */
  public Answer handle(ProxyRequest request) {
    String path = request.path();
    String method = request.method();
    Answer refused = refusal(request);
    if (refused != null) return refused;
    try {
      return route(request, path, method);
    } catch (ConfigException e) {
      ConfigWatcher.logInvalid(settings.get().config.source(), e, "POST /admin/reload",
          request.requestIdText());
      ObjectNode body = problemBody(request, 422, "invalid-config", "Configuration invalid",
          "the configuration file has errors; the running configuration is kept");
      ArrayNode errors = body.putArray("errors");
      e.errors().forEach(errors::add);
      return Answer.json(422, body, "application/problem+json");
    } catch (BadRequest e) {
      return Answer.problem(request, 400, "bad-request", "Bad request", e.getMessage());
    } catch (Exception e) {
      log.atError().addKeyValue("requestId", request.requestId())
          .log("admin request failed: {}", e.getClass().getSimpleName());
      return Answer.problem(request, 500, "admin-error", "Admin request failed",
          "the admin request failed; see the proxy log");
    }
  }

  private Answer route(ProxyRequest request, String path, String method) throws Exception {
    List<String> parts = new ArrayList<>();
    for (String p : path.substring("/admin".length()).split("/")) {
      if (!p.isEmpty()) parts.add(URLDecoder.decode(p, StandardCharsets.UTF_8));
    }
    if (parts.size() == 1 && parts.get(0).equals("keys") && method.equals("GET")) {
      ArrayNode keys = ProblemDocument.JSON.createArrayNode();
      for (KeySnapshot k : rotator.snapshot()) keys.add(keyJson(k));
      ObjectNode body = ProblemDocument.JSON.createObjectNode();
      body.set("keys", keys);
      return Answer.json(200, body, "application/json");
    }
    if (parts.size() == 1 && parts.get(0).equals("keys") && method.equals("POST")) {
      return addKeys(request);
    }
    if (parts.size() == 2 && parts.get(0).equals("keys") && method.equals("DELETE")) {
      String id = parts.get(1);
      if (runtimeKeys.delete(id)) {
        log.atInfo().addKeyValue("keyId", id).log("admin removed key");
        return new Answer(204, null, new byte[0], Map.of());
      }
      return notFound(request, id);
    }
    if (parts.size() == 3 && parts.get(0).equals("keys") && method.equals("POST")) {
      String id = parts.get(1);
      boolean found;
      switch (parts.get(2)) {
        case "enable" -> found = rotator.enable(id);
        case "disable" -> found = rotator.disable(id);
        case "reset" -> found = rotator.reset(id);
        default -> {
          return notRoute(request);
        }
      }
      if (!found) return notFound(request, id);
      log.atInfo().addKeyValue("keyId", id).log("admin {} key", parts.get(2));
      return Answer.json(200, keyJson(rotator.snapshot(id).orElseThrow()), "application/json");
    }
    if (parts.size() == 1 && parts.get(0).equals("reload") && method.equals("POST")) {
      StandaloneConfig current = settings.get().config;
      if (current.source() == null) {
        throw new BadRequest("the proxy was started without a config file; nothing to reload");
      }
      StandaloneConfig next = reloader.get();
      ObjectNode body = ProblemDocument.JSON.createObjectNode();
      body.put("status", "reloaded");
      body.put("keys", next.rotator().keys().size());
      return Answer.json(200, body, "application/json");
    }
    if (parts.size() == 1 && parts.get(0).equals("stats") && method.equals("GET")) {
      RotatorStats stats = rotator.stats();
      ObjectNode body = ProblemDocument.JSON.createObjectNode();
      body.put("acquisitions", stats.acquisitions());
      body.put("noKeyAvailable", stats.noKeyAvailable());
      body.put("cooldowns", stats.cooldowns());
      body.put("trials", stats.trials());
      ObjectNode outcomes = body.putObject("outcomes");
      for (Map.Entry<Outcome.Kind, Long> e : stats.outcomes().entrySet()) {
        outcomes.put(e.getKey().name(), e.getValue());
      }
      body.put("keys", rotator.snapshot().size());
      body.put("strategy", rotator.strategy().name());
      ObjectNode breakers = body.putObject("breaker");
      breakers.put("*", guard.state("*").name());
      for (String scope : guard.scopes()) breakers.put(scope, guard.state(scope).name());
      return Answer.json(200, body, "application/json");
    }
    return notRoute(request);
  }

  private Answer addKeys(ProxyRequest request) throws Exception {
    byte[] bytes = request.body();
    if (bytes.length > MAX_BODY) throw new BadRequest("body larger than 1MB");
    JsonNode root;
    try {
      root = ProblemDocument.JSON.readTree(bytes);
    } catch (Exception e) {
      throw new BadRequest("body must be JSON: {\"keys\":[{\"secret\":\"...\"}]}");
    }
    JsonNode list = root == null ? null : root.get("keys");
    if (list == null || !list.isArray() || list.isEmpty()) {
      throw new BadRequest("body must have a non-empty \"keys\" array of {secret, id, weight,"
          + " project}");
    }
    List<ApiKey> keys = new ArrayList<>();
    for (int i = 0; i < list.size(); i++) {
      JsonNode k = list.get(i);
      JsonNode secret = k.get("secret");
      if (secret == null || !secret.isTextual() || secret.asText().isBlank()) {
        throw new BadRequest("keys[" + i + "].secret is required");
      }
      try {
        ApiKey.Builder b = ApiKey.builder(secret.asText().trim());
        if (k.hasNonNull("id")) b.id(k.get("id").asText());
        if (k.hasNonNull("weight")) {
          if (!k.get("weight").canConvertToInt()) {
            throw new IllegalArgumentException("weight must be an integer");
          }
          b.weight(k.get("weight").asInt());
        }
        if (k.hasNonNull("project")) b.project(k.get("project").asText());
        keys.add(b.build());
      } catch (IllegalArgumentException e) {
        String msg = e.getMessage() == null ? "is invalid" : e.getMessage();
        throw new BadRequest("keys[" + i + "]." + msg.replace(secret.asText(), "****"));
      }
    }
    // One membership change for the whole batch: adding keys one by one rebuilt the pool per
    // key, quadratic in time and garbage (10,000 keys took 17.8 s and about 1.4 GB).
    List<ApiKey> pooled = runtimeKeys.addAll(keys); // ids as the pool derives them
    ArrayNode added = ProblemDocument.JSON.createArrayNode();
    StringBuilder ids = new StringBuilder();
    for (ApiKey key : pooled) {
      if (ids.length() > 0) ids.append(',');
      ids.append(key.id());
      rotator.snapshot(key.id()).ifPresent(s -> added.add(keyJson(s)));
    }
    // One line per request, naming every key: a log event per key made most of the garbage of a
    // large batch.
    if (keys.size() == 1) {
      log.atInfo().addKeyValue("keyId", ids.toString()).log("admin added key");
    } else {
      log.atInfo().addKeyValue("keys", keys.size()).addKeyValue("keyIds", ids.toString())
          .log("admin added keys");
    }
    ObjectNode body = ProblemDocument.JSON.createObjectNode();
    body.set("keys", added);
    return Answer.json(201, body, "application/json");
  }

  static ObjectNode keyJson(KeySnapshot k) {
    ObjectNode n = ProblemDocument.JSON.createObjectNode();
    n.put("id", k.id());
    n.put("masked", k.masked());
    n.put("weight", k.weight());
    n.put("state", k.state().name());
    n.put("health", k.health());
    n.put("inFlight", k.inFlight());
    ObjectNode cooldowns = n.putObject("cooldowns");
    k.cooldowns().forEach((model, until) -> cooldowns.put(model, until.toString()));
    ObjectNode cooldownReasons = n.putObject("cooldownReasons");
    k.cooldownReasons().forEach(cooldownReasons::put);
    if (k.stateUntil() != null) n.put("stateUntil", k.stateUntil().toString());
    if (k.reason() != null) n.put("reason", k.reason());
    n.put("successes", k.successes());
    n.put("failures", k.failures());
    ObjectNode labels = n.putObject("labels");
    k.labels().forEach(labels::put);
    return n;
  }

  private Answer notFound(ProxyRequest request, String id) {
    return Answer.problem(request, 404, "key-not-found", "Key not found",
        "no key with id " + (id.length() > 64 ? id.substring(0, 64) + "…" : id));
  }

  private Answer notRoute(ProxyRequest request) {
    return Answer.problem(request, 404, "not-found", "Not found",
        "no admin route for " + request.method() + " " + request.path());
  }

  private static ObjectNode problemBody(ProxyRequest request, int status, String slug,
      String title, String detail) {
    ObjectNode body = ProblemDocument.JSON.createObjectNode();
    body.put("type", ProblemDocument.TYPE_BASE + slug);
    body.put("title", title);
    body.put("status", status);
    body.put("detail", detail);
    body.put("instance", request.path());
    body.put("requestId", request.requestId());
    return body;
  }

  /**
   * A whole response computed off the event loop (admin, readiness, metrics), written by the
   * caller on the connection's event loop. Immutable.
   */
  public record Answer(int status, String type, byte[] body, Map<String, String> headers) {

    static Answer json(int status, JsonNode body, String type) {
      byte[] bytes;
      try {
        // no String in between: a large listing
        bytes = ProblemDocument.JSON.writeValueAsBytes(body);
      } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
        throw new IllegalStateException("a JSON tree could not be written", e);
      }
      return new Answer(status, type, bytes, Map.of());
    }

    /** A problem document about {@code request}, naming its path and request id. */
    public static Answer problem(ProxyRequest request, int status, String slug, String title,
        String detail) {
      return new Answer(status, ProblemDocument.MEDIA_TYPE, ProblemDocument.bytes(
          ProblemDocument.of(status, slug, title, detail, request.path(), request.requestId()),
          status), Map.of());
    }

    Answer with(String name, String value) {
      Map<String, String> h = new java.util.LinkedHashMap<>(headers);
      h.put(name, value);
      return new Answer(status, type, body, Map.copyOf(h));
    }
  }

  /** A client mistake in an admin request; the message is shown to the caller. */
  private static final class BadRequest extends Exception {
    private static final long serialVersionUID = 1L;

    BadRequest(String message) {
      super(message, null, false, false);
    }
  }
}
