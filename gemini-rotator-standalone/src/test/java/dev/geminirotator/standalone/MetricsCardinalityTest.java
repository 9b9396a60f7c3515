package dev.geminirotator.standalone;

import dev.geminirotator.standalone.gemini.ProxyMetrics;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Fixtures;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.Test;

/**
 * {@code /metrics} stays small whatever clients send: 10,000 requests with random models, routes,
 * methods and statuses leave a scrape under 1 MB, and every request is still counted once (a
 * combination past the series cap is counted under {@code other}, not dropped).
 */
class MetricsCardinalityTest {

  static final int REQUESTS = 10_000;
  static final int MAX_SCRAPE_BYTES = 1024 * 1024;
  static final Pattern COUNT = Pattern.compile(
      "^gemini_proxy_requests_seconds_count\\{([^}]*)} (\\S+)$", Pattern.MULTILINE);
  static final Pattern UPSTREAM_COUNT = Pattern.compile(
      "^gemini_proxy_upstream_latency_seconds_count\\{([^}]*)} (\\S+)$", Pattern.MULTILINE);
  static final Pattern STATUS = Pattern.compile("status=\"([^\"]*)\"");

  @Test
  void tenThousandRandomRequestsThroughTheMetricsLeaveAScrapeUnderOneMegabyte() {
    PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    try {
      ProxyMetrics metrics = new ProxyMetrics(registry);
      Random random = new Random(14);
      List<String> routes = List.of("openai", "upload", "stream", "generate", "count-tokens",
          "embed", "files", "cached-contents", "models", "other", "not-a-route");
      List<String> methods = List.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "BREW");
      for (int i = 0; i < REQUESTS; i++) {
        String route = routes.get(random.nextInt(routes.size()));
        int status = 100 + random.nextInt(520);
        String model = switch (random.nextInt(4)) {
          case 0 -> "gemini-" + random.nextInt(1_000_000);
          case 1 -> "bad model/" + random.nextInt(1000);
          case 2 -> "*";
          default -> "gemini-2.5-flash";
        };
        metrics.requestStarted();
        metrics.requestFinished(route, methods.get(random.nextInt(methods.size())), status,
            model, System.nanoTime());
        metrics.upstream(route, random.nextInt(10) == 0 ? -1 : status, System.nanoTime());
      }

      long started = System.nanoTime();
      String scrape = registry.scrape();
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      int bytes = scrape.getBytes(StandardCharsets.UTF_8).length;
      long[] warm = new long[9]; // figures for the report, never asserted
      for (int i = 0; i < warm.length; i++) {
        long t = System.nanoTime();
        registry.scrape();
        warm[i] = System.nanoTime() - t;
      }
      java.util.Arrays.sort(warm);
      System.out.printf("metrics binder: %d random requests -> scrape of %d bytes in %d ms"
          + " (first), %.1f ms (median of the next %d)%n", REQUESTS, bytes, millis,
          warm[warm.length / 2] / 1e6, warm.length);

      assertThat(bytes).isLessThan(MAX_SCRAPE_BYTES);
      Map<String, Double> series = counts(scrape, COUNT);
      assertThat(series.values().stream().mapToDouble(Double::doubleValue).sum())
          .as("every request counted exactly once").isEqualTo(REQUESTS);
      assertThat(series.size()).isLessThanOrEqualTo(ProxyMetrics.MAX_REQUEST_SERIES + 10 * 6);
      assertThat(series.keySet()).anySatisfy(labels -> assertThat(labels)
          .contains("method=\"other\"", "model=\"other\""));
      Map<String, Double> upstream = counts(scrape, UPSTREAM_COUNT);
      assertThat(upstream.values().stream().mapToDouble(Double::doubleValue).sum())
          .isEqualTo(REQUESTS);
      assertThat(upstream.size()).isLessThanOrEqualTo(ProxyMetrics.MAX_UPSTREAM_SERIES + 10 * 7);
      assertStatusesBucketed(series.keySet());
      assertThat(scrape).doesNotContain("bad model").doesNotContain("BREW")
          .doesNotContain("not-a-route");
      // Few buckets per histogram: ProxyMetrics.BUCKETS plus +Inf.
      String anySeries = series.keySet().iterator().next();
      long buckets = scrape.lines()
          .filter(l -> l.startsWith("gemini_proxy_requests_seconds_bucket{" + anySeries))
          .count();
      assertThat(buckets).isEqualTo(ProxyMetrics.BUCKETS.length + 1);
    } finally {
      registry.close();
    }
  }

  @Test
  void tenThousandRandomRequestsThroughTheProxyLeaveAScrapeUnderOneMegabyte() throws Exception {
    int[] statuses = {200, 201, 204, 206, 302, 400, 404, 409, 418, 422, 451};
    try (Harness h = new Harness("")) {
      h.upstream.setDispatcher(new Dispatcher() {
        @Override
        public MockResponse dispatch(RecordedRequest request) {
          int status = statuses[Math.floorMod(request.getTarget().hashCode(), statuses.length)];
          return new MockResponse.Builder().code(status).body("{}")
              .addHeader("Content-Type", "application/json").build();
        }
      });
      Random random = new Random(4);
      List<String> methods = List.of("GET", "POST", "DELETE", "PATCH");
      Semaphore window = new Semaphore(16);
      List<CompletableFuture<HttpResponse<Void>>> sent = new ArrayList<>(REQUESTS);
      for (int i = 0; i < REQUESTS; i++) {
        String model = "m-" + random.nextInt(1_000_000);
        String path = switch (random.nextInt(9)) {
          case 0 -> "/v1beta/models/" + model + ":generateContent";
          case 1 -> "/v1beta/models/" + model + ":streamGenerateContent?alt=sse";
          case 2 -> "/v1beta/models/" + model + ":countTokens";
          case 3 -> "/v1beta/models/" + model + ":embedContent";
          case 4 -> "/v1/models/" + model;
          case 5 -> "/v1beta/files/f" + random.nextInt(1000);
          case 6 -> "/v1beta/cachedContents/c" + random.nextInt(1000);
          case 7 -> "/v1beta/openai/chat/completions";
          default -> "/v1beta/tunedModels/t" + random.nextInt(1000);
        };
        String method = methods.get(random.nextInt(methods.size()));
        String body = "{\"model\":\"" + model + "\"}";
        HttpRequest request = h.request(path).header("x-goog-api-key", Harness.TOKEN)
            .header("Content-Type", "application/json")
            .method(method, method.equals("GET") || method.equals("DELETE")
                ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(body))
            .build();
        window.acquire();
        sent.add(h.http.sendAsync(request, HttpResponse.BodyHandlers.discarding())
            .whenComplete((r, e) -> window.release()));
      }
      CompletableFuture.allOf(sent.toArray(CompletableFuture[]::new)).get(5, TimeUnit.MINUTES);

      long started = System.nanoTime();
      HttpResponse<String> metrics = h.get("/metrics");
      long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
      int bytes = metrics.body().getBytes(StandardCharsets.UTF_8).length;
      System.out.printf("proxy: %d random requests -> /metrics of %d bytes in %d ms%n",
          REQUESTS, bytes, millis);

      assertThat(metrics.statusCode()).isEqualTo(200);
      assertThat(bytes).isLessThan(MAX_SCRAPE_BYTES);
      Map<String, Double> series = counts(metrics.body(), COUNT);
      assertThat(series.values().stream().mapToDouble(Double::doubleValue).sum())
          .as("every request counted exactly once").isEqualTo(REQUESTS);
      assertThat(series.size()).isLessThanOrEqualTo(ProxyMetrics.MAX_REQUEST_SERIES + 10 * 6);
      assertThat(series.keySet()).as("past the cap, combinations collapse to other")
          .anySatisfy(labels -> assertThat(labels).contains("model=\"other\""));
      assertStatusesBucketed(series.keySet());
    }
  }

  @Test
  void inventedModelNamesNeverSquatTheModelLabelsOfRealModels() throws Exception {
    String real = "gemini-2.5-flash";
    try (Harness h = new Harness("")) {
      h.upstream.setDispatcher(new Dispatcher() {
        @Override
        public MockResponse dispatch(RecordedRequest request) {
          // As Gemini does: 404 NOT_FOUND for a model that does not exist.
          boolean exists = request.getTarget().startsWith("/v1beta/models/" + real + ":");
          return new MockResponse.Builder().code(exists ? 200 : 404)
              .addHeader("Content-Type", "application/json")
              .body(exists ? Fixtures.geminiResponse("generate-content.json")
                  : Fixtures.geminiError("404-model-not-found"))
              .build();
        }
      });
      for (int i = 0; i < 2 * ProxyMetrics.MAX_MODELS; i++) {
        HttpResponse<String> invented = h.post("/v1beta/models/squat-" + i + ":generateContent",
            "{}", "x-goog-api-key", Harness.TOKEN);
        assertThat(invented.statusCode()).as("invented model %d", i).isEqualTo(404);
      }
      assertThat(h.post(Harness.GENERATE, "{}", "x-goog-api-key", Harness.TOKEN).statusCode())
          .isEqualTo(200);

      String scrape = h.get("/metrics").body();
      Map<String, Double> series = counts(scrape, COUNT);
      assertThat(series).as("the real model has a label of its own")
          .anySatisfy((labels, count) -> assertThat(labels)
              .contains("model=\"" + real + "\"", "status=\"200\""));
      assertThat(series).anySatisfy((labels, count) -> {
        assertThat(labels).contains("model=\"other\"", "status=\"404\"");
        assertThat(count).isEqualTo(2.0 * ProxyMetrics.MAX_MODELS);
      });
      assertThat(scrape).doesNotContain("squat-");
    }
  }

  private static void assertStatusesBucketed(Set<String> labelSets) {
    Set<String> allowed = new HashSet<>(List.of("1xx", "2xx", "3xx", "4xx", "5xx", "other"));
    ProxyMetrics.EXACT_STATUSES.forEach(s -> allowed.add(Integer.toString(s)));
    for (String labels : labelSets) {
      Matcher m = STATUS.matcher(labels);
      assertThat(m.find()).as(labels).isTrue();
      assertThat(allowed).as(labels).contains(m.group(1));
    }
  }

  private static Map<String, Double> counts(String scrape, Pattern pattern) {
    Map<String, Double> out = new TreeMap<>();
    Matcher m = pattern.matcher(scrape);
    while (m.find()) out.put(m.group(1), Double.parseDouble(m.group(2)));
    return out;
  }
}
