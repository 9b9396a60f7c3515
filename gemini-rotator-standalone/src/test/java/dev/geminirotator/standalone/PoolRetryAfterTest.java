package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.io.InputStream;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Every 429 and 503 the proxy sends carries a {@code Retry-After} computed from the pool (issue 15
 * item 2): when the attempts end with every key cooling (four limited keys and the default cap;
 * one key and {@code max-attempts: 1}), while the breaker is open, and while the proxy shuts down.
 * When no key frees up by itself (every key invalid) the answer is 503 without one.
 */
class PoolRetryAfterTest {

  static final ObjectMapper JSON = new ObjectMapper();
  /** The retryDelay of the 429-per-minute fixture. */
  static final long FIXTURE_RETRY_DELAY = 37;

  Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  HttpResponse<String> call() throws Exception {
    return h.post(Harness.GENERATE, "{\"contents\":[]}", "x-goog-api-key", Harness.TOKEN);
  }

  static long retryAfter(HttpResponse<?> response) {
    return Long.parseLong(response.headers().firstValue("Retry-After")
        .orElseThrow(() -> new AssertionError("no Retry-After on " + response.statusCode())));
  }

  @Test
  void fourRateLimitedKeysWithTheDefaultCapAnswer429WithThePoolsRetryAfter() throws Exception {
    h = Harness.start(Harness.Yaml.keys(4)); // attempts.max-attempts is the default, 4
    for (int i = 0; i < 4; i++) h.enqueue(429, Fixtures.geminiError("429-per-minute"));

    HttpResponse<String> response = call();

    assertThat(response.statusCode()).isEqualTo(429);
    assertThat(h.upstream.getRequestCount()).isEqualTo(4);
    // Every key cools for the fixture's retryDelay: the pool frees up then, not before.
    assertThat(retryAfter(response)).isBetween(FIXTURE_RETRY_DELAY - 5, FIXTURE_RETRY_DELAY + 1);
  }

  @Test
  void oneKeyWithMaxAttemptsOneAnswers429WithThePoolsRetryAfter() throws Exception {
    h = Harness.start(Harness.Yaml.keys(1)
        .attempts("attempts:\n  max-attempts: 1\n  backoff-base: 5ms\n  backoff-max: 10ms\n"));
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));

    HttpResponse<String> response = call();

    assertThat(response.statusCode()).isEqualTo(429);
    assertThat(retryAfter(response)).isBetween(FIXTURE_RETRY_DELAY - 5, FIXTURE_RETRY_DELAY + 1);

    // The next request finds no key at all: the proxy's own 429, same pool, same answer.
    HttpResponse<String> noKey = call();
    assertThat(noKey.statusCode()).isEqualTo(429);
    assertThat(retryAfter(noKey)).isBetween(FIXTURE_RETRY_DELAY - 5, FIXTURE_RETRY_DELAY + 1);
    assertThat(h.upstream.getRequestCount()).isEqualTo(1);
  }

  @Test
  void aPassedOn429GetsThePoolsTimeNotTheUpstreamsOwnRetryAfter() throws Exception {
    h = Harness.start(Harness.Yaml.keys(1)
        .attempts("attempts:\n  max-attempts: 1\n  backoff-base: 5ms\n  backoff-max: 10ms\n"));
    // Gemini says 3600 s in its header; the pool cools this key for the body's retryDelay.
    h.upstream.enqueue(new MockResponse.Builder().code(429)
        .body(Fixtures.geminiError("429-per-minute")).addHeader("Retry-After", "3600")
        .addHeader("Content-Type", "application/json").build());

    HttpResponse<String> response = call();

    assertThat(response.statusCode()).isEqualTo(429);
    assertThat(retryAfter(response)).isBetween(FIXTURE_RETRY_DELAY - 5, FIXTURE_RETRY_DELAY + 1);
  }

  @Test
  void breakerOpenAnswers503WithItsRemainingOpenTime() throws Exception {
    h = Harness.start(Harness.Yaml.keys(2).section("""
        breaker:
          minimum-calls: 1
          sliding-window-size: 1
          wait-in-open: 40s
        """)); // the breaker counts requests: one that got 503 from both keys opens it
    h.enqueue(503, Fixtures.geminiError("503-overloaded"));
    h.enqueue(503, Fixtures.geminiError("503-overloaded"));

    // Both keys answer 503: the breaker opens; the upstream 503 passed on carries the breaker's
    // time (the keys themselves are free sooner).
    HttpResponse<String> failed = call();
    assertThat(failed.statusCode()).isEqualTo(503);
    assertThat(retryAfter(failed)).isBetween(30L, 40L);

    HttpResponse<String> fast = call();
    assertThat(fast.statusCode()).isEqualTo(503);
    assertThat(retryAfter(fast)).isBetween(30L, 40L);
    JsonNode error = JSON.readTree(fast.body()).get("error");
    assertThat(error.get("status").asText()).isEqualTo("UNAVAILABLE");
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
  }

  @Test
  void everyKeyInvalidAnswers503WithoutRetryAfterAndSaysAnOperatorMustAct() throws Exception {
    h = Harness.start(Harness.Yaml.keys(2));
    h.enqueue(400, Fixtures.geminiError("400-api-key-invalid"));
    h.enqueue(400, Fixtures.geminiError("400-api-key-invalid"));

    HttpResponse<String> lastKey = call(); // both keys rejected within this request
    HttpResponse<String> later = call(); // no key left at all

    for (HttpResponse<String> response : java.util.List.of(lastKey, later)) {
      assertThat(response.statusCode()).isEqualTo(503);
      assertThat(response.headers().firstValue("Retry-After")).isEmpty();
      JsonNode error = JSON.readTree(response.body()).get("error");
      assertThat(error.get("status").asText()).isEqualTo("UNAVAILABLE");
      assertThat(error.get("message").asText()).contains("no key frees up by itself")
          .contains("operator");
      assertThat(response.body()).doesNotContain("RetryInfo");
    }
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
  }

  @Test
  void theShutdown503CarriesRetryAfter() throws Exception {
    h = Harness.start(Harness.Yaml.keys(1));
    // One slow request keeps the drain going while a kept-alive connection asks again.
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .body(Fixtures.geminiResponse("generate-content.json"))
        .addHeader("Content-Type", "application/json")
        .headersDelay(1500, TimeUnit.MILLISECONDS).build());
    CompletableFuture<HttpResponse<String>> slow = h.http.sendAsync(
        h.request(Harness.GENERATE).header("x-goog-api-key", Harness.TOKEN)
            .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{}")).build(),
        HttpResponse.BodyHandlers.ofString());
    Eventually.until("the slow request reached the upstream",
        () -> h.upstream.getRequestCount() >= 1);
    try (Socket kept = new Socket("127.0.0.1", h.port);
        Harness.KeptConnection probe = h.keepAlive()) {
      kept.setSoTimeout(10_000);
      kept.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(
          StandardCharsets.ISO_8859_1));
      Harness.KeptConnection.readResponse(kept.getInputStream());
      Thread closer = new Thread(h.proxy::close, "closer");
      closer.start();
      probe.awaitDraining();
      kept.getOutputStream().write(("POST " + Harness.GENERATE + " HTTP/1.1\r\nHost: x\r\n"
          + "x-goog-api-key: " + Harness.TOKEN + "\r\nContent-Length: 2\r\n\r\n{}")
          .getBytes(StandardCharsets.ISO_8859_1));
      InputStream in = kept.getInputStream();
      String answer = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
      assertThat(answer).startsWith("HTTP/1.1 503").containsIgnoringCase("\r\nRetry-After: 1\r\n")
          .contains("shutting down");
      closer.join(10_000);
    }
    assertThat(slow.get(10, TimeUnit.SECONDS).statusCode()).isEqualTo(200);
  }
}
