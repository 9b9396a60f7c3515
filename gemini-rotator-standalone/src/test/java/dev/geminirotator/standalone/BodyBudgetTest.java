package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.config.ConfigException;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.standalone.http.BodyBudget;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.io.ByteArrayInputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, item 3: one budget for every request body the proxy holds whole. A body reserves its
 * declared length before it is read; one that does not fit gets 503 with {@code Retry-After};
 * every way a request can end gives its share back (a leak would be a slow denial of service).
 */
class BodyBudgetTest {

  private static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";
  private static final int BODY = 600_000;

  private Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  private void start(String serverLines) throws Exception {
    h = new Harness(Harness.withServer(serverLines), Map.of());
  }

  @Test
  void aBodyThatDoesNotFitTheBudgetGets503WithRetryAfterUntilTheOtherOneEnds() throws Exception {
    start("  max-request-size: 600KB\n  body-budget: 1200KB\n");
    BodyBudget budget = h.proxy.bodyBudget();
    try (Socket first = new Socket("127.0.0.1", h.proxy.port())) {
      // A body on its way, all but its last byte sent: its buffer (its declared length) is held.
      OutputStream out = first.getOutputStream();
      out.write(head(GENERATE, BODY).getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[BODY - 1]);
      out.flush();
      Eventually.until("the first body's length reserved", () -> budget.used() == BODY);

      HttpResponse<String> refused = postBody(BODY);
      assertThat(refused.statusCode()).isEqualTo(503);
      assertThat(refused.headers().firstValue("Retry-After")).hasValue("1");
      assertThat(refused.headers().firstValue("Content-Type"))
          .hasValue("application/json; charset=utf-8");
      assertThat(refused.body()).contains("BODY_BUDGET").contains("\"UNAVAILABLE\"");
      // Whatever the refused body had reserved goes back once its answer has been written.
      Eventually.until("only the first body left in the budget", () -> budget.used() == BODY);
    } // the first client leaves mid-body
    Eventually.until("the budget back to zero after the client left", () -> budget.used() == 0);

    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(postBody(BODY).statusCode()).isEqualTo(200);
    assertThat(h.upstream.takeRequest().getBody().size()).isEqualTo(BODY);
    Eventually.until("the budget back to zero after a success", () -> budget.used() == 0);
  }

  @Test
  void everyWayARequestEndsGivesItsBudgetBack() throws Exception {
    start("  max-request-size: 600000\n  body-timeout: 300ms\n  body-min-rate: 1KB\n");
    BodyBudget budget = h.proxy.bodyBudget();

    // Success.
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(postBody(BODY).statusCode()).isEqualTo(200);
    Eventually.until("the budget back to zero after a success", () -> budget.used() == 0);

    // A retry on another key (429, then 200): the body is replayed, then given back.
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(postBody(BODY).statusCode()).isEqualTo(200);
    Eventually.until("the budget back to zero after a retry", () -> budget.used() == 0);

    // The upstream fails (an overloaded 503 is returned, not retried).
    int before = h.upstream.getRequestCount();
    h.upstream.enqueue(new MockResponse.Builder().code(503)
        .body(Fixtures.geminiError("503-overloaded")).build());
    assertThat(postBody(BODY).statusCode()).isEqualTo(503);
    assertThat(h.upstream.getRequestCount() - before).isEqualTo(1);
    Eventually.until("the budget back to zero after upstream failures", () -> budget.used() == 0);

    // Too large (declared, then undeclared), and a chunked body that is fine.
    assertThat(postBody(BODY + 1).statusCode()).isEqualTo(413);
    assertThat(postChunked(BODY + 1).statusCode()).isEqualTo(413);
    Eventually.until("the budget back to zero after 413s", () -> budget.used() == 0);
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(postChunked(BODY).statusCode()).isEqualTo(200);
    Eventually.until("the budget back to zero after a chunked body", () -> budget.used() == 0);

    // A malformed chunked body.
    assertThat(h.raw("POST " + GENERATE + " HTTP/1.1\r\nHost: x\r\nx-goog-api-key: "
        + Harness.TOKEN + "\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\nzz\r\n"))
        .startsWith("HTTP/1.1 400");
    Eventually.until("the budget back to zero after a malformed body", () -> budget.used() == 0);

    // A body too slow for server.body-timeout: 408.
    try (Socket slow = new Socket("127.0.0.1", h.proxy.port())) {
      slow.setSoTimeout(10_000);
      slow.getOutputStream().write((head(GENERATE, BODY) + "{").getBytes(
          StandardCharsets.US_ASCII));
      slow.getOutputStream().flush();
      assertThat(new String(slow.getInputStream().readAllBytes(), StandardCharsets.US_ASCII))
          .startsWith("HTTP/1.1 408");
    }
    Eventually.until("the budget back to zero after a 408", () -> budget.used() == 0);

    // The client leaves while the upstream is still answering.
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .body(Fixtures.geminiResponse("generate-content.json"))
        .headersDelay(3, TimeUnit.SECONDS).build());
    int sent = h.upstream.getRequestCount();
    try (Socket leaving = new Socket("127.0.0.1", h.proxy.port())) {
      leaving.getOutputStream().write(head(GENERATE, BODY).getBytes(StandardCharsets.US_ASCII));
      leaving.getOutputStream().write(new byte[BODY]);
      leaving.getOutputStream().flush();
      Eventually.until("the request at the upstream", () -> h.upstream.getRequestCount() > sent);
      assertThat(budget.used()).isEqualTo(BODY);
    }
    Eventually.until("the budget back to zero after the client left mid-exchange",
        () -> budget.used() == 0);
  }

  @Test
  void theDefaultBudgetIsHalfTheHeapAndAnExplicitOneMustHoldTheLargestBody(@TempDir Path dir)
      throws Exception {
    assertThat(BodyBudget.defaultFor(128L << 20)).isEqualTo(64L << 20);
    assertThat(BodyBudget.resolve(0)).isEqualTo(Runtime.getRuntime().maxMemory() / 2);
    assertThat(BodyBudget.resolve(5_000_000)).isEqualTo(5_000_000);

    Path file = dir.resolve("config.yaml");
    Files.writeString(file, "keys: [AIzaSyTEST-pool-key-one-0000000001]\n"
        + "server:\n  max-request-size: 20MB\n  body-budget: 8MB\n");
    assertThatThrownBy(() -> StandaloneConfig.load(file, Map.of(),
        StandaloneConfig.Overrides.NONE))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.body-budget (8388608 bytes) must be at least twice"
            + " server.max-request-size (20971520 bytes)");
    Files.writeString(file, "keys: [AIzaSyTEST-pool-key-one-0000000001]\n"
        + "server:\n  body-budget: lots\n");
    assertThatThrownBy(() -> StandaloneConfig.load(file, Map.of(),
        StandaloneConfig.Overrides.NONE))
        .isInstanceOf(ConfigException.class).hasMessageContaining("server.body-budget");
  }

  @Test
  void aReservationFitsOrIsRefusedWhole() {
    BodyBudget budget = new BodyBudget(100);
    assertThat(budget.tryReserve(60)).isTrue();
    assertThat(budget.tryReserve(41)).isFalse();
    assertThat(budget.used()).isEqualTo(60);
    assertThat(budget.tryReserve(40)).isTrue();
    budget.release(60);
    budget.release(40);
    assertThat(budget.used()).isZero();
    assertThatThrownBy(() -> budget.limit(0)).hasMessage("body budget must be >= 1 but was 0");
  }

  /** An h2c stream reset by its client while its body is being read gives its share back. */
  @Test
  void anH2StreamResetMidBodyGivesItsBudgetBack() throws Exception {
    start("");
    BodyBudget budget = h.proxy.bodyBudget();
    okhttp3.OkHttpClient client = new okhttp3.OkHttpClient.Builder()
        .protocols(java.util.List.of(okhttp3.Protocol.H2_PRIOR_KNOWLEDGE)).build();
    PartBody body = new PartBody(5000);
    okhttp3.Call call = client.newCall(new okhttp3.Request.Builder()
        .url("http://127.0.0.1:" + h.proxy.port() + GENERATE)
        .header("x-goog-api-key", Harness.TOKEN).post(body).build());
    try {
      call.enqueue(new okhttp3.Callback() {
        @Override
        public void onFailure(okhttp3.Call c, java.io.IOException e) {
          // cancelled: expected
        }

        @Override
        public void onResponse(okhttp3.Call c, okhttp3.Response r) {
          r.close();
        }
      });
      Eventually.until("the stream's body being read",
          () -> budget.used() > 0);
      call.cancel(); // RST_STREAM(CANCEL) mid-body
      Eventually.until("the budget back to zero after the reset",
          () -> budget.used() == 0);
      assertThat(h.upstream.getRequestCount()).isZero();
    } finally {
      client.dispatcher().executorService().shutdownNow();
      client.connectionPool().evictAll();
    }
  }

  /** A pipelined request's body is read in its turn and given back when it is answered. */
  @Test
  void aPipelinedRequestsBodyGivesItsBudgetBack() throws Exception {
    start("");
    BodyBudget budget = h.proxy.bodyBudget();
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .body(Fixtures.geminiResponse("generate-content.json"))
        .headersDelay(500, TimeUnit.MILLISECONDS).build());
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(30_000);
      OutputStream out = s.getOutputStream();
      out.write((head(GENERATE, 2) + "{}" + head(GENERATE, 100_000))
          .getBytes(StandardCharsets.US_ASCII));
      out.write(json(100_000));
      out.flush();
      java.io.InputStream in = s.getInputStream();
      for (int i = 0; i < 2; i++) {
        String answer = BodyHoldingTest.readHead(in);
        assertThat(answer).as("answer %d", i).startsWith("HTTP/1.1 200");
        BodyHoldingTest.skip(in, BodyHoldingTest.contentLength(answer));
      }
    }
    h.upstream.takeRequest();
    assertThat(h.upstream.takeRequest().getBody().size()).isEqualTo(100_000);
    Eventually.until("the budget back to zero",
        () -> budget.used() == 0);
  }

  /** A chunked body whose buffer cannot grow within the budget: 503, and its share back. */
  @Test
  void aChunkedBodyGoingOverBudgetWhileReadGets503AndGivesItsBudgetBack() throws Exception {
    start("  max-request-size: 64KB\n  body-budget: 128KB\n");
    BodyBudget budget = h.proxy.bodyBudget();
    try (Socket big = holding(65_536); Socket small = holding(1000)) {
      Eventually.until("two bodies held",
          () -> budget.used() == 66_536);
      // Its first piece needs a 64 KB buffer (the step, capped at the size limit): no room.
      HttpResponse<String> refused = postChunked(60_000);
      assertThat(refused.statusCode()).isEqualTo(503);
      assertThat(refused.body()).contains("body-budget");
      assertThat(budget.used()).isEqualTo(66_536);
    }
    Eventually.until("the budget back to zero",
        () -> budget.used() == 0);
  }

  /** Expect: 100-continue over budget: the 503 is sent instead of 100 Continue. */
  @Test
  void expectContinueOverBudgetGets503InsteadOf100ContinueAndHoldsNothing() throws Exception {
    start("  max-request-size: 64KB\n  body-budget: 128KB\n");
    BodyBudget budget = h.proxy.bodyBudget();
    try (Socket one = holding(65_536); Socket two = holding(65_536)) {
      Eventually.until("the budget full",
          () -> budget.used() == 131_072);
      try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
        s.setSoTimeout(30_000);
        s.getOutputStream().write(head(GENERATE, 1000).replace("\r\n\r\n",
            "\r\nExpect: 100-continue\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        String answer = BodyHoldingTest.readHead(s.getInputStream());
        assertThat(answer).startsWith("HTTP/1.1 503").containsIgnoringCase("Retry-After: 1");
      }
      Eventually.until("only the held bodies left in the budget",
          () -> budget.used() == 131_072);
    }
    Eventually.until("the budget back to zero",
        () -> budget.used() == 0);
    assertThat(h.upstream.getRequestCount()).isZero();
  }

  /** A connection whose body of {@code length} bytes has all but its last byte sent. */
  private Socket holding(int length) throws Exception {
    Socket s = new Socket("127.0.0.1", h.proxy.port());
    s.getOutputStream().write(head(GENERATE, length).getBytes(StandardCharsets.US_ASCII));
    s.getOutputStream().write(new byte[length - 1]);
    s.getOutputStream().flush();
    return s;
  }

  /** A streamed body that sends {@code size} bytes, then holds its stream open. */
  private static final class PartBody extends okhttp3.RequestBody {
    private final int size;

    PartBody(int size) {
      this.size = size;
    }

    @Override
    public okhttp3.MediaType contentType() {
      return okhttp3.MediaType.get("application/json");
    }

    @Override
    public boolean isDuplex() {
      return true;
    }

    @Override
    public void writeTo(okio.BufferedSink sink) throws java.io.IOException {
      sink.write(json(size));
      sink.flush(); // held open: the rest never comes
    }
  }

  private static String head(String path, int contentLength) {
    return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "x-goog-api-key: " + Harness.TOKEN + "\r\nContent-Length: " + contentLength + "\r\n\r\n";
  }

  private static byte[] json(int size) {
    byte[] b = new byte[size];
    Arrays.fill(b, (byte) ' ');
    b[0] = '{';
    b[size - 1] = '}';
    return b;
  }

  private HttpResponse<String> postBody(int size) throws Exception {
    return h.send(h.request(GENERATE).header("x-goog-api-key", Harness.TOKEN)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(json(size))).build());
  }

  /** A body of unknown length: sent chunked. */
  private HttpResponse<String> postChunked(int size) throws Exception {
    byte[] body = json(size);
    return h.send(h.request(GENERATE).header("x-goog-api-key", Harness.TOKEN)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new ByteArrayInputStream(body)))
        .build());
  }
}
