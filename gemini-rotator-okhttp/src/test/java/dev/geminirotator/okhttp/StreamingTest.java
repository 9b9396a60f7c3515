package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.client;
import static dev.geminirotator.okhttp.Pools.outcomes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockResponseBody;
import mockwebserver3.MockWebServer;
import mockwebserver3.SocketEffect;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSink;
import okio.BufferedSource;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * A 2xx body streams through untouched and the lease completes when it ends. Ordering, not speed,
 * is asserted: the server holds the rest of the stream until the client has read the first
 * event, so an interceptor that read ahead or buffered would never see that event in time.
 */
class StreamingTest {

  private static final String SSE = Fixtures.geminiResponse("stream-generate-content.sse");
  private static final String FIRST_EVENT = SSE.substring(0, SSE.indexOf("\n\n") + 2);
  private static final String REST = SSE.substring(FIRST_EVENT.length());

  private final FakeClock clock = FakeClock.standard();
  private final CountDownLatch releaseRest = new CountDownLatch(1);
  private final List<String> order = Collections.synchronizedList(new ArrayList<>());
  private MockWebServer server;
  private GeminiKeyRotator rotator;
  private OkHttpClient client;

  @BeforeEach
  void start() throws IOException {
    server = new MockWebServer();
    server.start();
    rotator = Pools.rotator(clock, 2);
    client = client(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock)
        .policy(Pools.FAST).build());
  }

  @AfterEach
  void stop() {
    releaseRest.countDown();
    server.close();
    rotator.close();
  }

  /** Writes the first event, then holds the rest until the test releases it. */
  private MockResponse heldStream() {
    return new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(new MockResponseBody() {
          @Override
          public long getContentLength() {
            return SSE.getBytes(StandardCharsets.UTF_8).length;
          }

          @Override
          public void writeTo(BufferedSink sink) throws IOException {
            order.add("server sends the first event");
            sink.writeUtf8(FIRST_EVENT);
            sink.flush();
            try {
              if (!releaseRest.await(20, TimeUnit.SECONDS)) {
                order.add("server gave up waiting");
                return;
              }
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
              return;
            }
            order.add("server sends the rest");
            sink.writeUtf8(REST);
            sink.flush();
          }
        })
        .build();
  }

  private Request streamRequest() {
    return new Request.Builder().url(server.url(Pools.STREAM))
        .post(RequestBody.create(Pools.PROMPT, Pools.JSON)).build();
  }

  @Test
  void firstEventReachesTheCallerWhileUpstreamStillHoldsTheRest() throws Exception {
    server.enqueue(heldStream());

    try (Response response = client.newCall(streamRequest()).execute()) {
      assertThat(response.code()).isEqualTo(200);
      BufferedSource source = response.body().source();
      String firstLine = source.readUtf8LineStrict();
      order.add("client read the first event");
      assertThat(firstLine + "\n").isEqualTo(FIRST_EVENT.substring(0, FIRST_EVENT.indexOf('\n') + 1));

      // Mid-stream the key is still leased and nothing has been recorded yet.
      KeySnapshot k1 = rotator.snapshot("k1").orElseThrow();
      assertThat(k1.inFlight()).isEqualTo(1);
      assertThat(k1.successes()).isZero();

      releaseRest.countDown();
      String rest = source.readUtf8();
      assertThat(firstLine + "\n" + rest).isEqualTo(SSE);
    }

    assertThat(order).containsExactly("server sends the first event",
        "client read the first event", "server sends the rest");
    KeySnapshot k1 = rotator.snapshot("k1").orElseThrow();
    assertThat(k1.inFlight()).isZero();
    assertThat(k1.successes()).isEqualTo(1);
    assertThat(outcomes(rotator.stats(), Outcome.Kind.SUCCESS)).isEqualTo(1);
  }

  @Test
  void closingAStreamAfterReadingSomeOfItCountsAsSuccessNeverBlamingTheKey() throws Exception {
    server.enqueue(heldStream());

    try (Response response = client.newCall(streamRequest()).execute()) {
      response.body().source().readUtf8LineStrict();
    } // closed before the end, as a JSON parser does at the closing brace of a gzipped body

    assertThat(outcomes(rotator.stats(), Outcome.Kind.SUCCESS)).isEqualTo(1);
    assertThat(outcomes(rotator.stats(), Outcome.Kind.CANCELLED)).isZero();
    KeySnapshot k1 = rotator.snapshot("k1").orElseThrow();
    assertThat(k1.inFlight()).isZero();
    assertThat(k1.failures()).isZero();
  }

  @Test
  void aGzippedAnswerParsedWithoutReadingToEofCountsAsSuccess() throws Exception {
    okio.Buffer gzipped = new okio.Buffer();
    try (BufferedSink sink = okio.Okio.buffer(new okio.GzipSink(gzipped))) {
      sink.writeUtf8(Fixtures.geminiResponse("generate-content.json"));
    }
    server.enqueue(new MockResponse.Builder().code(200).addHeader("Content-Encoding", "gzip")
        .addHeader("Content-Type", "application/json").body(gzipped).build());

    try (Response response = client.newCall(Pools.generate(server)).execute()) {
      // Transparent gzip hides the length; a parser stops at the closing brace.
      assertThat(response.body().contentLength()).isEqualTo(-1);
      com.fasterxml.jackson.databind.JsonNode tree = new com.fasterxml.jackson.databind.ObjectMapper()
          .readTree(response.body().byteStream());
      assertThat(tree.path("candidates").isArray()).isTrue();
    }

    assertThat(outcomes(rotator.stats(), Outcome.Kind.SUCCESS)).isEqualTo(1);
    assertThat(outcomes(rotator.stats(), Outcome.Kind.CANCELLED)).isZero();
  }

  @Test
  void closingAStreamBeforeReadingAnythingCompletesItsLeaseAsCancelled() throws Exception {
    server.enqueue(heldStream());

    try (Response response = client.newCall(streamRequest()).execute()) {
      assertThat(response.code()).isEqualTo(200);
    } // closed unread

    assertThat(outcomes(rotator.stats(), Outcome.Kind.CANCELLED)).isEqualTo(1);
    assertThat(outcomes(rotator.stats(), Outcome.Kind.SUCCESS)).isZero();
    KeySnapshot k1 = rotator.snapshot("k1").orElseThrow();
    assertThat(k1.inFlight()).isZero();
    assertThat(k1.failures()).isZero();
  }

  @Test
  void cancellingTheCallMidStreamCompletesItsLeaseAsCancelled() throws Exception {
    server.enqueue(heldStream());

    var call = client.newCall(streamRequest());
    try (Response response = call.execute()) {
      BufferedSource source = response.body().source();
      source.readUtf8LineStrict();
      call.cancel();
      assertThatThrownBy(source::readUtf8).isInstanceOf(IOException.class);
    }

    assertThat(outcomes(rotator.stats(), Outcome.Kind.CANCELLED)).isEqualTo(1);
    assertThat(outcomes(rotator.stats(), Outcome.Kind.TRANSPORT_ERROR)).isZero();
    assertThat(rotator.snapshot("k1").orElseThrow().failures()).isZero();
  }

  @Test
  void streamThatBreaksMidwayCompletesItsLeaseAsATransportError() throws Exception {
    // The server closes the socket halfway through the body, after the first event.
    server.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(SSE)
        .onResponseBody(new SocketEffect.CloseSocket())
        .build());

    try (Response response = client.newCall(streamRequest()).execute()) {
      BufferedSource source = response.body().source();
      assertThat(source.readUtf8LineStrict()).startsWith("data: ");
      assertThatThrownBy(source::readUtf8).isInstanceOf(IOException.class);
    }

    assertThat(outcomes(rotator.stats(), Outcome.Kind.TRANSPORT_ERROR)).isEqualTo(1);
    KeySnapshot k1 = rotator.snapshot("k1").orElseThrow();
    assertThat(k1.inFlight()).isZero();
    assertThat(k1.failures()).isEqualTo(1);
  }

  @Test
  void bodyReadToItsContentLengthCountsAsASuccessEvenWithoutSeeingTheEnd() throws Exception {
    String json = Fixtures.geminiResponse("generate-content.json");
    server.enqueue(Pools.json(200, json));

    try (Response response = client.newCall(Pools.generate(server)).execute()) {
      long length = response.body().contentLength();
      assertThat(length).isPositive();
      assertThat(response.body().source().readUtf8(length)).isEqualTo(json);
    }

    assertThat(outcomes(rotator.stats(), Outcome.Kind.SUCCESS)).isEqualTo(1);
    assertThat(outcomes(rotator.stats(), Outcome.Kind.CANCELLED)).isZero();
  }

  @Test
  void unclosedSuccessKeepsItsKeyInFlightUntilTheBodyEnds() throws Exception {
    server.enqueue(Pools.json(200, Fixtures.geminiResponse("count-tokens.json")));
    Response response = client.newCall(new Request.Builder()
        .url(server.url("/v1beta/models/gemini-2.5-flash:countTokens"))
        .post(RequestBody.create(Pools.PROMPT, Pools.JSON)).build()).execute();
    assertThat(rotator.snapshot("k1").orElseThrow().inFlight()).isEqualTo(1);
    response.body().string(); // reads to the end and closes
    assertThat(rotator.snapshot("k1").orElseThrow().inFlight()).isZero();
    assertThat(rotator.snapshot("k1").orElseThrow().successes()).isEqualTo(1);
  }
}
