package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.geminirotator.config.ConfigException;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.testsupport.Fixtures;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * {@code server.management-port} moves {@code /metrics} and {@code /health/detailed} to a
 * listener of their own, and {@code server.metrics-token} puts {@code /metrics} behind a bearer
 * token: real sockets on random loopback ports.
 */
class ManagementPortTest {

  static final String METRICS_TOKEN = "s3cr3t-scrape-only-7f3a9c-2b1d";

  Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  @Test
  void metricsAndReadinessAreServedOnTheManagementPortAndNotOnTheMainOne() throws Exception {
    h = new Harness(Harness.withServer("  management-port: 0\n"), Map.of());
    int management = h.proxy.managementPort();
    assertThat(management).isPositive().isNotEqualTo(h.proxy.port());
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(h.post("/v1beta/models/gemini-2.5-flash:generateContent", "{}",
        "x-goog-api-key", Harness.TOKEN).statusCode()).isEqualTo(200);

    assertThat(h.get("/metrics").statusCode()).isEqualTo(404);
    assertThat(h.get("/health/detailed").statusCode()).isEqualTo(404);
    assertThat(h.get("/health").statusCode()).as("liveness stays on the main port")
        .isEqualTo(200);

    HttpResponse<String> metrics = get(management, "/metrics");
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.body()).containsPattern(
        "gemini_proxy_requests_seconds_count\\{[^}]*route=\"generate\"[^}]*} 1");
    HttpResponse<String> ready = get(management, "/health/detailed");
    assertThat(ready.statusCode()).isEqualTo(200);
    assertThat(ready.body()).contains("\"status\":\"UP\"");
    assertThat(get(management, "/health").statusCode()).isEqualTo(200);
    // The management port proxies nothing and has no admin API.
    assertThat(get(management, "/v1beta/models", "x-goog-api-key", Harness.TOKEN).statusCode())
        .isEqualTo(404);
    assertThat(get(management, "/admin/keys", "Authorization", "Bearer " + Harness.ADMIN)
        .statusCode()).isEqualTo(404);
    assertThat(h.upstream.getRequestCount()).as("nothing from the management port went upstream")
        .isEqualTo(1);
  }

  @Test
  void withoutAManagementPortMetricsAndReadinessStayOnTheMainPort() throws Exception {
    h = new Harness("");
    assertThat(h.proxy.managementPort()).isEqualTo(-1);
    assertThat(h.get("/metrics").statusCode()).isEqualTo(200);
    assertThat(h.get("/health/detailed").statusCode()).isEqualTo(200);
  }

  @Test
  void metricsWantTheBearerTokenWhichNeverShowsInLogsOrOutput() throws Exception {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    Level previous = root.getLevel();
    ListAppender<ILoggingEvent> captured = new ListAppender<>();
    captured.setContext(context);
    captured.start();
    root.setLevel(Level.DEBUG);
    root.addAppender(captured);
    List<String> seen = new ArrayList<>();
    try {
      h = new Harness(Harness.withServer("  metrics-token: ${METRICS_TOKEN}\n"),
          Map.of("METRICS_TOKEN", METRICS_TOKEN));
      assertThat(h.proxy.config().server().metricsTokenRequired()).isTrue();

      HttpResponse<String> none = h.get("/metrics");
      record(seen, none);
      assertThat(none.statusCode()).isEqualTo(401);
      assertThat(none.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(
          v -> assertThat(v).startsWith("Bearer"));
      assertThat(none.body()).doesNotContain("gemini_proxy");

      HttpResponse<String> wrong = h.get("/metrics", "Authorization",
          "Bearer " + METRICS_TOKEN + "x");
      record(seen, wrong);
      assertThat(wrong.statusCode()).isEqualTo(401);
      assertThat(wrong.body()).doesNotContain("gemini_proxy");

      HttpResponse<String> notBearer = h.get("/metrics", "Authorization", METRICS_TOKEN);
      record(seen, notBearer);
      assertThat(notBearer.statusCode()).isEqualTo(401);

      HttpResponse<String> accessToken = h.get("/metrics", "Authorization",
          "Bearer " + Harness.TOKEN);
      record(seen, accessToken);
      assertThat(accessToken.statusCode()).as("a client access token is not the metrics token")
          .isEqualTo(401);

      HttpResponse<String> ok = h.get("/metrics", "Authorization", "Bearer " + METRICS_TOKEN);
      record(seen, ok);
      assertThat(ok.statusCode()).isEqualTo(200);
      assertThat(ok.body()).contains("gemini_proxy_requests_inflight");

      // Readiness and liveness are not behind the metrics token (probes send no token).
      assertThat(h.get("/health/detailed").statusCode()).isEqualTo(200);
      assertThat(h.get("/health").statusCode()).isEqualTo(200);
      seen.add(h.proxy.config().toMaskedYaml());
      seen.add(h.proxy.config().toString());
      h.close();
      h = null;
    } finally {
      root.detachAppender(captured);
      root.setLevel(previous);
    }
    JsonEncoder encoder = new JsonEncoder();
    encoder.setContext(context);
    encoder.start();
    for (ILoggingEvent event : captured.list) {
      seen.add(new String(encoder.encode(event), StandardCharsets.UTF_8));
    }
    assertThat(captured.list).isNotEmpty();
    String everything = String.join("\n", seen);
    assertThat(everything).contains("metrics-token: '****'");
    assertThat(everything).as("the metrics token never shows")
        .doesNotContain(METRICS_TOKEN).doesNotContain(METRICS_TOKEN.substring(0, 12));
  }

  @Test
  void theMetricsTokenAlsoGuardsTheManagementPort() throws Exception {
    h = new Harness(Harness.withServer("  management-port: 0\n  metrics-token: "
        + METRICS_TOKEN + "\n"), Map.of());
    int management = h.proxy.managementPort();
    assertThat(get(management, "/metrics").statusCode()).isEqualTo(401);
    assertThat(get(management, "/metrics", "Authorization", "Bearer " + METRICS_TOKEN)
        .statusCode()).isEqualTo(200);
    assertThat(get(management, "/health/detailed").statusCode()).isEqualTo(200);
  }

  @Test
  void badManagementSettingsAreRefusedNamingTheField() throws Exception {
    Path dir = Files.createTempDirectory("gr-management");
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, "keys: [" + Harness.KEY_1 + "]\nserver:\n  port: 4806\n"
        + "  management-port: 4806\n");
    assertThatThrownBy(() -> StandaloneConfig.load(file, Map.of(), null))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.management-port must differ from server.port");

    Files.writeString(file, "keys: [" + Harness.KEY_1 + "]\nserver:\n"
        + "  management-port: 70000\n");
    assertThatThrownBy(() -> StandaloneConfig.load(file, Map.of(), null))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.management-port must be between 0 and 65535")
        .hasMessageContaining("70000");

    Files.writeString(file, "keys: [" + Harness.KEY_1 + "]\nserver:\n"
        + "  metrics-token: short\n");
    assertThatThrownBy(() -> StandaloneConfig.load(file, Map.of(), null))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.metrics-token must be at least 8 characters long")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("short"));
  }

  private HttpResponse<String> get(int port, String path, String... headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .timeout(Duration.ofSeconds(20)).GET();
    if (headers.length > 0) b.headers(headers);
    return h.send(b.build());
  }

  private static void record(List<String> seen, HttpResponse<String> response) {
    seen.add(response.statusCode() + " " + response.headers().map() + "\n" + response.body());
  }
}
