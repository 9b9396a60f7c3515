package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.standalone.config.StandaloneConfig.Server;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, item 3, end to end: the proxy as its own JVM with the README's recommended flags
 * ({@code -Xmx128m}, serial collector, exit on OutOfMemoryError) takes ten concurrent bodies just
 * under the default 20 MB limit. Before the body budget, five of them ran it out of memory. Every
 * request is answered, 200 or the budget's 503 with {@code Retry-After}; the process is alive and
 * healthy afterwards, and the budget is back to zero.
 */
class BodyBudgetProcessTest {

  /** README "Running the proxy" and benchmarks/load/lib.sh. */
  static final List<String> README_FLAGS = List.of("-Xms32m", "-Xmx128m", "-Xmn20m", "-Xss512k",
      "-XX:+UseSerialGC", "-XX:-TieredCompilation", "-XX:MaxMetaspaceSize=96m",
      "-XX:+ExitOnOutOfMemoryError");
  private static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";
  private static final String TOKEN = "process-test-access-token";
  private static final int NEAR_LIMIT = (int) Server.DEFAULT_MAX_REQUEST_SIZE - 64 * 1024;

  @Test
  void tenConcurrentNearLimitBodiesAreAllAnsweredAndTheProxyStaysUp(@TempDir Path dir)
      throws Exception {
    HttpServer upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 64);
    ExecutorService upstreamThreads = Executors.newFixedThreadPool(10);
    byte[] answer = Fixtures.geminiResponse("generate-content.json")
        .getBytes(StandardCharsets.UTF_8);
    upstream.setExecutor(upstreamThreads);
    upstream.createContext("/", exchange -> {
      try (InputStream in = exchange.getRequestBody()) {
        in.transferTo(java.io.OutputStream.nullOutputStream());
      }
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, answer.length);
      exchange.getResponseBody().write(answer);
      exchange.close();
    });
    upstream.start();
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        keys:
          - id: k1
            secret: AIzaSyPROC-pool-key-one-000000000001
          - id: k2
            secret: AIzaSyPROC-pool-key-two-000000000002
        server:
          port: 0
        upstream:
          base-url: http://127.0.0.1:%d
        access:
          tokens: [%s]
        logging:
          json: false
        """.formatted(upstream.getAddress().getPort(), TOKEN));
    Path log = dir.resolve("proxy.log");
    List<String> command = ProxyProcess.command(README_FLAGS, config);
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true)
        .redirectOutput(log.toFile());
    pb.environment().put("MALLOC_ARENA_MAX", "2");
    Process proxy = pb.start();
    HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(10)).build();
    try {
      int port = ProxyProcess.awaitPort(proxy, log);
      URI base = URI.create("http://127.0.0.1:" + port);
      byte[] body = new byte[NEAR_LIMIT];
      java.util.Arrays.fill(body, (byte) ' ');
      body[0] = '{';
      body[body.length - 1] = '}';

      List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        calls.add(http.sendAsync(HttpRequest.newBuilder(base.resolve(GENERATE))
            .timeout(Duration.ofSeconds(120)).header("x-goog-api-key", TOKEN)
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body)).build(),
            HttpResponse.BodyHandlers.ofString()));
      }
      int ok = 0;
      for (int i = 0; i < calls.size(); i++) {
        HttpResponse<String> r;
        try {
          r = calls.get(i).get(150, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException e) {
          proxy.waitFor(10, TimeUnit.SECONDS);
          throw new AssertionError("request " + i + " got no answer (" + e.getCause() + "); the"
              + " proxy " + (proxy.isAlive() ? "is alive" : "exited with " + proxy.exitValue())
              + "; its log:\n" + Files.readString(log), e);
        }
        if (r.statusCode() == 200) {
          ok++;
        } else {
          assertThat(r.statusCode()).as("request %d: %s", i, r.body()).isEqualTo(503);
          assertThat(r.headers().firstValue("Retry-After")).as("request %d", i).hasValue("1");
          assertThat(r.body()).contains("body-budget");
        }
      }
      assertThat(ok).as("requests served").isPositive();
      assertThat(proxy.isAlive()).as("the proxy process is alive; its log:\n%s",
          Files.readString(log)).isTrue();
      HttpResponse<String> health = http.send(HttpRequest.newBuilder(base.resolve("/health"))
          .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(health.statusCode()).isEqualTo(200);
      Eventually.untilAsserted("the body budget back to zero in /metrics", () -> {
        String metrics = http.send(HttpRequest.newBuilder(base.resolve("/metrics"))
            .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = Pattern.compile("(?m)^gemini_proxy_body_budget_used_bytes (\\S+)")
            .matcher(metrics);
        assertThat(m.find()).as("the budget gauge in /metrics").isTrue();
        assertThat(Double.parseDouble(m.group(1))).as("body budget in use after every request")
            .isZero();
      });
    } finally {
      proxy.destroy();
      if (!proxy.waitFor(30, TimeUnit.SECONDS)) proxy.destroyForcibly().waitFor();
      upstream.stop(0);
      upstreamThreads.shutdownNow();
    }
  }


}
