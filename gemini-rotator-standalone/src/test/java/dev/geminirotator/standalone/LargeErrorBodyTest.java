package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
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
