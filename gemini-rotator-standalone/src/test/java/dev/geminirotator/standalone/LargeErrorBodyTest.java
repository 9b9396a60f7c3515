package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.SecretScanner;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Upstream error bodies larger than the classifier's peek reach the client whole when they are
 * the answer: the peek is bounded, what the client receives is not.
 */
class LargeErrorBodyTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String PATH = "/v1beta/models/gemini-2.5-flash:generateContent";
  static final String BODY = "{\"contents\":[]}";

  Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  /** A Gemini error fixture padded past the peek limit, still valid JSON. */
  static String padded(String fixture, int tag) throws Exception {
    ObjectNode root = (ObjectNode) JSON.readTree(Fixtures.geminiError(fixture));
    ObjectNode error = (ObjectNode) root.get("error");
    StringBuilder pad = new StringBuilder();
    while (pad.length() < GeminiClassifier.MAX_PEEK_BYTES * 3 / 2) {
      pad.append("attempt-").append(tag).append("-line-").append(pad.length()).append(' ');
    }
    error.put("padding", pad.toString());
    String body = JSON.writeValueAsString(root);
    assertThat(body.length()).isGreaterThan(GeminiClassifier.MAX_PEEK_BYTES + 1024);
    return body;
  }

  HttpResponse<String> call() throws Exception {
    return h.post(PATH, BODY, "x-goog-api-key", Harness.TOKEN);
  }

  int inFlight() {
    return h.proxy.rotator().snapshot().stream().mapToInt(KeySnapshot::inFlight).sum();
  }

  @Test
  void whenEveryKeyIsRateLimitedALarge429GivesThePoolsAnswerNotTheLastKeys() throws Exception {
    h = new Harness("");
    String first = padded("429-per-minute", 1);
    String last = padded("429-per-minute", 2);
    h.enqueue(429, first);
    h.enqueue(429, last);

    HttpResponse<String> response = call();

    // A key's own 429 is not the client's answer: the pool's is, with its earliest recovery.
    assertThat(response.statusCode()).isEqualTo(429);
    assertThat(response.headers().firstValue("Retry-After")).isPresent();
    assertThat(response.body()).contains("no-key-available").doesNotContain("attempt-2-line");
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
    RecordedRequest r1 = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest r2 = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(Set.of(r1.getHeaders().get("x-goog-api-key"), r2.getHeaders().get("x-goog-api-key")))
        .containsExactlyInAnyOrder(Harness.KEY_1, Harness.KEY_2);
    assertThat(inFlight()).isZero();
  }

  /**
   * Review finding (issue 15): a key's own failure longer than the peek reached the client when
   * the breaker opened while it was being read, since only "no key left" was answered by the
   * pool. Request A's key answers a suspended-consumer 403 over 64 KB only after request B, failed
   * by the upstream on both keys, has opened the breaker: A must get the breaker's 503, never the
   * key's 403.
   */
  @Test
  void aKeysOwnLargeFailureWhileTheBreakerOpensGetsTheBreakersAnswerNotTheKeys() throws Exception {
    h = new Harness("""
        breaker:
          minimum-calls: 1
          sliding-window-size: 1
          wait-in-open: 60s
        """); // the breaker counts requests: one that got 500 from both keys opens it
    // Valid JSON within the peek (so the classifier reads the reason), then whitespace.
    String suspended = Fixtures.geminiError("403-consumer-suspended")
        + " ".repeat(GeminiClassifier.MAX_PEEK_BYTES * 3 / 2);
    String internal = Fixtures.geminiError("500-internal");
    CountDownLatch aAtUpstream = new CountDownLatch(1);
    CountDownLatch breakerOpened = new CountDownLatch(1);
    h.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) throws InterruptedException {
        if (request.getBody().utf8().contains("\"b\"")) return Harness.json(500, internal);
        aAtUpstream.countDown();
        breakerOpened.await(30, TimeUnit.SECONDS);
        // Gemini names the suspended key itself: the classifier blames that key only.
        return Harness.json(403, suspended.replace("AIzaSyD-EXAMPLE-ONLY-000000000000000",
            request.getHeaders().get("x-goog-api-key")));
      }
    });
    ExecutorService client = Executors.newSingleThreadExecutor();
    try {
      Future<HttpResponse<String>> a = client.submit(
          () -> h.post(PATH, "{\"a\":1}", "x-goog-api-key", Harness.TOKEN));
      assertThat(aAtUpstream.await(30, TimeUnit.SECONDS)).isTrue();

      HttpResponse<String> b = h.post(PATH, "{\"b\":1}", "x-goog-api-key", Harness.TOKEN);
      assertThat(b.statusCode()).isEqualTo(500);
      assertThat(h.proxy.guard().state("gemini-2.5-flash")).isEqualTo(CircuitGuard.State.OPEN);
      breakerOpened.countDown();

      HttpResponse<String> response = a.get(30, TimeUnit.SECONDS);
      assertThat(response.statusCode()).isEqualTo(503);
      assertThat(response.headers().firstValue("X-Gemini-Rotator")).hasValue("circuit-open");
      assertThat(response.headers().firstValue("Retry-After")).isPresent();
      assertThat(response.body()).doesNotContain("suspended").doesNotContain("CONSUMER_SUSPENDED");
      assertThat(SecretScanner.of(Harness.SECRETS).findings(response.body())).isEmpty();
      assertThat(inFlight()).isZero();
    } finally {
      breakerOpened.countDown();
      client.shutdownNow();
    }
  }

  @Test
  void theFinalAttemptsLarge500ComesBackWhole() throws Exception {
    h = new Harness(Harness.defaultYaml().replace("attempts:\n", "attempts:\n  max-attempts: 2\n")
        .replace("keys:\n", "keys:\n  - id: k3\n    secret: AIzaSyTEST-pool-key-three-000000003\n"),
        Map.of());
    String first = padded("500-internal", 1);
    String last = padded("500-internal", 2);
    h.enqueue(500, first);
    h.enqueue(500, last);

    HttpResponse<String> response = call();

    assertThat(response.statusCode()).isEqualTo(500);
    assertThat(response.body()).isEqualTo(last);
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
    assertThat(inFlight()).isZero();
  }

  /**
   * Issue 16: the budget allows more attempts but every key has been tried. Core's loop takes the
   * next key before it drops a partly read failed answer (the proxy streams the body, it cannot
   * keep more than the peek); with none left, the last large 500 is the answer and comes back
   * whole, not cut at the peek.
   */
  @Test
  void whenNoKeyIsLeftTheLastLarge500ComesBackWhole() throws Exception {
    h = new Harness(Harness.defaultYaml().replace("attempts:\n", "attempts:\n  max-attempts: 4\n"),
        Map.of());
    String first = padded("500-internal", 1);
    String last = padded("500-internal", 2);
    h.enqueue(500, first);
    h.enqueue(500, last);

    HttpResponse<String> response = call();

    assertThat(response.statusCode()).isEqualTo(500);
    assertThat(response.body()).isEqualTo(last);
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
    assertThat(inFlight()).isZero();
  }

  @Test
  void aLargeNonRetryable400ComesBackWholeWithoutRetry() throws Exception {
    h = new Harness("");
    String invalid = padded("400-invalid-argument", 1);
    h.enqueue(400, invalid);

    HttpResponse<String> response = call();

    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(response.body()).isEqualTo(invalid);
    assertThat(h.upstream.getRequestCount()).isEqualTo(1);
    assertThat(inFlight()).isZero();
  }

  @Test
  void aLargeRateLimitIsRetriedOnTheNextKeyWhichAnswers() throws Exception {
    h = new Harness("");
    h.enqueue(429, padded("429-per-minute", 1));
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));

    HttpResponse<String> response = call();

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo(Fixtures.geminiResponse("generate-content.json"));
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
    assertThat(inFlight()).isZero();
  }
}
