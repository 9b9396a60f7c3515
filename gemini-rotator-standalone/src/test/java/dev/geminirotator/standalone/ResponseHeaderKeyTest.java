package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.internal.exchange.SecretScrubber;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.SecretScanner;
import java.net.URLDecoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * No pool key reaches a client in a response header or an error body: wherever the upstream puts
 * the key, plainly or percent-encoded, the client sees the key's id instead; an upload URL the
 * proxy cannot point back at itself is never passed on.
 */
class ResponseHeaderKeyTest {

  private static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";

  private Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  /** Every character as a %XX escape. */
  private static String encodeAll(String text) {
    StringBuilder sb = new StringBuilder();
    for (byte b : text.getBytes(StandardCharsets.UTF_8)) sb.append(String.format("%%%02X", b));
    return sb.toString();
  }

  /** Echoes the key each request carried into several response headers, as it is told. */
  private Dispatcher echoingKey(int status, String body) {
    return new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String key = request.getHeaders().get("x-goog-api-key");
        String half = key.substring(0, 10) + encodeAll(key.substring(10, 20)).toLowerCase()
            + key.substring(20);
        return new MockResponse.Builder().code(status)
            .addHeader("Content-Type", "application/json")
            .addHeader("Location", h.baseUrl() + "/v1beta/files/abc?key=" + key + "&alt=json")
            .addHeader("X-Goog-Upload-Control-URL", h.baseUrl()
                + "/upload/v1beta/files?upload_id=UP-9&key=" + encodeAll(key))
            .addHeader("X-Debug-Echo", "sent with " + half + " at the end " + key)
            .addHeader("Link", "<" + h.baseUrl() + "/x?key=" + key + ">; rel=next")
            .body(body).build();
      }
    };
  }

  private static void assertNoPoolKey(HttpResponse<String> response) {
    for (Map.Entry<String, List<String>> e : response.headers().map().entrySet()) {
      for (String value : e.getValue()) {
        String decoded = URLDecoder.decode(value.replace("+", "%2B"), StandardCharsets.UTF_8);
        for (String secret : new String[] {Harness.KEY_1, Harness.KEY_2}) {
          assertThat(value).as(e.getKey()).doesNotContain(secret);
          assertThat(decoded).as(e.getKey() + " decoded").doesNotContain(secret);
        }
      }
    }
  }

  @Test
  void poolKeyInAnyResponseHeaderReachesTheClientAsItsId() throws Exception {
    h = new Harness("");
    h.upstream.setDispatcher(echoingKey(200, Fixtures.geminiResponse("generate-content.json")));
    for (int i = 0; i < 4; i++) {
      HttpResponse<String> response = h.post(GENERATE, "{}", "x-goog-api-key", Harness.TOKEN);
      assertThat(response.statusCode()).isEqualTo(200);
      assertNoPoolKey(response);
      String location = response.headers().firstValue("Location").orElseThrow();
      assertThat(location).matches(".*/v1beta/files/abc\\?key=k[12]&alt=json");
      assertThat(response.headers().firstValue("X-Debug-Echo").orElseThrow())
          .matches("sent with k[12] at the end k[12]");
      assertThat(response.headers().firstValue("X-Goog-Upload-Control-URL").orElseThrow())
          .as("pointed back at the proxy, without the key")
          .isEqualTo(h.proxy.uri() + "/upload/v1beta/files?upload_id=UP-9");
    }
  }

  @Test
  void poolKeyInTheHeadersOfAKeptFailureIsScrubbedToo() throws Exception {
    h = new Harness("");
    // Both keys answer 503: the last 503 goes back to the client, headers and all.
    h.upstream.setDispatcher(echoingKey(503, Fixtures.geminiError("503-overloaded")));
    HttpResponse<String> response = h.post(GENERATE, "{}", "x-goog-api-key", Harness.TOKEN);
    assertThat(response.statusCode()).isEqualTo(503);
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
    assertNoPoolKey(response);
    assertThat(response.headers().firstValue("Location").orElseThrow()).contains("key=k");
  }

  @Test
  void uploadUrlThatCannotBeRewrittenIsNeverPassedOn() throws Exception {
    h = new Harness("");
    h.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String key = request.getHeaders().get("x-goog-api-key");
        return new MockResponse.Builder().code(200)
            .addHeader("X-Goog-Upload-Status", "active")
            .addHeader("X-Goog-Upload-URL", h.baseUrl()
                + "/upload/v1beta/files?upload_id=UP 1|{bad}&key=" + key)
            .body("").build();
      }
    });
    HttpResponse<String> response = h.send(h.request("/upload/v1beta/files")
        .header("x-goog-api-key", Harness.TOKEN)
        .header("X-Goog-Upload-Protocol", "resumable")
        .header("X-Goog-Upload-Command", "start")
        .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{}")).build());
    assertThat(response.statusCode()).isEqualTo(502);
    assertThat(response.headers().firstValue("X-Goog-Upload-URL")).isEmpty();
    assertThat(response.headers().firstValue("Content-Type"))
        .hasValue("application/json; charset=utf-8");
    assertThat(response.body()).contains("bad-upload-url");
    assertNoPoolKey(response);
    assertThat(response.body()).doesNotContain(Harness.KEY_1).doesNotContain(Harness.KEY_2);
  }

  /** Answers {@code status} with {@code fixture}, its example key replaced by the key it got. */
  private Dispatcher namingTheKeyInTheBody(int status, String body) {
    return new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String key = request.getHeaders().get("x-goog-api-key");
        return new MockResponse.Builder().code(status)
            .addHeader("Content-Type", "application/json")
            .body(body.replace("AIzaSyD-EXAMPLE-ONLY-000000000000000", key)).build();
      }
    };
  }

  @Test
  void poolKeyNamedInARejectionBodyNeverReachesTheClient() throws Exception {
    h = new Harness("");
    // Both keys are suspended: a key's own failure is answered by the pool, not passed on.
    h.upstream.setDispatcher(namingTheKeyInTheBody(403,
        Fixtures.geminiError("403-consumer-suspended")));
    HttpResponse<String> response = h.post(GENERATE, "{}", "x-goog-api-key", Harness.TOKEN);
    assertThat(response.statusCode()).isIn(429, 503);
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
    assertThat(response.body()).doesNotContain(Harness.KEY_1).doesNotContain(Harness.KEY_2)
        .doesNotContain("suspended").contains("no-key-available");
    assertNoPoolKey(response);
  }

  @Test
  void poolKeyEchoedInAClientErrorBodyIsScrubbed() throws Exception {
    h = new Harness("");
    h.upstream.setDispatcher(namingTheKeyInTheBody(400, "{\"error\": {\"code\": 400, "
        + "\"message\": \"Invalid value at 'key' (AIzaSyD-EXAMPLE-ONLY-000000000000000)\", "
        + "\"status\": \"INVALID_ARGUMENT\"}}"));
    HttpResponse<String> response = h.post(GENERATE, "{}", "x-goog-api-key", Harness.TOKEN);
    assertThat(response.statusCode()).isEqualTo(400);
    assertThat(h.upstream.getRequestCount()).as("a client error is not retried").isEqualTo(1);
    assertThat(response.body()).doesNotContain(Harness.KEY_1).doesNotContain(Harness.KEY_2)
        .containsPattern("Invalid value at 'key' \\(k[12]\\)");
  }

  /** Names the pool key the request did not carry in response headers, as it is told. */
  private Dispatcher namingTheOtherKey(int status, String body) {
    return new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String sent = request.getHeaders().get("x-goog-api-key");
        String other = sent.equals(Harness.KEY_1) ? Harness.KEY_2 : Harness.KEY_1;
        return new MockResponse.Builder().code(status)
            .addHeader("Content-Type", "application/json")
            .addHeader("X-Debug", "quota shared with " + other)
            .addHeader("Location", h.baseUrl() + "/v1beta/files/abc?trace=" + encodeAll(other))
            .addHeader("X-Goog-Upload-URL", h.baseUrl()
                + "/upload/v1beta/files?upload_id=UP-7&trace=" + other)
            .body(body).build();
      }
    };
  }

  /** Every response header as {@code name: value} lines, for the secret scanner. */
  private static String headerText(HttpResponse<String> response) {
    StringBuilder sb = new StringBuilder();
    response.headers().map().forEach((name, values) ->
        values.forEach(v -> sb.append(name).append(": ").append(v).append('\n')));
    return sb.toString();
  }

  @Test
  void anotherPoolKeyNamedInAResponseHeaderReachesTheClientAsItsId() throws Exception {
    h = new Harness("");
    SecretScanner scanner = SecretScanner.of(Harness.SECRETS);
    h.upstream.setDispatcher(namingTheOtherKey(200,
        Fixtures.geminiResponse("generate-content.json")));
    for (int i = 0; i < 2; i++) {
      HttpResponse<String> response = h.post(GENERATE, "{}", "x-goog-api-key", Harness.TOKEN);

      assertThat(response.statusCode()).isEqualTo(200);
      assertThat(scanner.findings(headerText(response))).isEmpty();
      assertThat(response.headers().firstValue("X-Debug").orElseThrow())
          .matches("quota shared with k[12]");
      assertThat(response.headers().firstValue("Location").orElseThrow())
          .matches(".*/v1beta/files/abc\\?trace=k[12]");
    }
  }

  @Test
  void anotherPoolKeyInTheHeadersOfAKeptFailureReachesTheClientAsItsId() throws Exception {
    h = new Harness("");
    // Both keys answer 503: the last 503 goes back to the client, its headers scrubbed.
    h.upstream.setDispatcher(namingTheOtherKey(503, Fixtures.geminiError("503-overloaded")));
    HttpResponse<String> response = h.post(GENERATE, "{}", "x-goog-api-key", Harness.TOKEN);

    assertThat(response.statusCode()).isEqualTo(503);
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
    assertThat(SecretScanner.of(Harness.SECRETS).findings(headerText(response))).isEmpty();
    assertThat(response.headers().firstValue("X-Debug").orElseThrow())
        .matches("quota shared with k[12]");
  }

  @Test
  void anotherPoolKeyInARewrittenUploadUrlReachesTheClientAsItsId() throws Exception {
    h = new Harness("");
    h.upstream.setDispatcher(namingTheOtherKey(200, ""));
    HttpResponse<String> response = h.send(h.request("/upload/v1beta/files")
        .header("x-goog-api-key", Harness.TOKEN)
        .header("X-Goog-Upload-Protocol", "resumable")
        .header("X-Goog-Upload-Command", "start")
        .POST(java.net.http.HttpRequest.BodyPublishers.ofString("{}")).build());

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(SecretScanner.of(Harness.SECRETS).findings(headerText(response))).isEmpty();
    assertThat(response.headers().firstValue("X-Goog-Upload-URL").orElseThrow())
        .matches(java.util.regex.Pattern.quote(h.proxy.uri()
            + "/upload/v1beta/files?upload_id=UP-7&trace=") + "k[12]");
  }

  @Test
  void scrubbingFindsEveryPoolSecretInEveryFormAndLeavesOtherValuesAlone() {
    String secret = "AIzaSecret-0123456789";
    SecretScrubber scrubber = SecretScrubber.of(List.of(ApiKey.of("k1", secret),
        ApiKey.of("k2", "AIzaOther-9876543210x")));
    assertThat(scrubber.scrub("x=" + secret)).isEqualTo("x=k1");
    assertThat(scrubber.scrub("x=" + encodeAll(secret) + "&y=AIzaOther-9876543210x"))
        .isEqualTo("x=k1&y=k2");
    assertThat(scrubber.scrub("AIzaSecret-012345678%39!")).isEqualTo("k1!");
    String other = "application/json; charset=UTF-8, AIzaSecret-012345678";
    assertThat(scrubber.scrub(other)).isSameAs(other);
    assertThat(scrubber.shortestSecretChars()).isEqualTo(7);
    assertThat(SecretScrubber.none().shortestSecretChars()).isEqualTo(Integer.MAX_VALUE);
  }

  /**
   * An error body longer than the classifier's peek streams on after it; a pool key straddling
   * the peek boundary (offset 65,530 of a 100 KB body), or deeper in the streamed part, plain or
   * percent-encoded, reaches the client as the key's id.
   */
  @Test
  void poolKeyStraddlingThePeekBoundaryOfALongErrorBodyIsScrubbed() throws Exception {
    h = new Harness("");
    int at = 65_530;
    h.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String key = request.getHeaders().get("x-goog-api-key");
        String head = "{\"error\": {\"code\": 400, \"status\": \"INVALID_ARGUMENT\", "
            + "\"message\": \"";
        StringBuilder body = new StringBuilder(head);
        while (body.length() < at) body.append('a');
        body.append(key);
        while (body.length() < 90_000) body.append('b');
        body.append(encodeAll(key));
        while (body.length() < 100 * 1024 - 3) body.append('c');
        body.append("\"}}");
        return new MockResponse.Builder().code(400).addHeader("Content-Type", "application/json")
            .body(body.toString()).build();
      }
    });
    HttpResponse<String> response = h.post(GENERATE, "{}", "x-goog-api-key", Harness.TOKEN);

    assertThat(response.statusCode()).isEqualTo(400);
    String body = response.body();
    assertThat(body).doesNotContain(Harness.KEY_1).doesNotContain(Harness.KEY_2)
        .doesNotContain(encodeAll(Harness.KEY_1)).doesNotContain(encodeAll(Harness.KEY_2));
    assertNoPoolKey(response);
    String id = body.substring(at, at + 2);
    assertThat(id).isIn("k1", "k2");
    assertThat(body.substring(at + 2)).startsWith("bbbb").contains("b" + id + "ccc")
        .endsWith("\"}}");
  }
}
