package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.standalone.http.Upstream;
import dev.geminirotator.testsupport.Fixtures;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockResponseBody;
import mockwebserver3.RecordedRequest;
import okio.BufferedSink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class ProxyRoutesTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String GENERATE_BODY = "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}";

  Harness h;

  @BeforeEach
  void start() throws Exception {
    h = new Harness("");
  }

  @AfterEach
  void stop() throws Exception {
    h.close();
  }

  /** The upstream saw a pool key and nothing of the client's token. */
  static void assertPoolKeyOnly(RecordedRequest r, String header) {
    String value = r.getHeaders().get(header);
    assertThat(value).isIn(Harness.KEY_1, Harness.KEY_2, "Bearer " + Harness.KEY_1,
        "Bearer " + Harness.KEY_2);
    assertThat(r.getTarget()).doesNotContain("key=").doesNotContain(Harness.TOKEN);
    assertThat(r.getHeaders().toString()).doesNotContain(Harness.TOKEN);
  }

  @Test
  void generateContentIsForwardedWithAPoolKeyInPlaceOfTheClientToken() throws Exception {
    String fixture = Fixtures.geminiResponse("generate-content.json");
    h.enqueue(200, fixture);

    HttpResponse<String> response = h.post(
        "/v1beta/models/gemini-2.5-flash:generateContent?key=" + Harness.TOKEN + "&alt=json",
        GENERATE_BODY);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo(fixture);
    RecordedRequest r = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(r.getMethod()).isEqualTo("POST");
    assertThat(r.getTarget()).isEqualTo("/v1beta/models/gemini-2.5-flash:generateContent?alt=json");
    assertThat(r.getBody().utf8()).isEqualTo(GENERATE_BODY);
    assertPoolKeyOnly(r, "x-goog-api-key");
  }

  @Test
  void streamedEventsReachTheClientBeforeUpstreamFinishes() throws Exception {
    String sse = Fixtures.geminiResponse("stream-generate-content.sse");
    int firstEnd = sse.indexOf("\n\n") + 2;
    String first = sse.substring(0, firstEnd);
    String rest = sse.substring(firstEnd);
    CountDownLatch clientSawFirst = new CountDownLatch(1);
    CountDownLatch upstreamFinished = new CountDownLatch(1);
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(new MockResponseBody() {
          @Override
          public long getContentLength() {
            return sse.getBytes(StandardCharsets.UTF_8).length;
          }

          @Override
          public void writeTo(BufferedSink sink) throws IOException {
            sink.writeUtf8(first);
            sink.flush();
            try {
              // Hold the rest until the client has read the first event through the proxy.
              clientSawFirst.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            sink.writeUtf8(rest);
            sink.flush();
            upstreamFinished.countDown();
          }
        }).build());

    HttpRequest request = h.request(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
        .header("x-goog-api-key", Harness.TOKEN)
        .POST(HttpRequest.BodyPublishers.ofString(GENERATE_BODY)).build();
    HttpResponse<java.io.InputStream> response = h.http.send(request,
        HttpResponse.BodyHandlers.ofInputStream());
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.headers().firstValue("content-type")).hasValueSatisfying(
        v -> assertThat(v).startsWith("text/event-stream"));
    StringBuilder received = new StringBuilder();
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(),
        StandardCharsets.UTF_8))) {
      String firstLine = reader.readLine();
      assertThat(firstLine).isEqualTo(first.substring(0, first.indexOf('\n')));
      assertThat(upstreamFinished.getCount()).as("upstream still holding the rest").isEqualTo(1);
      clientSawFirst.countDown();
      received.append(firstLine).append('\n');
      String line;
      while ((line = reader.readLine()) != null) received.append(line).append('\n');
    }
    assertThat(received.toString().trim()).isEqualTo(sse.trim());
    assertPoolKeyOnly(h.upstream.takeRequest(5, TimeUnit.SECONDS), "x-goog-api-key");
  }

  @Test
  void countTokensEmbedAndModelsListArePassedThrough() throws Exception {
    h.enqueue(200, Fixtures.geminiResponse("count-tokens.json"));
    h.enqueue(200, Fixtures.geminiResponse("embed-content.json"));
    h.enqueue(200, Fixtures.geminiResponse("models-list.json"));

    HttpResponse<String> count = h.post("/v1beta/models/gemini-2.5-flash:countTokens",
        GENERATE_BODY, "x-goog-api-key", Harness.TOKEN);
    HttpResponse<String> embed = h.post("/v1beta/models/text-embedding-004:embedContent",
        "{\"content\":{\"parts\":[{\"text\":\"hi\"}]}}", "Authorization",
        "Bearer " + Harness.TOKEN);
    HttpResponse<String> models = h.get("/v1/models?pageSize=5&key=" + Harness.TOKEN_2);

    assertThat(count.body()).isEqualTo(Fixtures.geminiResponse("count-tokens.json"));
    assertThat(embed.body()).isEqualTo(Fixtures.geminiResponse("embed-content.json"));
    assertThat(models.body()).isEqualTo(Fixtures.geminiResponse("models-list.json"));
    RecordedRequest r1 = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest r2 = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest r3 = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(r1.getTarget()).isEqualTo("/v1beta/models/gemini-2.5-flash:countTokens");
    assertThat(r2.getTarget()).isEqualTo("/v1beta/models/text-embedding-004:embedContent");
    assertThat(r3.getTarget()).isEqualTo("/v1/models?pageSize=5");
    assertThat(r3.getMethod()).isEqualTo("GET");
    for (RecordedRequest r : List.of(r1, r2, r3)) {
      assertPoolKeyOnly(r, "x-goog-api-key");
      assertThat(r.getHeaders().get("Authorization")).isNull();
      assertThat(r.getTarget()).doesNotContain(Harness.TOKEN_2);
    }
  }

  @Test
  void openAiChatGetsThePoolKeyAsBearer() throws Exception {
    String fixture = Fixtures.geminiResponse("openai-chat-completion.json");
    h.enqueue(200, fixture);

    HttpResponse<String> response = h.post("/v1beta/openai/chat/completions",
        "{\"model\":\"gemini-2.5-flash\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        "Authorization", "Bearer " + Harness.TOKEN);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo(fixture);
    RecordedRequest r = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(r.getTarget()).isEqualTo("/v1beta/openai/chat/completions");
    assertPoolKeyOnly(r, "Authorization");
    assertThat(r.getHeaders().get("x-goog-api-key")).isNull();
  }

  @Test
  void upstreamErrorsThatBlameNoKeyAreReturnedUnchanged() throws Exception {
    String notFound = Fixtures.geminiError("404-model-not-found");
    h.enqueue(404, notFound);

    HttpResponse<String> response = h.post("/v1beta/models/nope:generateContent", GENERATE_BODY,
        "x-goog-api-key", Harness.TOKEN);

    assertThat(response.statusCode()).isEqualTo(404);
    assertThat(response.body()).isEqualTo(notFound);
    assertThat(h.upstream.getRequestCount()).isEqualTo(1);
  }

  @Test
  void chunkedBodiesWithTrailersGoThroughBothWays() throws Exception {
    // Trailers are decoded into a map that keeps nothing: the bodies must arrive whole.
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "application/json")
        .chunkedBody("{\"candidates\":[{\"index\":0}]}", 1024)
        .trailers(okhttp3.Headers.of("X-Checksum", "abc", "X-Other", "1"))
        .build());

    String raw = h.raw("POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1\r\n"
        + "Host: example\r\n"
        + "x-goog-api-key: " + Harness.TOKEN + "\r\n"
        + "Content-Type: application/json\r\n"
        + "Transfer-Encoding: chunked\r\n"
        + "Connection: close\r\n"
        + "\r\n"
        + "9\r\n{\"a\":\"b\"}\r\n0\r\nX-Client-Trailer: t\r\nX-Two: 2\r\n\r\n");

    assertThat(raw).startsWith("HTTP/1.1 200");
    assertThat(raw).contains("{\"candidates\":[{\"index\":0}]}")
        .as("the chunked answer ends properly, its trailers dropped").endsWith("\r\n0\r\n\r\n")
        .doesNotContain("X-Checksum");
    RecordedRequest r = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(r.getBody().utf8()).isEqualTo("{\"a\":\"b\"}");
    assertThat(r.getHeaders().get("X-Client-Trailer")).isNull();
  }

  @Test
  void hopByHopHeadersAreStrippedBothWays() throws Exception {
    h.upstream.enqueue(new MockResponse.Builder().code(200).body("{}")
        .addHeader("Content-Type", "application/json")
        .addHeader("Keep-Alive", "timeout=5")
        .addHeader("Proxy-Authenticate", "Basic")
        .addHeader("X-Upstream-Private", "drop-me")
        .addHeader("Connection", "X-Upstream-Private")
        .addHeader("X-Upstream-Public", "keep-me")
        .build());

    String raw = h.raw("POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1\r\n"
        + "Host: example\r\n"
        + "x-goog-api-key: " + Harness.TOKEN + "\r\n"
        + "Content-Type: application/json\r\n"
        + "Content-Length: 2\r\n"
        + "Keep-Alive: timeout=9\r\n"
        + "Proxy-Authorization: Basic Zm9vOmJhcg==\r\n"
        + "X-Client-Hop: secret-hop\r\n"
        + "X-Client-Kept: yes\r\n"
        + "Connection: close, X-Client-Hop\r\n"
        + "\r\n{}");

    assertThat(raw).startsWith("HTTP/1.1 200");
    String headers = raw.substring(0, raw.indexOf("\r\n\r\n")).toLowerCase();
    assertThat(headers).contains("x-upstream-public: keep-me");
    assertThat(headers).doesNotContain("keep-alive").doesNotContain("proxy-authenticate")
        .doesNotContain("x-upstream-private");
    RecordedRequest r = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(r.getHeaders().get("X-Client-Kept")).isEqualTo("yes");
    assertThat(r.getHeaders().get("X-Client-Hop")).isNull();
    assertThat(r.getHeaders().get("Keep-Alive")).isNull();
    assertThat(r.getHeaders().get("Proxy-Authorization")).isNull();
    assertPoolKeyOnly(r, "x-goog-api-key");
  }

  @Test
  void everyResponseCarriesARequestIdAndASaneClientIdIsKept() throws Exception {
    h.enqueue(200, "{}");
    HttpResponse<String> kept = h.post("/v1beta/models/m:generateContent", "{}",
        "x-goog-api-key", Harness.TOKEN, "X-Request-Id", "client-id_1.2-3");
    HttpResponse<String> replaced = h.get("/health", "X-Request-Id", "bad id with spaces");
    HttpResponse<String> tooLong = h.get("/health", "X-Request-Id", "a".repeat(65));
    HttpResponse<String> problem = h.get("/v1beta/models", "X-Request-Id", "trace-7");

    assertThat(kept.headers().firstValue("X-Request-Id")).hasValue("client-id_1.2-3");
    assertThat(replaced.headers().firstValue("X-Request-Id").orElseThrow())
        .matches("[0-9a-f-]{36}");
    assertThat(tooLong.headers().firstValue("X-Request-Id").orElseThrow())
        .matches("[0-9a-f-]{36}");
    assertThat(problem.headers().firstValue("X-Request-Id")).hasValue("trace-7");
    assertThat(Harness.problem(problem.body()).get("requestId").asText()).isEqualTo("trace-7");
  }

  @Test
  void proxyErrorsAreProblemDocumentsWithGeminisErrorObjectForClientsThatAskForThem()
      throws Exception {
    HttpResponse<String> response = h.get("/v1beta/models", "Accept", "application/problem+json");

    assertThat(response.statusCode()).isEqualTo(401);
    assertThat(response.headers().firstValue("content-type")).hasValue(
        "application/problem+json");
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.get("type").asText()).startsWith("https://");
    assertThat(body.get("title").asText()).isNotBlank();
    assertThat(body.get("status").asInt()).isEqualTo(401);
    assertThat(body.get("detail").asText()).isNotBlank();
    assertThat(body.get("instance").asText()).isEqualTo("/v1beta/models");
    assertThat(body.get("requestId").asText()).isNotBlank();
    assertThat(body.get("error").get("code").asInt()).isEqualTo(401);
    assertThat(body.get("error").get("status").asText()).isEqualTo("UNAUTHENTICATED");
    assertThat(body.get("error").get("message").asText()).isNotBlank();

    HttpResponse<String> own = h.get("/nowhere");
    assertThat(own.statusCode()).isEqualTo(404);
    assertThat(JSON.readTree(own.body()).has("error")).isFalse();
  }
}
