package dev.geminirotator.standalone;

import static dev.geminirotator.testsupport.Compression.gzip;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.RealLookingKeys;
import dev.geminirotator.testsupport.SecretScanner;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.function.BiFunction;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import okio.Buffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 15, item 1: Gemini's suspended-consumer error names the key ("Consumer 'api_key:AIza…'
 * has been suspended"), and an answer may name another pool key than the one that made the
 * attempt. Whatever error body reaches a client (read in full, kept from a failed attempt,
 * streamed past the peek, gzip-encoded), no pool secret is in it: each is its key's id.
 */
class PoolKeyInErrorBodyTest {

  private static final String K1 = RealLookingKeys.key(151);
  private static final String K2 = RealLookingKeys.key(152);
  private static final String K3 = RealLookingKeys.key(153);
  private static final List<String> POOL = List.of(K1, K2, K3);
  private static final SecretScanner SCANNER = SecretScanner.of(POOL);
  private static final Map<String, String> IDS = Map.of(K1, "k1", K2, "k2", K3, "k3");

  private Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  /** Three real-looking keys; retries without waiting. */
  private static String yaml() {
    return Harness.defaultYaml().replace("""
          - id: k1
            secret: %s
          - id: k2
            secret: %s
        """.formatted(Harness.KEY_1, Harness.KEY_2), """
          - id: k1
            secret: %s
          - id: k2
            secret: %s
          - id: k3
            secret: %s
        """.formatted(K1, K2, K3));
  }

  /** The pool key after {@code key}, so that an answer names a key other than its own. */
  private static String other(String key) {
    return POOL.get((POOL.indexOf(key) + 1) % POOL.size());
  }

  /** Answers every request with what {@code answer} makes of the pool key it carried. */
  private void answer(BiFunction<String, RecordedRequest, MockResponse> answer) {
    h.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return answer.apply(request.getHeaders().get("x-goog-api-key"), request);
      }
    });
  }

  private static void assertNoPoolSecret(HttpResponse<String> response) {
    assertThat(SCANNER.findings(response.body())).as("body").isEmpty();
    for (Map.Entry<String, List<String>> e : response.headers().map().entrySet()) {
      for (String value : e.getValue()) {
        assertThat(SCANNER.findings(value)).as(e.getKey()).isEmpty();
      }
    }
  }

  @Test
  void suspendedConsumersNamingTheirOwnKeysAreAnsweredByThePoolWithoutAnyKey() throws Exception {
    h = new Harness(yaml(), Map.of());
    answer((key, r) -> new MockResponse.Builder().code(403)
        .addHeader("Content-Type", "application/json")
        .body(RealLookingKeys.consumerSuspended(key)).build());

    HttpResponse<String> response = h.generate();

    // Every key is rejected on its own account: the pool answers (issue 15 item 4), and no key's
    // body, nor any pool secret, reaches the client.
    assertNoPoolSecret(response);
    // (a 429: the whole pool rejected at once is a rejection storm, which cools keys instead)
    assertThat(response.statusCode()).isEqualTo(429);
    assertThat(response.body()).doesNotContain("suspended").contains("no key");
  }

  @Test
  void anAnswerNamingAnotherPoolKeyReachesTheClientWithThatKeysId() throws Exception {
    h = new Harness(yaml(), Map.of());
    // A client error (returned at once, not retried) naming a pool key the request never used.
    answer((key, r) -> new MockResponse.Builder().code(400)
        .addHeader("Content-Type", "application/json")
        .body(RealLookingKeys.consumerSuspended(other(key)).replace("403", "400")
            .replace("CONSUMER_SUSPENDED", "SOMETHING_ELSE")).build());

    HttpResponse<String> response = h.generate();

    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(h.upstream.getRequestCount()).isEqualTo(1);
    assertNoPoolSecret(response);
    assertThat(response.body()).containsPattern("Consumer 'api_key:k[123]' has been suspended");
  }

  @Test
  void aKeptFailureNamingTheKeyOfAnEarlierAttemptIsScrubbed() throws Exception {
    h = new Harness(yaml(), Map.of());
    // Every attempt fails with 500 naming its own key and the key of the attempt before it; the
    // last one kept goes back when the attempts run out.
    answer((key, r) -> new MockResponse.Builder().code(500)
        .addHeader("Content-Type", "application/json")
        .body(Fixtures.geminiError("500-internal").replace("\"message\": \"",
            "\"message\": \"key " + key + " after " + other(key) + ": ")).build());

    HttpResponse<String> response = h.generate();

    assertThat(response.statusCode()).isEqualTo(500);
    assertThat(h.upstream.getRequestCount()).isGreaterThan(1);
    assertNoPoolSecret(response);
    assertThat(response.body()).containsPattern("key k[123] after k[123]: ");
  }

  @Test
  void aStreamedErrorBodyIsScrubbedAcrossChunksWithItsLengthDropped() throws Exception {
    h = new Harness(yaml(), Map.of());
    // 100 KB, longer than the classifier's peek, sent in 1000-byte chunks: keys straddle the
    // peek's end (65,536) and chunk boundaries, plainly and percent-encoded.
    answer((key, r) -> {
      StringBuilder body = new StringBuilder("{\"error\": {\"code\": 400, \"status\": "
          + "\"INVALID_ARGUMENT\", \"message\": \"");
      int[] at = {980, 65_520, 70_990};
      String[] keys = {key, other(key), other(other(key))};
      for (int i = 0; i < at.length; i++) {
        while (body.length() < at[i]) body.append('a');
        body.append(keys[i]);
      }
      while (body.length() < 90_000) body.append('b');
      body.append(java.net.URLEncoder.encode("x" + other(key), StandardCharsets.UTF_8)
          .replace("A", "%41").replace("I", "%49"));
      while (body.length() < 100 * 1024 - 3) body.append('c');
      body.append("\"}}");
      return new MockResponse.Builder().code(400).addHeader("Content-Type", "application/json")
          .chunkedBody(body.toString(), 1000).build();
    });

    HttpResponse<String> response = h.generate();

    assertThat(response.statusCode()).isEqualTo(400);
    assertNoPoolSecret(response);
    assertThat(response.body()).hasSizeLessThan(100 * 1024).endsWith("\"}}")
        .containsPattern("ak[123]a+k[123]a+k[123]b+xk[123]c+\"}}$");
  }

  @Test
  void anErrorBodyNotPeekedIsScrubbedToo() throws Exception {
    h = new Harness(yaml(), Map.of());
    // A 404 is returned without reading its body first: it streams, scrubbed.
    answer((key, r) -> new MockResponse.Builder().code(404)
        .addHeader("Content-Type", "application/json")
        .body("{\"error\": {\"code\": 404, \"message\": \"no model for " + key + " or "
            + other(key) + "\"}}").build());

    HttpResponse<String> response = h.generate();

    assertThat(response.statusCode()).isEqualTo(404);
    assertNoPoolSecret(response);
    assertThat(response.body()).matches("\\{\"error\": \\{\"code\": 404, \"message\": "
        + "\"no model for k[123] or k[123]\"}}");
  }

  @Test
  void aGzipErrorBodyIsInflatedScrubbedAndSentPlain() throws Exception {
    h = new Harness(yaml(), Map.of());
    // A 503 (an upstream error: retried on every key, the last one kept and returned) whose
    // message names the key.
    answer((key, r) -> new MockResponse.Builder().code(503)
        .addHeader("Content-Type", "application/json")
        .addHeader("Content-Encoding", "gzip")
        .body(new Buffer().write(gzip(RealLookingKeys.consumerSuspended(key)))).build());

    HttpResponse<String> response = h.generate();

    assertNoPoolSecret(response);
    assertThat(response.headers().firstValue("Content-Encoding")).isEmpty();
    assertThat(response.statusCode()).isEqualTo(503);
    assertThat(response.body()).containsPattern("Consumer 'api_key:k[123]' has been suspended");
    assertThat(h.upstream.getRequestCount()).as("retried on every key").isEqualTo(3);
  }

  @Test
  void aLongGzipErrorBodyStreamsInflatedAndScrubbed() throws Exception {
    h = new Harness(yaml(), Map.of());
    answer((key, r) -> {
      StringBuilder body = new StringBuilder("{\"error\": {\"code\": 400, \"message\": \"");
      for (int i = 0; i < 3_000; i++) body.append("line ").append(i).append(' ')
          .append(POOL.get(i % 3)).append(' ');
      body.append("\"}}");
      return new MockResponse.Builder().code(400).addHeader("Content-Type", "application/json")
          .addHeader("Content-Encoding", "gzip")
          .body(new Buffer().write(gzip(body.toString()))).build();
    });

    HttpResponse<String> response = h.generate();

    assertThat(response.statusCode()).isEqualTo(400);
    assertNoPoolSecret(response);
    assertThat(response.headers().firstValue("Content-Encoding")).isEmpty();
    assertThat(response.body()).startsWith("{\"error\": {\"code\": 400, \"message\": \"line 0 k1 ")
        .contains("line 2999 " + IDS.get(POOL.get(2999 % 3)) + " \"}}");
  }

  @Test
  void anErrorBodyInAnEncodingTheProxyCannotReadIsNotPassedOn() throws Exception {
    h = new Harness(yaml(), Map.of());
    answer((key, r) -> new MockResponse.Builder().code(400)
        .addHeader("Content-Type", "application/json")
        .addHeader("Content-Encoding", "br")
        .body("not really brotli, but it holds " + key).build());

    HttpResponse<String> response = h.generate();

    assertThat(response.statusCode()).isEqualTo(400);
    assertNoPoolSecret(response);
    assertThat(response.headers().firstValue("Content-Encoding")).isEmpty();
    assertThat(response.body()).isEmpty();
  }
}
