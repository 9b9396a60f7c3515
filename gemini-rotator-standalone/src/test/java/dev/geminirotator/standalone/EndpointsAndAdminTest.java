package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class EndpointsAndAdminTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String PATH = "/v1beta/models/gemini-2.5-flash:generateContent";

  Harness h;

  @AfterEach
  void stop() throws Exception {
    if (h != null) h.close();
  }

  @Test
  void healthIsUpAndDetailedHealthFollowsUsableKeys() throws Exception {
    h = new Harness("");
    assertThat(h.get("/health").statusCode()).isEqualTo(200);

    HttpResponse<String> ready = h.get("/health/detailed");
    assertThat(ready.statusCode()).isEqualTo(200);
    JsonNode body = JSON.readTree(ready.body());
    assertThat(body.get("keys").get("byState").get("HEALTHY").asInt()).isEqualTo(2);
    assertThat(body.get("breaker").get("*").asText()).isEqualTo("CLOSED");
    assertThat(body.get("store").get("status").asText()).isEqualTo("UP");
    assertThat(body.has("uptimeSeconds")).isTrue();
    assertThat(body.get("version").asText()).isNotBlank();

    h.proxy.rotator().disable("k1");
    h.proxy.rotator().disable("k2");
    HttpResponse<String> notReady = h.get("/health/detailed");
    assertThat(notReady.statusCode()).isEqualTo(503);
    assertThat(JSON.readTree(notReady.body()).get("keys").get("byState").get("DISABLED").asInt())
        .isEqualTo(2);
  }

  @Test
  void metricsExposeRequestsRetriesRotatorAndJvmInPrometheusText() throws Exception {
    h = new Harness("");
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    h.post(PATH, "{}", "x-goog-api-key", Harness.TOKEN);

    HttpResponse<String> metrics = h.get("/metrics");

    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.headers().firstValue("content-type").orElseThrow()).startsWith("text/plain");
    String text = metrics.body();
    assertThat(text).containsPattern("gemini_proxy_requests_seconds_count\\{[^}]*method=\"POST\""
        + "[^}]*model=\"gemini-2.5-flash\"[^}]*route=\"generate\"[^}]*status=\"200\"[^}]*} 1");
    assertThat(text).contains("gemini_proxy_requests_seconds_bucket");
    assertThat(text).containsPattern("gemini_proxy_retries_total\\{reason=\"rate_limited\"} 1");
    assertThat(text).contains("gemini_proxy_upstream_latency_seconds_count");
    assertThat(text).contains("gemini_proxy_requests_inflight");
    assertThat(text).contains("gemini_rotator_");
    assertThat(text).contains("jvm_memory_used_bytes").contains("process_uptime_seconds");
    assertThat(text).doesNotContain(Harness.KEY_1).doesNotContain(Harness.KEY_2)
        .doesNotContain(Harness.TOKEN);
  }

  @Test
  void adminIsDisabledWithoutAToken() throws Exception {
    h = new Harness(Harness.yamlWithout("admin"), Map.of());
    HttpResponse<String> response = h.admin("GET", "/admin/keys", null);
    assertThat(response.statusCode()).isEqualTo(404);
  }

  @Test
  void adminNeedsTheAdminBearerToken() throws Exception {
    h = new Harness("");
    HttpResponse<String> none = h.get("/admin/keys");
    HttpResponse<String> wrong = h.get("/admin/keys", "Authorization", "Bearer not-the-admin");
    HttpResponse<String> clientToken = h.get("/admin/keys", "Authorization",
        "Bearer " + Harness.TOKEN);
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.headers().firstValue("WWW-Authenticate")).isPresent();
    assertThat(wrong.statusCode()).isEqualTo(403);
    assertThat(clientToken.statusCode()).isEqualTo(403);
    assertThat(none.headers().firstValue("Cache-Control")).hasValue("no-store");
  }

  @Test
  void adminRoutesManageKeys() throws Exception {
    h = new Harness("");
    HttpResponse<String> list = h.admin("GET", "/admin/keys", null);
    assertThat(list.statusCode()).isEqualTo(200);
    assertThat(list.headers().firstValue("Cache-Control")).hasValue("no-store");
    assertThat(list.headers().firstValue("X-Content-Type-Options")).hasValue("nosniff");
    JsonNode keys = JSON.readTree(list.body()).get("keys");
    assertThat(keys).hasSize(2);
    assertThat(keys.get(0).get("id").asText()).isEqualTo("k1");
    assertThat(keys.get(0).get("masked").asText()).isEqualTo("AIza…0001");
    assertThat(keys.get(0).get("state").asText()).isEqualTo("HEALTHY");
    assertThat(keys.get(0).has("health")).isTrue();
    assertThat(keys.get(0).has("cooldowns")).isTrue();
    assertThat(list.body()).doesNotContain(Harness.KEY_1).doesNotContain(Harness.KEY_2);

    String third = "AIzaSyTEST-pool-key-three-00000003";
    HttpResponse<String> added = h.admin("POST", "/admin/keys",
        "{\"keys\":[{\"secret\":\"" + third + "\",\"id\":\"k3\",\"weight\":3,\"project\":\"p3\"},"
            + "{\"secret\":\"AIzaSyTEST-pool-key-four-000000004\"}]}");
    assertThat(added.statusCode()).isEqualTo(201);
    assertThat(added.body()).doesNotContain(third);
    assertThat(h.proxy.rotator().snapshot()).hasSize(4);
    assertThat(h.proxy.rotator().snapshot("k3").orElseThrow().weight()).isEqualTo(3);

    HttpResponse<String> bad = h.admin("POST", "/admin/keys", "{\"keys\":[{\"id\":\"x\"}]}");
    assertThat(bad.statusCode()).isEqualTo(400);

    HttpResponse<String> disabled = h.admin("POST", "/admin/keys/k3/disable", null);
    assertThat(disabled.statusCode()).isEqualTo(200);
    assertThat(JSON.readTree(disabled.body()).get("state").asText()).isEqualTo("DISABLED");
    HttpResponse<String> enabled = h.admin("POST", "/admin/keys/k3/enable", null);
    assertThat(JSON.readTree(enabled.body()).get("state").asText()).isEqualTo("HEALTHY");
    HttpResponse<String> reset = h.admin("POST", "/admin/keys/k3/reset", null);
    assertThat(reset.statusCode()).isEqualTo(200);
    assertThat(h.admin("POST", "/admin/keys/nope/reset", null).statusCode()).isEqualTo(404);

    HttpResponse<String> deleted = h.admin("DELETE", "/admin/keys/k3", null);
    assertThat(deleted.statusCode()).isEqualTo(204);
    assertThat(h.proxy.rotator().snapshot("k3")).isEmpty();
    assertThat(h.admin("DELETE", "/admin/keys/k3", null).statusCode()).isEqualTo(404);

    HttpResponse<String> stats = h.admin("GET", "/admin/stats", null);
    assertThat(stats.statusCode()).isEqualTo(200);
    JsonNode s = JSON.readTree(stats.body());
    assertThat(s.get("keys").asInt()).isEqualTo(3);
    assertThat(s.has("acquisitions")).isTrue();
    assertThat(s.get("breaker").get("*").asText()).isEqualTo("CLOSED");
  }

  @Test
  void adminReloadAppliesTheFileAndRejectsABadOne() throws Exception {
    h = new Harness("");
    String third = "AIzaSyTEST-pool-key-three-00000003";
    Files.writeString(h.configFile, Files.readString(h.configFile)
        .replace("keys:\n", "keys:\n  - id: k3\n    secret: " + third + "\n"));
    h.admin("POST", "/admin/keys", "{\"keys\":[{\"secret\":\"AIzaSyTEST-runtime-key-0000000007\","
        + "\"id\":\"runtime\"}]}");
    HttpResponse<String> reloaded = h.admin("POST", "/admin/reload", null);
    assertThat(reloaded.statusCode()).isEqualTo(200);
    // The file's keys, plus the key an operator added at run time.
    assertThat(h.proxy.rotator().snapshot()).extracting(k -> k.id())
        .containsExactlyInAnyOrder("k1", "k2", "k3", "runtime");
    h.admin("DELETE", "/admin/keys/runtime", null);
    h.admin("POST", "/admin/reload", null);
    assertThat(h.proxy.rotator().snapshot()).extracting(k -> k.id())
        .containsExactlyInAnyOrder("k1", "k2", "k3");

    Files.writeString(h.configFile, Files.readString(h.configFile)
        .replace("drain-timeout: 5s", "drain-timeout: soon\n  bogus-field: 1"));
    HttpResponse<String> rejected = h.admin("POST", "/admin/reload", null);
    assertThat(rejected.statusCode()).isEqualTo(422);
    JsonNode body = JSON.readTree(rejected.body());
    assertThat(body.get("errors").toString()).contains("server.drain-timeout")
        .contains("bogus-field");
    assertThat(h.proxy.rotator().snapshot()).hasSize(3);
  }

  @Test
  void corsIsOffByDefaultAndAnswersPreflightsWhenOn() throws Exception {
    h = new Harness("");
    HttpResponse<String> off = h.get("/health", "Origin", "https://app.example");
    assertThat(off.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    h.close();

    h = new Harness("cors:\n  enabled: true\n  allowed-origins: [https://app.example]\n");
    HttpResponse<String> preflight = h.send(h.request("/v1beta/models")
        .header("Origin", "https://app.example")
        .header("Access-Control-Request-Method", "POST")
        .method("OPTIONS", java.net.http.HttpRequest.BodyPublishers.noBody()).build());
    assertThat(preflight.statusCode()).isEqualTo(204);
    assertThat(preflight.headers().firstValue("Access-Control-Allow-Origin"))
        .hasValue("https://app.example");
    assertThat(preflight.headers().firstValue("Access-Control-Allow-Headers").orElseThrow())
        .contains("x-goog-api-key");
    HttpResponse<String> other = h.get("/health", "Origin", "https://evil.example");
    assertThat(other.headers().firstValue("Access-Control-Allow-Origin")).isEmpty();
    assertThat(h.upstream.getRequestCount()).isZero();
  }
}
