package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.MODEL;
import static dev.geminirotator.okhttp.Pools.client;
import static dev.geminirotator.okhttp.Pools.outcomes;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockResponseBody;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
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
 * The breaker hears a request when its 2xx headers arrive, in the interceptor as in the proxy: a
 * half-open trial does not hold its permission for the whole stream, and a stream cut halfway is
 * the key's lease's business, never a breaker failure.
 */
class BreakerSettlePointTest {

  private static final String SSE = Fixtures.geminiResponse("stream-generate-content.sse");
  private static final String FIRST_EVENT = SSE.substring(0, SSE.indexOf("\n\n") + 2);

  private final FakeClock clock = FakeClock.standard();
  private final CountDownLatch cut = new CountDownLatch(1);
  private MockWebServer server;
  private GeminiKeyRotator rotator;

  @BeforeEach
  void start() throws IOException {
    server = new MockWebServer();
    server.start();
  }

  @AfterEach
  void stop() {
    cut.countDown();
    server.close();
    if (rotator != null) rotator.close();
  }

  /** 200 with the first event, then (once the test says so) the socket closes mid-body. */
  private MockResponse streamCutWhenReleased() {
    return new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(new MockResponseBody() {
          @Override
          public long getContentLength() {
            return SSE.getBytes(StandardCharsets.UTF_8).length;
          }

          @Override
          public void writeTo(BufferedSink sink) throws IOException {
            sink.writeUtf8(FIRST_EVENT);
            sink.flush();
            try {
              cut.await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            // The rest never comes: the connection closes short of Content-Length.
          }
        })
        .onResponseEnd(new SocketEffect.CloseSocket())
        .build();
  }

  private Request stream() {
    return new Request.Builder().url(server.url(Pools.STREAM))
        .post(RequestBody.create(Pools.PROMPT, Pools.JSON)).build();
  }

  @Test
  void halfOpenTrialStreamClosesTheBreakerAtItsHeadersAndItsMidStreamCutIsNoBreakerFailure()
      throws Exception {
    AtomicInteger phase = new AtomicInteger();
    AtomicInteger trials = new AtomicInteger();
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (phase.get() == 0) {
          return Pools.json(503, Fixtures.geminiError("503-overloaded"));
        }
        return trials.getAndIncrement() == 0 ? streamCutWhenReleased()
            : Pools.json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    });
    // One trial call; one failed request opens it; a window of two, so that one failure among
    // the two calls after closing (50%) would open it again.
    BreakerPolicy policy = BreakerPolicy.builder().minimumCalls(1).slidingWindowSize(2)
        .failureRateThreshold(50).permittedCallsInHalfOpen(1).build();
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder().policy(policy).clock(clock)
        .build();
    rotator = Pools.rotator(clock, 2);
    OkHttpClient client = client(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock)
        .policy(Pools.FAST).guard(guard).build());

    try (Response response = client.newCall(stream()).execute()) {
      assertThat(response.code()).isEqualTo(503);
    }
    assertThat(guard.state(MODEL)).isEqualTo(CircuitGuard.State.OPEN);
    phase.set(1);
    clock.advance(policy.waitInOpen().plus(Duration.ofSeconds(1)));

    try (Response trial = client.newCall(stream()).execute()) {
      assertThat(trial.code()).isEqualTo(200);
      BufferedSource source = trial.body().source();
      assertThat(source.readUtf8LineStrict()).startsWith("data: ");

      // The trial's headers arrived: the upstream can serve, the breaker closed, and a second
      // call is let through while the trial still streams.
      assertThat(guard.state(MODEL)).isEqualTo(CircuitGuard.State.CLOSED);
      try (Response second = client.newCall(Pools.generate(server)).execute()) {
        assertThat(second.code()).isEqualTo(200);
        assertThat(second.header(LocalErrors.SOURCE_HEADER)).isNull();
        second.body().string();
      }

      cut.countDown();
      assertThatThrownBy(source::readUtf8).isInstanceOf(IOException.class);
    }

    // The cut ended the key's lease (as a transport error) but reached no breaker: one failure
    // among the two calls since closing would have opened it again.
    assertThat(outcomes(rotator.stats(), Outcome.Kind.TRANSPORT_ERROR)).isEqualTo(1);
    assertThat(rotator.snapshot("k1").orElseThrow().inFlight()).isZero();
    assertThat(rotator.snapshot("k2").orElseThrow().inFlight()).isZero();
    assertThat(guard.state(MODEL)).isEqualTo(CircuitGuard.State.CLOSED);
    assertThat(server.getRequestCount()).isGreaterThanOrEqualTo(3);
  }
}
