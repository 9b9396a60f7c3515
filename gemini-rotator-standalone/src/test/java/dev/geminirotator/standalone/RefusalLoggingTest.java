package dev.geminirotator.standalone;

import dev.geminirotator.standalone.gemini.RefusalLog;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.standalone.config.ConfigWatcher;
import dev.geminirotator.standalone.config.Settings;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.SecretScanner;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 15 item 8: what the proxy refuses itself is logged at INFO, with the request id, the
 * route and the client (never a secret), rate-limited so a flood gives a bounded number of lines;
 * a failed {@code POST /admin/reload} logs its errors as a failed file reload does.
 */
class RefusalLoggingTest {

  private static final SecretScanner SECRETS = SecretScanner.of(Harness.SECRETS);

  private Harness h;
  private ConfigWatcher watcher;
  private final LogCapture log = LogCapture.of(RefusalLog.class);

  @AfterEach
  void stop() {
    log.close();
    if (watcher != null) watcher.close();
    if (h != null) h.close();
  }

  /** The one INFO line naming this response's request id, once it is there. */
  private String lineFor(HttpResponse<String> response) {
    String id = response.headers().firstValue("X-Request-Id").orElseThrow();
    return Eventually.value(Duration.ofSeconds(10), "a refusal line for request " + id,
        () -> log.messages().stream().filter(l -> l.contains(id)).findFirst().orElse(null),
        l -> l != null);
  }

  private void assertNoSecretLogged() {
    assertThat(SECRETS.findings(String.join("\n", log.messages()))).as("secrets in the log")
        .isEmpty();
  }

  @Test
  void refusedAccessTokensAndAClientsRateLimitAreLoggedWithTheRequestIdAndClient()
      throws Exception {
    h = new Harness("rate-limit:\n  requests-per-minute: 1\n");
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));

    HttpResponse<String> missing = h.post(Harness.GENERATE, "{}");
    assertThat(missing.statusCode()).isEqualTo(401);
    assertThat(lineFor(missing)).startsWith("INFO refused request").contains("on generate")
        .contains("401 unauthenticated");

    HttpResponse<String> wrong = h.post(Harness.GENERATE, "{}", "x-goog-api-key",
        Harness.STRANGER);
    assertThat(wrong.statusCode()).isEqualTo(403);
    assertThat(lineFor(wrong)).contains("from 127.0.0.1").contains("403 forbidden");

    assertThat(h.generate().statusCode()).isEqualTo(200);
    HttpResponse<String> limited = h.generate();
    assertThat(limited.statusCode()).isEqualTo(429);
    String clientId = Settings.clientId(Settings.sha256(Harness.TOKEN));
    assertThat(lineFor(limited)).contains("from " + clientId)
        .contains("429 client-rate-limited").contains("1 requests per minute");
    assertNoSecretLogged();
  }

  @Test
  void theProxysOwnNoKeyAnswerAndAnOpenBreakerAreLogged() throws Exception {
    h = new Harness("""
        breaker:
          minimum-calls: 1
          sliding-window-size: 1
          wait-in-open: 60s
        """); // the breaker counts requests: one that got 500 from both keys opens it
    String internal = Fixtures.geminiError("500-internal");
    h.enqueue(500, internal);
    h.enqueue(500, internal);
    assertThat(h.generate().statusCode()).isEqualTo(500);
    HttpResponse<String> open = h.generate();
    assertThat(open.statusCode()).isEqualTo(503);
    assertThat(lineFor(open)).contains("503 circuit-open");

    ((dev.geminirotator.core.guard.ResilientCircuitGuard) h.proxy.guard()).reset();
    assertThat(h.admin("POST", "/admin/keys/k1/disable").statusCode()).isEqualTo(200);
    assertThat(h.admin("POST", "/admin/keys/k2/disable").statusCode()).isEqualTo(200);
    HttpResponse<String> noKey = h.generate();
    assertThat(noKey.statusCode()).isIn(429, 503);
    assertThat(lineFor(noKey)).contains(noKey.statusCode() + " no-key-available")
        .contains("gemini-2.5-flash");
    assertNoSecretLogged();
  }

  @Test
  void missingAndWrongAdminTokensAreLogged() throws Exception {
    h = new Harness("");
    HttpResponse<String> none = h.get("/admin/keys");
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(lineFor(none)).contains("on admin").contains("401 admin-unauthenticated")
        .contains("no admin token");

    HttpResponse<String> wrong = h.get("/admin/keys", "Authorization", "Bearer "
        + Harness.TOKEN);
    assertThat(wrong.statusCode()).isEqualTo(403);
    assertThat(lineFor(wrong)).contains("403 admin-forbidden").contains("wrong admin token");
    assertNoSecretLogged();
  }

  @Test
  void aWrongMetricsTokenIsLoggedWithoutTheToken() throws Exception {
    String metricsToken = "mtk-7f3a9c2e-q81z-b6d0";
    h = new Harness(Harness.withServer("  metrics-token: ${METRICS_TOKEN}\n"),
        Map.of("METRICS_TOKEN", metricsToken));
    HttpResponse<String> wrong = h.get("/metrics", "Authorization", "Bearer " + metricsToken
        + "x");
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(lineFor(wrong)).contains("on metrics").contains("401 metrics-unauthenticated")
        .contains("wrong metrics token");
    assertThat(SecretScanner.of(metricsToken).findings(String.join("\n", log.messages())))
        .isEmpty();
  }

  @Test
  void aFloodOfAThousandRefusedRequestsGivesABoundedNumberOfLines() throws Exception {
    h = new Harness("");
    long start = System.nanoTime();
    for (int i = 0; i < 1_000; i++) {
      HttpResponse<String> r = h.post(Harness.GENERATE, "{}", "x-goog-api-key",
          Harness.STRANGER);
      assertThat(r.statusCode()).isEqualTo(403);
    }
    long seconds = Duration.ofNanos(System.nanoTime() - start).toSeconds();
    List<String> lines = log.messages();
    // One line per kind per interval: the first at once, then at most one per interval passed.
    assertThat(lines).isNotEmpty().allMatch(l -> l.contains("403 forbidden"))
        .hasSizeLessThanOrEqualTo(1 + (int) (seconds / RefusalLog.DEFAULT_INTERVAL_SECONDS) + 1);
    assertNoSecretLogged();
  }

  @Test
  void aFailedAdminReloadLogsItsErrorsAsAFailedFileReloadDoes() throws Exception {
    h = new Harness("");
    watcher = new ConfigWatcher(h.configFile, h.proxy, Map.of(), new StandaloneConfig.Overrides(
        null, 0), Duration.ofMillis(100));
    String original = Files.readString(h.configFile);
    try (LogCapture reloads = LogCapture.of(ConfigWatcher.class)) {
      Files.writeString(h.configFile, original.replace("keys:\n", "keys:\n  - id: k9\n"
          + "    weight: 0\n    secret: AIzaSyTEST-pool-key-nine-000000009\n"));
      String fromFile = reloads.awaitWarningAfter(0, "the watcher rejects the weight of 0");

      HttpResponse<String> failed = h.admin("POST", "/admin/reload");
      assertThat(failed.statusCode()).isEqualTo(422);
      assertThat(failed.body()).contains("keys[0].weight");
      String fromAdmin = reloads.awaitWarningAfter(1, "the admin reload's warning");
      String id = failed.headers().firstValue("X-Request-Id").orElseThrow();
      assertThat(fromAdmin).contains("POST /admin/reload").contains(id)
          .contains("keeping the running configuration").contains("keys[0].weight");
      // The same line but for what asked: the file, the errors and their wording are shared.
      assertThat(after(fromAdmin, " refused: ")).isEqualTo(after(fromFile, " refused: "));
      List<String> all = new ArrayList<>(reloads.warnings());
      assertThat(SecretScanner.of("AIzaSyTEST-pool-key-nine-000000009").findings(
          String.join("\n", all))).isEmpty();
    }
  }

  private static String after(String line, String marker) {
    int at = line.indexOf(marker);
    assertThat(at).as("%s in %s", marker, line).isNotNegative();
    return line.substring(at);
  }
}
