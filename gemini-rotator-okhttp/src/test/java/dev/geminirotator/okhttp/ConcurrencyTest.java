package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.CALLER_SECRET;
import static dev.geminirotator.okhttp.Pools.keyOf;
import static dev.geminirotator.okhttp.Pools.outcomes;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RotatorStats;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

class ConcurrencyTest {

  private static final int CALLS = 64;
  private static final int KEYS = 8;

  @Test
  void sixtyFourConcurrentCallsOverEightKeysKeepConsistentCounters() throws Exception {
    FakeClock clock = FakeClock.standard();
    String ok = Fixtures.geminiResponse("generate-content.json");
    String limited = Fixtures.geminiError("429-per-minute");
    try (MockWebServer server = new MockWebServer();
        GeminiKeyRotator rotator = Pools.rotator(clock, KEYS)) {
      // Key k3's project is out of quota: every request that carries it gets a 429.
      server.setDispatcher(new Dispatcher() {
        @Override
        public MockResponse dispatch(RecordedRequest request) {
          return keyOf(request).equals("k3") ? Pools.json(429, limited) : Pools.json(200, ok);
        }
      });
      server.start();
      OkHttpClient client = Pools.client(GeminiKeyInterceptor.builder().rotator(rotator)
          .clock(clock).policy(Pools.FAST).build());

      ExecutorService callers = Executors.newFixedThreadPool(CALLS);
      CountDownLatch go = new CountDownLatch(1);
      List<Future<String>> results = new ArrayList<>();
      try {
        for (int i = 0; i < CALLS; i++) {
          results.add(callers.submit(() -> {
            go.await();
            Request request = new Request.Builder()
                .url(server.url(Pools.GENERATE).newBuilder()
                    .addQueryParameter("key", CALLER_SECRET).build())
                .header("x-goog-api-key", CALLER_SECRET)
                .header("Authorization", "Bearer " + CALLER_SECRET)
                .post(RequestBody.create(Pools.PROMPT, Pools.JSON)).build();
            try (Response response = client.newCall(request).execute()) {
              return response.code() + " " + response.body().string().length();
            }
          }));
        }
        go.countDown();
        for (Future<String> result : results) {
          assertThat(result.get(30, TimeUnit.SECONDS)).isEqualTo("200 " + ok.length());
        }
      } finally {
        callers.shutdownNow();
      }

      int requests = server.getRequestCount();
      Map<String, Integer> byKey = new HashMap<>();
      for (int i = 0; i < requests; i++) {
        RecordedRequest recorded = Pools.take(server);
        byKey.merge(keyOf(recorded), 1, Integer::sum);
        assertThat(recorded.getUrl().queryParameter("key")).isNull();
        assertThat(recorded.getHeaders().get("Authorization")).isNull();
        assertThat(recorded.getHeaders().toString()).doesNotContain(CALLER_SECRET);
        assertThat(recorded.getTarget()).doesNotContain(CALLER_SECRET);
      }
      assertThat(byKey.keySet()).allMatch(id -> id.matches("k[1-8]"));

      RotatorStats stats = rotator.stats();
      long rateLimited = outcomes(stats, Outcome.Kind.RATE_LIMITED);
      assertThat(outcomes(stats, Outcome.Kind.SUCCESS)).isEqualTo(CALLS);
      assertThat(rateLimited).isEqualTo((int) byKey.getOrDefault("k3", 0)).isPositive();
      assertThat((long) requests).isEqualTo(CALLS + rateLimited);
      assertThat(stats.acquisitions()).isEqualTo((long) requests);
      assertThat(stats.noKeyAvailable()).isZero();
      for (Outcome.Kind kind : List.of(Outcome.Kind.KEY_REJECTED, Outcome.Kind.CLIENT_ERROR,
          Outcome.Kind.UPSTREAM_ERROR, Outcome.Kind.TRANSPORT_ERROR, Outcome.Kind.CANCELLED)) {
        assertThat(outcomes(stats, kind)).as(kind.name()).isZero();
      }
      long successes = 0;
      for (KeySnapshot key : rotator.snapshot()) {
        assertThat(key.inFlight()).as(key.id()).isZero();
        assertThat(key.successes()).as(key.id()).isEqualTo(
            key.id().equals("k3") ? 0 : (int) byKey.getOrDefault(key.id(), 0));
        successes += key.successes();
      }
      assertThat(successes).isEqualTo(CALLS);
    }
  }
}
