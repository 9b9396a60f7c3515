package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.testsupport.redis.RedisServer;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code /health/detailed} is readiness: ready while the proxy can serve. A Redis outage (real
 * redis-server, killed) or an open breaker is {@code DEGRADED} and still 200; only a pool with no
 * key that can ever serve again without an operator is 503.
 */
class ReadinessTest {

  static final String PATH = "/v1beta/models/gemini-2.5-flash:generateContent";
  static final ObjectMapper JSON = new ObjectMapper();

  RedisServer redis;
  Harness h;

  @AfterEach
  void stop() {
    try {
      if (h != null) h.close();
    } finally {
      if (redis != null) redis.close();
    }
  }

  @Test
  void aRedisOutageLeavesTheProxyReadyAndDegradedThenUpWhenRedisReturns() throws Exception {
    redis = RedisServer.startOnFreePort();
    h = new Harness("storage: \"" + redis.uri() + "\"\n");
    assertReadiness(200, "UP", "UP");

    redis.kill();
    Eventually.until("the store notices Redis is gone",
        () -> !h.proxy.rotator().store().isAvailable());
    assertReadiness(200, "DEGRADED", "DOWN");
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(h.post(PATH, "{}", "x-goog-api-key", Harness.TOKEN).statusCode())
        .as("requests are served during the outage").isEqualTo(200);

    redis.start();
    Eventually.until("the store reconnects", () -> h.proxy.rotator().store().isAvailable());
    assertReadiness(200, "UP", "UP");
  }

  @Test
  void aProxyStartedWhileRedisIsDownStartsReadyAndDegradedThenBecomesUp() throws Exception {
    redis = RedisServer.startOnFreePort();
    redis.kill(); // the port is known, nothing listens on it
    h = new Harness("storage: \"" + redis.uri() + "\"\n");
    assertReadiness(200, "DEGRADED", "DOWN");
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(h.post(PATH, "{}", "x-goog-api-key", Harness.TOKEN).statusCode()).isEqualTo(200);

    redis.start();
    Eventually.until("the store connects", () -> h.proxy.rotator().store().isAvailable());
    assertReadiness(200, "UP", "UP");
  }

  @Test
  void everyKeyInvalidIsNotReady() throws Exception {
    h = new Harness("");
    h.enqueue(400, Fixtures.geminiError("400-api-key-invalid"));
    h.enqueue(400, Fixtures.geminiError("400-api-key-invalid"));
    h.post(PATH, "{}", "x-goog-api-key", Harness.TOKEN);
    assertThat(h.proxy.rotator().snapshot()).allSatisfy(
        k -> assertThat(k.state()).isEqualTo(KeyState.INVALID));

    HttpResponse<String> answer = h.get("/health/detailed");
    assertThat(answer.statusCode()).isEqualTo(503);
    JsonNode body = JSON.readTree(answer.body());
    assertThat(body.path("status").asText()).isEqualTo("DOWN");
    assertThat(body.path("keys").path("byState").path("INVALID").asInt()).isEqualTo(2);
  }

  @Test
  void onlyOneUsableKeyLeftIsStillUp() throws Exception {
    h = new Harness("");
    h.proxy.rotator().disable("k1");
    assertReadiness(200, "UP", "UP");
  }

  @Test
  void everyKeyCoolingDownIsDegradedNotDown() throws Exception {
    h = new Harness("");
    // A request that names no model: its 429s cool each key for every model.
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    h.get("/v1beta/models", "x-goog-api-key", Harness.TOKEN);

    HttpResponse<String> answer = h.get("/health/detailed");
    JsonNode body = JSON.readTree(answer.body());
    assertThat(body.path("keys").path("usable").asInt()).as(answer.body()).isZero();
    // Clients get 429 + Retry-After until a key frees up; a 503 here would only hide that.
    assertThat(answer.statusCode()).isEqualTo(200);
    assertThat(body.path("status").asText()).isEqualTo("DEGRADED");
  }

  @Test
  void anOpenBreakerIsDegradedNotDown() throws Exception {
    h = new Harness("breaker:\n  minimum-calls: 2\n  sliding-window-size: 2\n");
    CircuitGuard guard = h.proxy.guard();
    for (int i = 0; i < 4 && guard.state("*") != CircuitGuard.State.OPEN; i++) {
      guard.acquirePermission("*");
      guard.onOutcome("*", Outcome.upstreamError(503, "UNAVAILABLE"), Duration.ZERO);
    }
    assertThat(guard.state("*")).isEqualTo(CircuitGuard.State.OPEN);

    HttpResponse<String> answer = h.get("/health/detailed");
    assertThat(answer.statusCode()).isEqualTo(200);
    JsonNode body = JSON.readTree(answer.body());
    assertThat(body.path("status").asText()).isEqualTo("DEGRADED");
    assertThat(body.path("breaker").path("*").asText()).isEqualTo("OPEN");
  }

  private void assertReadiness(int status, String state, String store) throws Exception {
    HttpResponse<String> answer = h.get("/health/detailed");
    JsonNode body = JSON.readTree(answer.body());
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(status);
    assertThat(body.path("status").asText()).as(answer.body()).isEqualTo(state);
    assertThat(body.path("store").path("status").asText()).as(answer.body()).isEqualTo(store);
  }
}
