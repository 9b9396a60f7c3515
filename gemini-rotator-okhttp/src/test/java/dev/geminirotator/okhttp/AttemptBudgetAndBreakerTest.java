package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.MODEL;
import static dev.geminirotator.okhttp.Pools.client;
import static dev.geminirotator.okhttp.Pools.generate;
import static dev.geminirotator.okhttp.Pools.json;
import static dev.geminirotator.okhttp.Pools.keyOf;
import static dev.geminirotator.okhttp.Pools.take;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Issue 15, items 4 to 6, through the interceptor: a key's own failure moves on to the next key
 * without spending the attempt budget, the network is never blamed on a key, and the breaker
 * counts requests the upstream as a whole could not serve.
 */
class AttemptBudgetAndBreakerTest {

  private final FakeClock clock = FakeClock.standard();
  private MockWebServer server;
  private GeminiKeyRotator rotator;

  @BeforeEach
  void startServer() throws IOException {
    server = new MockWebServer();
    server.start();
  }

  @AfterEach
  void stop() {
    server.close();
    if (rotator != null) rotator.close();
  }

  /** A fake Gemini that answers each pool key as {@code answers} says, 200 for the others. */
  private static Dispatcher byKey(Map<String, MockResponse> answers) {
    return new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        MockResponse answer = answers.get(keyOf(request));
        return answer != null ? answer
            : json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    };
  }

  private static MockResponse invalidKey() {
    return json(400, Fixtures.geminiError("400-api-key-invalid"));
  }

  private static MockResponse perMinute() {
    return json(429, Fixtures.geminiError("429-per-minute"));
  }

  private static MockResponse overloaded() {
    return json(503, Fixtures.geminiError("503-overloaded"));
  }

  private GeminiKeyInterceptor interceptor(int keys, AttemptPolicy policy, CircuitGuard guard) {
    rotator = Pools.rotator(clock, keys);
    return GeminiKeyInterceptor.builder().rotator(rotator).clock(clock).policy(policy)
        .guard(guard).build();
  }

  private ResilientCircuitGuard defaultBreaker() {
    return ResilientCircuitGuard.builder().policy(BreakerPolicy.defaults()).clock(clock).build();
  }

  // ---------------------------------------------------------------------------------------------
  // Item 4: a key's own failure moves on

  @Test
  void sixKeyPoolWithFourRejectedKeysServesEveryRequestWithTheDefaultMaxAttempts()
      throws Exception {
    server.setDispatcher(byKey(Map.of("k1", invalidKey(), "k2", perMinute(),
        "k3", invalidKey(), "k4", perMinute())));
    OkHttpClient client = client(interceptor(6, AttemptPolicy.defaults(), defaultBreaker()));

    for (int i = 0; i < 12; i++) {
      try (Response response = client.newCall(generate(server)).execute()) {
        assertThat(response.code()).as("request %d", i).isEqualTo(200);
      }
    }

    // The first request went past the four failing keys to the fifth, beyond max-attempts 4.
    List<String> first = new ArrayList<>();
    for (int i = 0; i < 5; i++) first.add(keyOf(take(server)));
    assertThat(first).containsExactly("k1", "k2", "k3", "k4", "k5");
    assertThat(rotator.snapshot("k1").orElseThrow().state()).isEqualTo(KeyState.INVALID);
    assertThat(rotator.snapshot("k2").orElseThrow().state()).isEqualTo(KeyState.RATE_LIMITED);
  }

  @Test
  void whenTheLastUsableKeyIsRejectedTheCallerGetsThePoolsAnswerNotTheKeys403()
      throws Exception {
    // k1's consumer is suspended (Gemini names the key itself), k2 is invalid.
    server.setDispatcher(byKey(Map.of("k1", json(403, Fixtures.geminiError(
        "403-consumer-suspended").replace("AIzaSyD-EXAMPLE-ONLY-000000000000000",
        Pools.secret(1))), "k2", invalidKey())));
    OkHttpClient client = client(interceptor(2, Pools.FAST, defaultBreaker()));

    try (Response response = client.newCall(generate(server)).execute()) {
      String body = response.body().string();
      assertThat(response.code()).isIn(429, 503);
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isNotNull();
      assertThat(body).doesNotContain("API_KEY_INVALID").doesNotContain("suspended");
    }
    assertThat(server.getRequestCount()).isEqualTo(2);
  }

  @Test
  void aClientErrorStillGoesToTheCallerAtOnceAfterAKeysOwnFailure() throws Exception {
    server.enqueue(perMinute());
    server.enqueue(json(400, Fixtures.geminiError("400-invalid-argument")));
    OkHttpClient client = client(interceptor(3, Pools.FAST, defaultBreaker()));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(400);
      assertThat(response.body().string()).contains("INVALID_ARGUMENT");
    }
    assertThat(server.getRequestCount()).isEqualTo(2);
  }

  @Test
  void aOneShotBodyGetsExactlyOneAttemptEvenWhenItsKeyIsRejected() throws Exception {
    server.setDispatcher(byKey(Map.of("k1", invalidKey())));
    OkHttpClient client = client(interceptor(3, Pools.FAST, defaultBreaker()));
    Request oneShot = new Request.Builder().url(server.url(Pools.GENERATE))
        .post(new RequestBody() {
          @Override
          public okhttp3.MediaType contentType() {
            return Pools.JSON;
          }

          @Override
          public boolean isOneShot() {
            return true;
          }

          @Override
          public void writeTo(okio.BufferedSink sink) throws IOException {
            sink.writeUtf8(Pools.PROMPT);
          }
        }).build();

    try (Response response = client.newCall(oneShot).execute()) {
      assertThat(response.code()).isEqualTo(400);
    }
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  // ---------------------------------------------------------------------------------------------
  // Item 5: the network is not a key's fault

  @Test
  void connectRefusedNeverBlamesAKeyAndTheNextRequestSucceedsOnceTheUpstreamIsBack()
      throws Exception {
    int closedPort;
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      closedPort = socket.getLocalPort();
    }
    OkHttpClient client = client(interceptor(3, Pools.FAST, defaultBreaker()));
    Request down = generate(server).newBuilder()
        .url("http://127.0.0.1:" + closedPort + Pools.GENERATE).build();

    for (int i = 0; i < 4; i++) {
      assertThatThrownBy(() -> client.newCall(down).execute().close())
          .isInstanceOf(IOException.class);
    }

    assertEveryKeyFullyHealthy();
    server.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(200);
    }
  }

  @Test
  void aResetBeforeAnyResponseByteNeverBlamesAKey() throws Exception {
    try (ResettingServer resetting = new ResettingServer()) {
      OkHttpClient client = client(interceptor(3, Pools.FAST, defaultBreaker()));
      Request down = generate(server).newBuilder()
          .url("http://127.0.0.1:" + resetting.port() + Pools.GENERATE).build();

      for (int i = 0; i < 4; i++) {
        assertThatThrownBy(() -> client.newCall(down).execute().close())
            .isInstanceOf(IOException.class);
      }

      assertThat(resetting.accepted.get()).isGreaterThanOrEqualTo(3);
      assertEveryKeyFullyHealthy();
      server.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
      try (Response response = client.newCall(generate(server)).execute()) {
        assertThat(response.code()).isEqualTo(200);
      }
    }
  }

  private void assertEveryKeyFullyHealthy() {
    for (KeySnapshot key : rotator.snapshot()) {
      assertThat(key.state()).as(key.id()).isEqualTo(KeyState.HEALTHY);
      assertThat(key.health()).as(key.id()).isEqualTo(1.0);
    }
  }

  /** Reads each request's first bytes, then resets the connection (RST) before answering. */
  private static final class ResettingServer implements AutoCloseable {
    final ServerSocket socket;
    final AtomicInteger accepted = new AtomicInteger();
    final Thread acceptor;

    ResettingServer() throws IOException {
      socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
      acceptor = new Thread(() -> {
        while (!socket.isClosed()) {
          try (Socket s = socket.accept()) {
            accepted.incrementAndGet();
            InputStream in = s.getInputStream();
            in.read(new byte[256]); // the request has arrived
            s.setSoLinger(true, 0);
          } catch (IOException e) {
            // closed, or the reset itself
          }
        }
      }, "resetting-upstream");
      acceptor.setDaemon(true);
      acceptor.start();
    }

    int port() {
      return socket.getLocalPort();
    }

    @Override
    public void close() throws Exception {
      socket.close();
      acceptor.join(10_000);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Item 6: the breaker counts what the upstream as a whole could not serve

  @ParameterizedTest(name = "one key of {0}")
  @ValueSource(ints = {2, 3})
  void oneKeyAlwaysAnswering503NeverOpensTheBreakerWhileEveryRequestSucceeds(int keys)
      throws Exception {
    server.setDispatcher(byKey(Map.of("k1", overloaded())));
    ResilientCircuitGuard guard = defaultBreaker();
    OkHttpClient client = client(interceptor(keys, Pools.FAST, guard));

    int requests = BreakerPolicy.DEFAULT_SLIDING_WINDOW_SIZE; // 2.5 times minimum-calls
    for (int i = 0; i < requests; i++) {
      try (Response response = client.newCall(generate(server)).execute()) {
        assertThat(response.code()).as("request %d", i).isEqualTo(200);
      }
    }

    assertThat(guard.state(MODEL)).isEqualTo(CircuitGuard.State.CLOSED);
    // k1 was tried again and again, each time recovered by another key.
    assertThat(server.getRequestCount()).isGreaterThan(requests + requests / 4);
  }

  @Test
  void theWholeUpstreamAnswering503OpensTheBreaker() throws Exception {
    server.setDispatcher(byKey(Map.of("k1", overloaded(), "k2", overloaded(),
        "k3", overloaded())));
    ResilientCircuitGuard guard = defaultBreaker();
    OkHttpClient client = client(interceptor(3, Pools.FAST, guard));

    for (int i = 0; i < BreakerPolicy.DEFAULT_MINIMUM_CALLS; i++) {
      try (Response response = client.newCall(generate(server)).execute()) {
        assertThat(response.code()).isEqualTo(503);
      }
    }

    assertThat(guard.state(MODEL)).isEqualTo(CircuitGuard.State.OPEN);
    int before = server.getRequestCount();
    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isNotNull();
    }
    assertThat(server.getRequestCount()).isEqualTo(before);
  }

  @Test
  void aHalfOpenTrialThatFailsOnOneKeyAndSucceedsOnTheNextClosesTheBreaker() throws Exception {
    AtomicInteger phase = new AtomicInteger();
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return phase.get() == 0 || keyOf(request).equals("k1") ? overloaded()
            : json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    });
    ResilientCircuitGuard guard = defaultBreaker();
    OkHttpClient client = client(interceptor(3, Pools.FAST, guard));
    for (int i = 0; i < BreakerPolicy.DEFAULT_MINIMUM_CALLS; i++) {
      client.newCall(generate(server)).execute().close();
    }
    assertThat(guard.state(MODEL)).isEqualTo(CircuitGuard.State.OPEN);

    phase.set(1); // the upstream recovers, but for k1
    clock.advance(BreakerPolicy.DEFAULT_WAIT_IN_OPEN.plus(Duration.ofSeconds(1)));
    for (int i = 0; i < BreakerPolicy.DEFAULT_PERMITTED_CALLS_IN_HALF_OPEN * 2; i++) {
      try (Response response = client.newCall(generate(server)).execute()) {
        assertThat(response.code()).as("request %d", i).isEqualTo(200);
        response.body().string();
      }
    }
    assertThat(guard.state(MODEL)).isEqualTo(CircuitGuard.State.CLOSED);
  }
}
