package dev.geminirotator.okhttp;

import static dev.geminirotator.testsupport.Compression.gzip;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.RealLookingKeys;
import dev.geminirotator.testsupport.SecretScanner;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import okio.Buffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 15, item 1, through the interceptor: whatever error body it hands the caller (the last
 * failure kept with its peeked bytes, or an error returned as it streams, gzip-encoded or not),
 * no pool secret is in it, whether it names the attempt's own key or another pool key: each is
 * its key's id.
 */
class PoolKeyInErrorBodyTest {

  private static final String K1 = RealLookingKeys.key(251);
  private static final String K2 = RealLookingKeys.key(252);
  private static final String K3 = RealLookingKeys.key(253);
  private static final List<String> POOL = List.of(K1, K2, K3);
  private static final SecretScanner SCANNER = SecretScanner.of(POOL);
  private static final Map<String, String> IDS = Map.of(K1, "k1", K2, "k2", K3, "k3");

  private final FakeClock clock = FakeClock.standard();
  private MockWebServer server;
  private GeminiKeyRotator rotator;
  private OkHttpClient client;

  @BeforeEach
  void start() throws IOException {
    server = new MockWebServer();
    server.start();
    rotator = GeminiKeyRotator.builder().clock(clock)
        .keys(List.of(ApiKey.of("k1", K1), ApiKey.of("k2", K2), ApiKey.of("k3", K3))).build();
    client = Pools.client(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock)
        .policy(Pools.FAST).build());
  }

  @AfterEach
  void stop() {
    server.close();
    rotator.close();
  }

  private static String other(String key) {
    return POOL.get((POOL.indexOf(key) + 1) % POOL.size());
  }

  private void answer(Function<String, MockResponse> answer) {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return answer.apply(request.getHeaders().get("x-goog-api-key"));
      }
    });
  }

  /** Status, headers and body as the caller reads them, asserted free of pool secrets. */
  private String call(Request request, int expectedStatus) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      assertThat(response.code()).isEqualTo(expectedStatus);
      String body = response.body().string();
      assertThat(SCANNER.findings(body)).as("body").isEmpty();
      assertThat(SCANNER.findings(response.headers().toString())).as("headers").isEmpty();
      assertThat(response.header("Content-Encoding")).isNull();
      return body;
    }
  }

  /** Headers too: a served answer's and a kept failure's, naming another pool key. */
  @Test
  void aPoolKeyNamedInAResponseHeaderReachesTheCallerAsItsId() throws Exception {
    answer(key -> new MockResponse.Builder().code(200)
        .addHeader("X-Debug", "served for api_key:" + other(key))
        .addHeader("Content-Type", "application/json")
        .body(Fixtures.geminiResponse("generate-content.json")).build());
    try (Response response = client.newCall(Pools.generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(200);
      assertThat(SCANNER.findings(response.headers().toString())).as("headers").isEmpty();
      assertThat(response.header("X-Debug")).matches("served for api_key:k[123]");
    }
    answer(key -> new MockResponse.Builder().code(400)
        .addHeader("X-Debug", "refused; see api_key:" + other(key))
        .addHeader("Content-Type", "application/json")
        .body(Fixtures.geminiError("400-invalid-argument")).build());
    try (Response response = client.newCall(Pools.generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(400);
      assertThat(SCANNER.findings(response.headers().toString())).as("headers").isEmpty();
      assertThat(response.header("X-Debug")).matches("refused; see api_key:k[123]");
    }
  }

  @Test
  void suspendedConsumersNamingTheirOwnKeysAreAnsweredByThePoolWithoutAnyKey() throws Exception {
    answer(key -> Pools.json(403, RealLookingKeys.consumerSuspended(key)));

    // Every key is rejected on its own account: the pool answers (issue 15 item 4), a 429 since
    // the whole pool rejected at once is a rejection storm, which cools keys instead.
    String body = call(Pools.generate(server), 429);

    assertThat(server.getRequestCount()).isEqualTo(3);
    assertThat(body).doesNotContain("suspended").contains("NO_KEY_AVAILABLE");
  }

  @Test
  void aReturnedClientErrorNamingAnotherPoolKeyNamesItById() throws Exception {
    answer(key -> Pools.json(400, "{\"error\": {\"code\": 400, \"message\": \"compare "
        + key + " with " + other(key) + "\", \"status\": \"INVALID_ARGUMENT\"}}"));

    String body = call(Pools.generate(server), 400);

    assertThat(server.getRequestCount()).isEqualTo(1);
    assertThat(body).matches("\\{\"error\": \\{\"code\": 400, \"message\": \"compare k[123] with"
        + " k[123]\", \"status\": \"INVALID_ARGUMENT\"}}");
  }

  @Test
  void aKeptFailureNamingTheKeyOfAnEarlierAttemptIsScrubbed() throws Exception {
    answer(key -> Pools.json(503, Fixtures.geminiError("503-overloaded").replace(
        "\"message\": \"", "\"message\": \"" + key + " after " + other(key) + ": ")));

    String body = call(Pools.generate(server), 503);

    assertThat(server.getRequestCount()).isGreaterThan(1);
    assertThat(body).containsPattern("k[123] after k[123]: ");
  }

  @Test
  void aLongReturnedErrorIsScrubbedAcrossReadsWithoutADeclaredLength() throws Exception {
    answer(key -> {
      StringBuilder body = new StringBuilder("{\"error\": {\"code\": 404, \"message\": \"");
      for (int i = 0; i < 5_000; i++) {
        body.append(i).append(' ').append(POOL.get(i % 3)).append(' ');
      }
      body.append("\"}}");
      return new MockResponse.Builder().code(404).addHeader("Content-Type", "application/json")
          .chunkedBody(body.toString(), 777).build();
    });

    try (Response response = client.newCall(Pools.generate(server)).execute()) {
      assertThat(response.body().contentLength()).isEqualTo(-1);
      String body = response.body().string();
      assertThat(SCANNER.findings(body)).isEmpty();
      assertThat(body).startsWith("{\"error\": {\"code\": 404, \"message\": \"0 k1 1 k2 2 k3 ")
          .endsWith(" 4999 " + IDS.get(POOL.get(4999 % 3)) + " \"}}");
    }
  }

  @Test
  void aKeptGzipErrorBodyTheCallerAskedForIsInflatedAndScrubbed() throws Exception {
    // With its own Accept-Encoding the caller gets the body as sent: OkHttp does not inflate it.
    // A 503 (an upstream error: retried on every key, the last one kept) naming the key.
    answer(key -> new MockResponse.Builder().code(503)
        .addHeader("Content-Type", "application/json").addHeader("Content-Encoding", "gzip")
        .body(new Buffer().write(gzip(RealLookingKeys.consumerSuspended(key)))).build());
    Request request = Pools.generate(server).newBuilder().header("Accept-Encoding", "gzip").build();

    String kept = call(request, 503);

    assertThat(server.getRequestCount()).as("retried on every key").isEqualTo(3);
    assertThat(kept).containsPattern("Consumer 'api_key:k[123]' has been suspended");
  }

  @Test
  void aReturnedGzipErrorBodyIsInflatedAndScrubbedAsItIsRead() throws Exception {
    Request request = Pools.generate(server).newBuilder().header("Accept-Encoding", "gzip").build();
    answer(key -> new MockResponse.Builder().code(400)
        .addHeader("Content-Type", "application/json").addHeader("Content-Encoding", "gzip")
        .body(new Buffer().write(gzip("{\"error\": {\"message\": \"" + other(key) + "\"}}")))
        .build());

    String returned = call(request, 400);

    assertThat(returned).matches("\\{\"error\": \\{\"message\": \"k[123]\"}}");
  }

  @Test
  void anErrorBodyInACodingThatCannotBeCheckedIsNotPassedOn() throws Exception {
    answer(key -> new MockResponse.Builder().code(400)
        .addHeader("Content-Type", "application/json").addHeader("Content-Encoding", "br")
        .body("not brotli, but it holds " + key).build());
    Request request = Pools.generate(server).newBuilder().header("Accept-Encoding", "br").build();

    assertThat(call(request, 400)).isEmpty();
  }
}
