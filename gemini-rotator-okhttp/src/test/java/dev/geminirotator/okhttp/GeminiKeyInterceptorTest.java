package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.FAST;
import static dev.geminirotator.okhttp.Pools.GENERATE;
import static dev.geminirotator.okhttp.Pools.MODEL;
import static dev.geminirotator.okhttp.Pools.client;
import static dev.geminirotator.okhttp.Pools.generate;
import static dev.geminirotator.okhttp.Pools.json;
import static dev.geminirotator.okhttp.Pools.keyOf;
import static dev.geminirotator.okhttp.Pools.outcomes;
import static dev.geminirotator.okhttp.Pools.take;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockWebServer;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.BufferedSink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class GeminiKeyInterceptorTest {

  private static final ObjectMapper JSON = new ObjectMapper();

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

  private GeminiKeyInterceptor.Builder interceptor(int keys) {
    rotator = Pools.rotator(clock, keys);
    return GeminiKeyInterceptor.builder().rotator(rotator).clock(clock).policy(FAST);
  }

  private static String ok() {
    return Fixtures.geminiResponse("generate-content.json");
  }

  // ---------------------------------------------------------------------------------------------
  // Rotation and invisible retries

  @Test
  void callsRotateAcrossThePool() throws Exception {
    OkHttpClient client = client(interceptor(3).build());
    for (int i = 0; i < 6; i++) {
      server.enqueue(json(200, ok()));
    }
    for (int i = 0; i < 6; i++) {
      try (Response response = client.newCall(generate(server)).execute()) {
        assertThat(response.code()).isEqualTo(200);
        assertThat(response.body().string()).isEqualTo(ok());
      }
    }
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 6; i++) keys.add(keyOf(take(server)));
    assertThat(keys).containsExactly("k1", "k2", "k3", "k1", "k2", "k3");
    assertThat(outcomes(rotator.stats(), Outcome.Kind.SUCCESS)).isEqualTo(6);
  }

  @Test
  void rateLimitedKeyIsRetriedAtOnceOnTheNextKeyAndCooled() throws Exception {
    OkHttpClient client = client(interceptor(3).build());
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    server.enqueue(json(200, ok()));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(200);
      assertThat(response.body().string()).isEqualTo(ok());
    }

    assertThat(keyOf(take(server))).isEqualTo("k1");
    assertThat(keyOf(take(server))).isEqualTo("k2");
    assertThat(server.getRequestCount()).isEqualTo(2);
    KeySnapshot k1 = rotator.snapshot("k1").orElseThrow();
    assertThat(k1.state()).isEqualTo(KeyState.RATE_LIMITED);
    assertThat(k1.cooldowns()).containsKey(MODEL);
    assertThat(k1.cooldowns().get(MODEL)).isEqualTo(clock.instant().plusSeconds(37));
    assertThat(outcomes(rotator.stats(), Outcome.Kind.RATE_LIMITED)).isEqualTo(1);
    assertThat(outcomes(rotator.stats(), Outcome.Kind.SUCCESS)).isEqualTo(1);
  }

  @Test
  void rejectedKeyIsInvalidatedAndTheCallRetriedOnTheNextKey() throws Exception {
    OkHttpClient client = client(interceptor(3).build());
    server.enqueue(json(400, Fixtures.geminiError("400-api-key-invalid")));
    server.enqueue(json(200, ok()));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(200);
      assertThat(response.body().string()).isEqualTo(ok());
    }

    assertThat(keyOf(take(server))).isEqualTo("k1");
    assertThat(keyOf(take(server))).isEqualTo("k2");
    assertThat(rotator.snapshot("k1").orElseThrow().state()).isEqualTo(KeyState.INVALID);
    assertThat(rotator.snapshot("k1").orElseThrow().reason()).contains("API_KEY_INVALID");
  }

  @Test
  void overloaded503IsRetriedOnAnotherKeyWithoutBlamingTheKey() throws Exception {
    OkHttpClient client = client(interceptor(3).build());
    server.enqueue(json(503, Fixtures.geminiError("503-overloaded")));
    server.enqueue(json(200, ok()));
    double healthBefore = rotator.snapshot("k1").orElseThrow().health();

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(200);
      response.body().string();
    }

    assertThat(keyOf(take(server))).isEqualTo("k1");
    assertThat(keyOf(take(server))).isEqualTo("k2");
    KeySnapshot k1 = rotator.snapshot("k1").orElseThrow();
    assertThat(k1.state()).isEqualTo(KeyState.HEALTHY);
    assertThat(k1.health()).isEqualTo(healthBefore);
    assertThat(k1.cooldowns()).isEmpty();
    assertThat(outcomes(rotator.stats(), Outcome.Kind.UPSTREAM_ERROR)).isEqualTo(1);
  }

  @Test
  void invalidArgumentIsReturnedUntouchedWithoutRetry() throws Exception {
    OkHttpClient client = client(interceptor(3).build());
    String body = Fixtures.geminiError("400-invalid-argument");
    server.enqueue(json(400, body));
    server.enqueue(json(200, ok())); // must not be asked for

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(400);
      assertThat(response.body().string()).isEqualTo(body);
    }

    assertThat(server.getRequestCount()).isEqualTo(1);
    assertThat(keyOf(take(server))).isEqualTo("k1");
    KeySnapshot k1 = rotator.snapshot("k1").orElseThrow();
    assertThat(k1.state()).isEqualTo(KeyState.HEALTHY);
    assertThat(k1.failures()).isZero();
    assertThat(outcomes(rotator.stats(), Outcome.Kind.CLIENT_ERROR)).isEqualTo(1);
  }

  @Test
  void attemptCapStopsRetryingUpstreamErrorsAndReturnsTheLastFailure() throws Exception {
    OkHttpClient client = client(interceptor(4)
        .policy(FAST.toBuilder().maxAttempts(2).build()).build());
    String first = Fixtures.geminiError("500-internal");
    String second = Fixtures.geminiError("503-overloaded");
    server.enqueue(json(500, first));
    server.enqueue(json(503, second));
    server.enqueue(json(200, ok())); // must not be asked for

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.body().string()).isEqualTo(second);
    }

    assertThat(server.getRequestCount()).isEqualTo(2);
    assertThat(keyOf(take(server))).isEqualTo("k1");
    assertThat(keyOf(take(server))).isEqualTo("k2");
  }

  @Test
  void whenEveryKeyFailedUpstreamTheCallerGetsTheLastUpstreamFailureWithItsBody()
      throws Exception {
    OkHttpClient client = client(interceptor(2).build());
    String last = Fixtures.geminiError("503-overloaded");
    server.enqueue(json(500, Fixtures.geminiError("500-internal")));
    server.enqueue(json(503, last));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isNull();
      assertThat(response.body().string()).isEqualTo(last);
    }
    assertThat(server.getRequestCount()).isEqualTo(2);
  }

  @Test
  void whenEveryKeyIsRateLimitedTheCallerGetsThePoolsAnswerNotTheLastKeys() throws Exception {
    OkHttpClient client = client(interceptor(2).build());
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute"))); // k1 cools 37 s
    server.enqueue(new mockwebserver3.MockResponse.Builder().code(429)
        .addHeader("Content-Type", "application/json").addHeader("Retry-After", "12")
        .body(Fixtures.geminiError("429-bare")).build()); // k2 cools 12 s

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(429);
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isNotNull();
      assertThat(response.header("Retry-After")).isEqualTo("12"); // the pool's earliest key
      assertThat(response.body().string()).contains("RESOURCE_EXHAUSTED");
    }
    assertThat(server.getRequestCount()).isEqualTo(2);
  }

  // ---------------------------------------------------------------------------------------------
  // No key

  @Test
  void noKeyAvailableAnswers429ShapedLikeGeminiWithRetryAfter() throws Exception {
    OkHttpClient client = client(interceptor(1).build());
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute"))); // cools k1 for 37 s
    client.newCall(generate(server)).execute().close();
    clock.advance(Duration.ofMillis(10_500)); // 26.5 s left: Retry-After rounds up to 27

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(429);
      assertThat(response.header("Retry-After")).isEqualTo("27");
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isEqualTo("no-key-available");
      assertThat(response.header("Content-Type")).startsWith("application/json");
      JsonNode error = JSON.readTree(response.body().string()).get("error");
      assertThat(error.get("code").asInt()).isEqualTo(429);
      assertThat(error.get("status").asText()).isEqualTo("RESOURCE_EXHAUSTED");
      assertThat(error.get("message").asText()).startsWith("no key available for model " + MODEL);
      assertThat(response.request().url().encodedPath()).isEqualTo(GENERATE);
    }
    assertThat(server.getRequestCount()).isEqualTo(1);
    assertThat(rotator.stats().noKeyAvailable()).isEqualTo(2); // after the 429, and now
  }

  @Test
  void noKeyAvailableThrowsAnIOExceptionCarryingTheRotatorsAnswerWhenAskedTo() throws Exception {
    OkHttpClient client = client(interceptor(2)
        .noKeyBehavior(GeminiKeyInterceptor.NoKeyBehavior.THROW).build());
    rotator.disable("k1");
    rotator.disable("k2");

    assertThatThrownBy(() -> client.newCall(generate(server)).execute())
        .isInstanceOf(NoKeyAvailableIOException.class)
        .hasMessageContaining("no key available for model " + MODEL)
        .cause().isInstanceOf(NoKeyAvailableException.class);
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void noKeyAvailableForAnyModelAnswers503WithoutRetryAfterWhenNoKeyFreesUpByItself()
      throws Exception {
    OkHttpClient client = client(interceptor(1).build());
    rotator.disable("k1");
    try (Response response = client.newCall(new Request.Builder()
        .url(server.url("/v1beta/models")).build()).execute()) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.header("Retry-After")).isNull();
      assertThat(JSON.readTree(response.body().string()).at("/error/message").asText())
          .startsWith("no key available for any model");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Circuit guard

  private ResilientCircuitGuard trippedGuard() {
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder().clock(clock)
        .policy(BreakerPolicy.builder().minimumCalls(2).slidingWindowSize(2)
            .waitInOpen(Duration.ofSeconds(30)).build())
        .build();
    for (int i = 0; i < 2; i++) {
      guard.acquirePermission(MODEL);
      guard.onOutcome(MODEL, Outcome.upstreamError(500, "INTERNAL"), Duration.ZERO);
    }
    assertThat(guard.state(MODEL)).isEqualTo(CircuitGuard.State.OPEN);
    return guard;
  }

  @Test
  void openCircuitFailsFastWith503AndNoRequestReachesTheServer() throws Exception {
    OkHttpClient client = client(interceptor(2).guard(trippedGuard()).build());
    server.enqueue(json(200, ok()));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.header("Retry-After")).isEqualTo("30");
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isEqualTo("circuit-open");
      JsonNode error = JSON.readTree(response.body().string()).get("error");
      assertThat(error.get("code").asInt()).isEqualTo(503);
      assertThat(error.get("status").asText()).isEqualTo("UNAVAILABLE");
    }

    assertThat(server.getRequestCount()).isZero();
    // The guard is asked before a key is leased, so no key (nor its quota) was touched.
    assertThat(rotator.stats().acquisitions()).isZero();
    assertThat(rotator.snapshot("k1").orElseThrow().inFlight()).isZero();
    assertThat(rotator.snapshot("k1").orElseThrow().failures()).isZero();
  }

  @Test
  void callsFailedFastByAnOpenCircuitSpendNoKeyQuota() throws Exception {
    rotator = GeminiKeyRotator.builder().clock(clock)
        .key(dev.geminirotator.api.ApiKey.builder("AIzaSy-quota-key-000000000000").id("q")
            .requestsPerDay(3).build())
        .build();
    OkHttpClient client = client(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock)
        .guard(trippedGuard()).build());
    for (int i = 0; i < 5; i++) {
      try (Response response = client.newCall(generate(server)).execute()) {
        assertThat(response.code()).isEqualTo(503);
      }
    }
    assertThat(server.getRequestCount()).isZero();
    assertThat(rotator.stats().acquisitions()).isZero();
  }

  @Test
  void openCircuitThrowsWhenAskedTo() throws Exception {
    OkHttpClient client = client(interceptor(2).guard(trippedGuard())
        .circuitOpenBehavior(GeminiKeyInterceptor.CircuitOpenBehavior.THROW).build());

    assertThatThrownBy(() -> client.newCall(generate(server)).execute())
        .isInstanceOf(CircuitOpenIOException.class)
        .hasMessageContaining("circuit open")
        .satisfies(e -> assertThat(((CircuitOpenIOException) e).getCause().retryAt())
            .isEqualTo(clock.instant().plusSeconds(30)));
    assertThat(server.getRequestCount()).isZero();
  }

  @Test
  void upstreamErrorsReachTheGuardAndOpenIt() throws Exception {
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder().clock(clock)
        .policy(BreakerPolicy.builder().minimumCalls(2).slidingWindowSize(2).build()).build();
    OkHttpClient client = client(interceptor(4).guard(guard)
        .policy(FAST.toBuilder().retryUpstreamErrors(false).build()).build());
    server.enqueue(json(500, Fixtures.geminiError("500-internal")));
    server.enqueue(json(500, Fixtures.geminiError("500-internal")));

    for (int i = 0; i < 2; i++) {
      try (Response response = client.newCall(generate(server)).execute()) {
        assertThat(response.code()).isEqualTo(500);
      }
    }
    assertThat(guard.state(MODEL)).isEqualTo(CircuitGuard.State.OPEN);
    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isEqualTo("circuit-open");
    }
    assertThat(server.getRequestCount()).isEqualTo(2);
  }

  // ---------------------------------------------------------------------------------------------
  // Bodies that cannot be replayed

  @Test
  void oneShotBodyGetsASingleAttempt() throws Exception {
    OkHttpClient client = client(interceptor(3).build());
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    server.enqueue(json(200, ok())); // must not be asked for

    Request request = new Request.Builder().url(server.url(GENERATE))
        .post(new StreamingBody(Pools.PROMPT, true, false)).build();
    try (Response response = client.newCall(request).execute()) {
      assertThat(response.code()).isEqualTo(429);
      assertThat(response.body().string()).isEqualTo(Fixtures.geminiError("429-per-minute"));
    }
    assertThat(server.getRequestCount()).isEqualTo(1);
    assertThat(keyOf(take(server))).isEqualTo("k1");
    // The key is still cooled: the outcome was learned even though it was not retried.
    assertThat(rotator.snapshot("k1").orElseThrow().state()).isEqualTo(KeyState.RATE_LIMITED);
  }

  @Test
  void duplexBodyGetsASingleAttempt() throws Exception {
    // Duplex needs HTTP/2, so a stand-in upstream answers from inside the client.
    List<String> sent = new ArrayList<>();
    rotator = Pools.rotator(clock, 3);
    OkHttpClient client = new OkHttpClient.Builder()
        .addInterceptor(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock).build())
        .addInterceptor(chain -> {
          sent.add(chain.request().header("x-goog-api-key"));
          return new Response.Builder().request(chain.request()).protocol(Protocol.HTTP_2)
              .code(429).message("Too Many Requests")
              .body(ResponseBody.create(Fixtures.geminiError("429-bare"),
                  MediaType.get("application/json")))
              .build();
        })
        .build();
    Request request = new Request.Builder().url("https://gemini.invalid" + GENERATE)
        .post(new StreamingBody(Pools.PROMPT, false, true)).build();

    try (Response response = client.newCall(request).execute()) {
      assertThat(response.code()).isEqualTo(429);
    }
    assertThat(sent).containsExactly(Pools.secret(1));
  }

  // ---------------------------------------------------------------------------------------------
  // Async

  @Test
  void enqueuedCallsRotateAndRetryLikeExecutedOnes() throws Exception {
    OkHttpClient client = client(interceptor(3).build());
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    server.enqueue(json(200, ok()));

    CompletableFuture<String> result = new CompletableFuture<>();
    client.newCall(generate(server)).enqueue(new Callback() {
      @Override
      public void onFailure(Call call, IOException e) {
        result.completeExceptionally(e);
      }

      @Override
      public void onResponse(Call call, Response response) throws IOException {
        try (response) {
          result.complete(response.code() + " " + response.body().string());
        }
      }
    });

    assertThat(result.get(10, TimeUnit.SECONDS)).isEqualTo("200 " + ok());
    assertThat(keyOf(take(server))).isEqualTo("k1");
    assertThat(keyOf(take(server))).isEqualTo("k2");
  }

  @Test
  void enqueuedCallFailsWithNoKeyAvailableIOExceptionWhenAskedTo() throws Exception {
    OkHttpClient client = client(interceptor(1)
        .noKeyBehavior(GeminiKeyInterceptor.NoKeyBehavior.THROW).build());
    rotator.disable("k1");
    CompletableFuture<IOException> failure = new CompletableFuture<>();
    client.newCall(generate(server)).enqueue(new Callback() {
      @Override
      public void onFailure(Call call, IOException e) {
        failure.complete(e);
      }

      @Override
      public void onResponse(Call call, Response response) {
        response.close();
        failure.completeExceptionally(new AssertionError("expected a failure"));
      }
    });
    assertThat(failure.get(10, TimeUnit.SECONDS)).isInstanceOf(NoKeyAvailableIOException.class);
  }

  // ---------------------------------------------------------------------------------------------
  // Timeouts and cancellation

  @Test
  void callCancelledDuringBackoffStopsWithoutAnotherAttempt() throws Exception {
    AttemptPolicy slow = AttemptPolicy.builder().backoffBase(Duration.ofSeconds(60))
        .backoffMax(Duration.ofSeconds(60)).jitter(0).build();
    OkHttpClient client = client(interceptor(3).policy(slow).build());
    server.enqueue(json(503, Fixtures.geminiError("503-overloaded")));
    server.enqueue(json(200, ok())); // must not be asked for

    Call call = client.newCall(generate(server));
    CompletableFuture<Object> result = CompletableFuture.supplyAsync(() -> {
      try (Response response = call.execute()) {
        return response.code();
      } catch (IOException e) {
        return e;
      }
    });
    take(server); // the first attempt got its 503; the interceptor now backs off for 60 s
    awaitOutcome(Outcome.Kind.UPSTREAM_ERROR);
    call.cancel();

    assertThat(result.get(10, TimeUnit.SECONDS)).isInstanceOf(IOException.class);
    assertThat(server.getRequestCount()).isEqualTo(1);
    assertThat(rotator.snapshot("k1").orElseThrow().inFlight()).isZero();
  }

  @Test
  void backoffLongerThanTheCallTimeoutIsSkippedAndTheLastFailureReturned() throws Exception {
    AttemptPolicy slow = AttemptPolicy.builder().backoffBase(Duration.ofSeconds(60))
        .backoffMax(Duration.ofSeconds(60)).jitter(0).build();
    OkHttpClient client = client(interceptor(3).policy(slow).build()).newBuilder()
        .callTimeout(20, TimeUnit.SECONDS).build();
    server.enqueue(json(503, Fixtures.geminiError("503-overloaded")));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(503);
      assertThat(response.body().string()).isEqualTo(Fixtures.geminiError("503-overloaded"));
    }
    assertThat(server.getRequestCount()).isEqualTo(1);
  }

  @Test
  void callCancelledWhileWaitingForHeadersCompletesItsLeaseAsCancelled() throws Exception {
    OkHttpClient client = client(interceptor(2).build());
    server.enqueue(new mockwebserver3.MockResponse.Builder().code(200)
        .headersDelay(30, TimeUnit.SECONDS).body(ok()).build());

    Call call = client.newCall(generate(server));
    CompletableFuture<Object> result = CompletableFuture.supplyAsync(() -> {
      try (Response response = call.execute()) {
        return response.code();
      } catch (IOException e) {
        return e;
      }
    });
    take(server);
    call.cancel();

    assertThat(result.get(10, TimeUnit.SECONDS)).isInstanceOf(IOException.class);
    awaitOutcome(Outcome.Kind.CANCELLED);
    assertThat(outcomes(rotator.stats(), Outcome.Kind.TRANSPORT_ERROR)).isZero();
    KeySnapshot k1 = rotator.snapshot("k1").orElseThrow();
    assertThat(k1.inFlight()).isZero();
    assertThat(k1.failures()).isZero();
    assertThat(server.getRequestCount()).isEqualTo(1); // no retry after a cancel
  }

  @Test
  void transportFailureIsRetriedOnAnotherKey() throws Exception {
    OkHttpClient client = client(interceptor(2).build());
    server.enqueue(new mockwebserver3.MockResponse.Builder()
        .onRequestStart(new mockwebserver3.SocketEffect.CloseSocket(true, true, true)).build());
    server.enqueue(json(200, ok()));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(200);
      response.body().string();
    }
    assertThat(outcomes(rotator.stats(), Outcome.Kind.TRANSPORT_ERROR)).isEqualTo(1);
    assertThat(rotator.snapshot("k1").orElseThrow().failures()).isEqualTo(1);
    assertThat(rotator.snapshot("k2").orElseThrow().successes()).isEqualTo(1);
  }

  private void awaitOutcome(Outcome.Kind kind) {
    Eventually.until("a " + kind + " outcome", () -> outcomes(rotator.stats(), kind) > 0);
  }

  // ---------------------------------------------------------------------------------------------
  // Construction

  @Test
  void builderNamesTheMissingRotator() {
    assertThatThrownBy(() -> GeminiKeyInterceptor.builder().build())
        .isInstanceOf(IllegalStateException.class).hasMessageContaining("rotator must be set");
  }

  @Test
  void defaultsComeWithACircuitGuard() {
    rotator = Pools.rotator(clock, 1);
    GeminiKeyInterceptor interceptor = GeminiKeyInterceptor.of(rotator);
    assertThat(interceptor.guard()).isInstanceOf(ResilientCircuitGuard.class);
    assertThat(interceptor.policy()).isEqualTo(AttemptPolicy.defaults());
    assertThat(interceptor.toString()).doesNotContain(Pools.secret(1));
  }

  /** A request body whose one-shot and duplex flags the test chooses. */
  static final class StreamingBody extends RequestBody {
    private final String text;
    private final boolean oneShot;
    private final boolean duplex;

    StreamingBody(String text, boolean oneShot, boolean duplex) {
      this.text = text;
      this.oneShot = oneShot;
      this.duplex = duplex;
    }

    @Override
    public MediaType contentType() {
      return Pools.JSON;
    }

    @Override
    public void writeTo(BufferedSink sink) throws IOException {
      sink.writeUtf8(text);
    }

    @Override
    public boolean isOneShot() {
      return oneShot;
    }

    @Override
    public boolean isDuplex() {
      return duplex;
    }
  }
}
