package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.FAST;
import static dev.geminirotator.okhttp.Pools.MODEL;
import static dev.geminirotator.okhttp.Pools.client;
import static dev.geminirotator.okhttp.Pools.generate;
import static dev.geminirotator.okhttp.Pools.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.time.Duration;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.OkHttpClient;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The interceptor's 429s and 503s carry the pool's {@code Retry-After} (issue 15 item 2): a
 * Gemini 429 or 503 passed on when the attempts ran out, and its own answers; when no key frees up
 * by itself it answers 503 without one. A 429 another gemini-rotator made itself (a standalone
 * proxy as the upstream) is not taken for the key's own quota.
 */
class PoolRetryAfterTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private final FakeClock clock = FakeClock.standard();
  private MockWebServer server;
  private GeminiKeyRotator rotator;

  @BeforeEach
  void startServer() throws IOException {
    server = new MockWebServer();
    server.start();
  }

  @AfterEach
  void stop() {
    server.close();
    if (rotator != null) rotator.close();
  }

  private GeminiKeyInterceptor.Builder interceptor(int keys) {
    rotator = Pools.rotator(clock, keys);
    return GeminiKeyInterceptor.builder().rotator(rotator).clock(clock).policy(FAST);
  }

  @Test
  void fourRateLimitedKeysAtTheDefaultCapPassOnThe429WithThePoolsRetryAfter() throws Exception {
    OkHttpClient client = client(interceptor(4).build()); // FAST keeps the default cap, 4
    for (int i = 0; i < 4; i++) server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(429);
      // Every key cools for the fixture's retryDelay, 37 s; the fake clock stands still.
      assertThat(response.header("Retry-After")).isEqualTo("37");
    }
    assertThat(server.getRequestCount()).isEqualTo(4);
  }

  @Test
  void oneKeyWithMaxAttemptsOnePassesOnThe429WithThePoolsRetryAfter() throws Exception {
    OkHttpClient client = client(interceptor(1)
        .policy(AttemptPolicy.builder().maxAttempts(1).build()).build());
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(429);
      assertThat(response.header("Retry-After")).isEqualTo("37");
    }
  }

  @Test
  void aPassedOn503GetsTheBreakersRemainingOpenTime() throws Exception {
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder().clock(clock)
        // The breaker counts requests: this one's two 503s are one failed call, which opens it.
        .policy(BreakerPolicy.builder().minimumCalls(1).slidingWindowSize(1)
            .waitInOpen(Duration.ofSeconds(30)).build())
        .build();
    OkHttpClient client = client(interceptor(2).guard(guard).build());
    server.enqueue(json(503, Fixtures.geminiError("503-overloaded")));
    server.enqueue(json(503, Fixtures.geminiError("503-overloaded")));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.header("Retry-After")).isEqualTo("30");
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isNull(); // Gemini's own answer
    }
  }

  @Test
  void everyKeyInvalidAnswers503WithoutRetryAfter() throws Exception {
    OkHttpClient client = client(interceptor(2).build());
    server.enqueue(json(400, Fixtures.geminiError("400-api-key-invalid")));
    server.enqueue(json(400, Fixtures.geminiError("400-api-key-invalid")));
    client.newCall(generate(server)).execute().close(); // both keys go INVALID

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.header("Retry-After")).isNull();
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isEqualTo("no-key-available");
      JsonNode error = JSON.readTree(response.body().string()).get("error");
      assertThat(error.get("status").asText()).isEqualTo("UNAVAILABLE");
      assertThat(error.get("message").asText()).contains("no key frees up by itself");
      JsonNode info = error.get("details").get(0);
      assertThat(info.get("@type").asText()).isEqualTo("type.googleapis.com/google.rpc.ErrorInfo");
      assertThat(info.get("domain").asText()).isEqualTo("gemini-rotator");
      assertThat(info.get("reason").asText()).isEqualTo("NO_KEY_AVAILABLE");
      assertThat(error.get("details")).hasSize(1); // no RetryInfo
    }
    assertThat(server.getRequestCount()).isEqualTo(2);
  }

  @Test
  void theLocal429CarriesRetryInfoMatchingRetryAfter() throws Exception {
    OkHttpClient client = client(interceptor(1).build());
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    client.newCall(generate(server)).execute().close();

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(429);
      assertThat(response.header("Retry-After")).isEqualTo("37");
      JsonNode details = JSON.readTree(response.body().string()).at("/error/details");
      assertThat(details.get(1).get("@type").asText())
          .isEqualTo("type.googleapis.com/google.rpc.RetryInfo");
      assertThat(details.get(1).get("retryDelay").asText()).isEqualTo("37s");
    }
  }

  @Test
  void aRotatorsOwn429FromTheUpstreamIsNotTheKeysQuota() throws Exception {
    OkHttpClient client = client(interceptor(2).build());
    // What a standalone proxy answers when its own pool is spent.
    server.enqueue(new MockResponse.Builder().code(429)
        .addHeader("Content-Type", "application/json")
        .addHeader("X-Gemini-Rotator", "no-key-available").addHeader("Retry-After", "9")
        .body(Fixtures.geminiError("429-per-minute")).build());

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(429);
      assertThat(response.header("Retry-After")).isEqualTo("9"); // passed on as it was
    }
    assertThat(server.getRequestCount()).isEqualTo(1); // not retried on the other credential
    assertThat(rotator.snapshot()).allSatisfy(k -> {
      assertThat(k.state()).isEqualTo(KeyState.HEALTHY);
      assertThat(k.cooldowns()).doesNotContainKey(MODEL);
    });
  }
}
