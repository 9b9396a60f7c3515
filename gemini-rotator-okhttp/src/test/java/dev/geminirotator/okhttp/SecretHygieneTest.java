package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.CALLER_SECRET;
import static dev.geminirotator.okhttp.Pools.client;
import static dev.geminirotator.okhttp.Pools.json;
import static dev.geminirotator.okhttp.Pools.secret;
import static dev.geminirotator.okhttp.Pools.take;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.SecretScanner;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.ForwardingSource;
import okio.Okio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** No pool secret in what the interceptor returns, throws or logs; no caller secret upstream. */
class SecretHygieneTest {

  private final FakeClock clock = FakeClock.standard();
  private MockWebServer server;
  private GeminiKeyRotator rotator;

  @BeforeEach
  void start() throws IOException {
    server = new MockWebServer();
    server.start();
    rotator = Pools.rotator(clock, 2);
  }

  @AfterEach
  void stop() {
    server.close();
    rotator.close();
  }

  private GeminiKeyInterceptor.Builder interceptor() {
    return GeminiKeyInterceptor.builder().rotator(rotator).clock(clock).policy(Pools.FAST);
  }

  /** A request that carries the caller's own credential in all three places. */
  private Request withCallerCredentials(String path) {
    return new Request.Builder()
        .url(server.url(path).newBuilder().addQueryParameter("key", CALLER_SECRET).build())
        .header("x-goog-api-key", CALLER_SECRET)
        .header("Authorization", "Bearer " + CALLER_SECRET)
        .post(RequestBody.create(Pools.PROMPT, Pools.JSON))
        .build();
  }

  /** The pool secrets, found whole, as any 8 of their characters, or URL-encoded. */
  private static final SecretScanner POOL_SECRETS = SecretScanner.of(secret(1), secret(2));

  private static void assertNoSecret(String text) {
    assertThat(POOL_SECRETS.findings(text)).as("pool secrets in the output").isEmpty();
  }

  private static void assertNoSecret(Response response) {
    for (Response r = response; r != null; r = r.networkResponse()) {
      assertNoSecret(r.toString());
      assertNoSecret(r.request().url().toString());
      assertNoSecret(r.request().headers().toString());
      assertNoSecret(r.headers().toString());
    }
  }

  private static String everything(Throwable t) {
    StringWriter out = new StringWriter();
    t.printStackTrace(new PrintWriter(out));
    return out.toString();
  }

  // ---------------------------------------------------------------------------------------------
  // Upstream: the caller's credential is replaced

  @Test
  void callerCredentialsNeverReachTheServerAndThePoolKeyGoesInTheHeader() throws Exception {
    OkHttpClient client = client(interceptor().build());
    server.enqueue(json(200, "{}"));

    client.newCall(withCallerCredentials(Pools.STREAM)).execute().close();

    RecordedRequest recorded = take(server);
    assertThat(recorded.getHeaders().get("x-goog-api-key")).isEqualTo(secret(1));
    assertThat(recorded.getHeaders().values("x-goog-api-key")).hasSize(1);
    assertThat(recorded.getHeaders().get("Authorization")).isNull();
    assertThat(recorded.getUrl().queryParameterValues("key")).isEmpty();
    assertThat(recorded.getUrl().queryParameter("alt")).isEqualTo("sse");
    assertThat(recorded.getTarget() + recorded.getHeaders()).doesNotContain(CALLER_SECRET);
  }

  @Test
  void queryPlacementSendsThePoolKeyAsTheOnlyKeyParameter() throws Exception {
    OkHttpClient client = client(interceptor()
        .keyPlacement(GeminiKeyInterceptor.KeyPlacement.QUERY).build());
    server.enqueue(json(200, "{}"));

    client.newCall(withCallerCredentials(Pools.STREAM)).execute().close();

    RecordedRequest recorded = take(server);
    assertThat(recorded.getUrl().queryParameterValues("key")).containsExactly(secret(1));
    assertThat(recorded.getUrl().queryParameter("alt")).isEqualTo("sse");
    assertThat(recorded.getHeaders().get("x-goog-api-key")).isNull();
    assertThat(recorded.getHeaders().get("Authorization")).isNull();
    assertThat(recorded.getTarget() + recorded.getHeaders()).doesNotContain(CALLER_SECRET);
  }

  @Test
  void openAiCompatibleSurfaceGetsThePoolKeyAsBearerToken() throws Exception {
    OkHttpClient client = client(interceptor().build());
    server.enqueue(json(200, Fixtures.geminiResponse("openai-chat-completion.json")));

    client.newCall(withCallerCredentials("/v1beta/openai/chat/completions")).execute().close();

    RecordedRequest recorded = take(server);
    assertThat(recorded.getHeaders().values("Authorization")).containsExactly("Bearer " + secret(1));
    assertThat(recorded.getHeaders().get("x-goog-api-key")).isNull();
    assertThat(recorded.getUrl().queryParameterValues("key")).isEmpty();
  }

  // ---------------------------------------------------------------------------------------------
  // What the caller gets back

  @Test
  void returnedResponsesNameNoPoolKeyWhateverThePlacement() throws Exception {
    for (GeminiKeyInterceptor.KeyPlacement placement : GeminiKeyInterceptor.KeyPlacement.values()) {
      OkHttpClient client = client(interceptor().keyPlacement(placement).build());
      rotator.reset("k1");
      rotator.reset("k2");

      server.enqueue(json(200, "{}")); // a success
      try (Response response = client.newCall(withCallerCredentials(Pools.GENERATE)).execute()) {
        assertThat(response.code()).isEqualTo(200);
        assertNoSecret(response);
      }
      server.enqueue(json(400, Fixtures.geminiError("400-invalid-argument"))); // returned as is
      try (Response response = client.newCall(withCallerCredentials(Pools.GENERATE)).execute()) {
        assertThat(response.code()).isEqualTo(400);
        assertNoSecret(response);
      }
      server.enqueue(json(429, Fixtures.geminiError("429-per-minute"))); // kept, then returned
      server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
      try (Response response = client.newCall(withCallerCredentials(Pools.GENERATE)).execute()) {
        assertThat(response.code()).isEqualTo(429);
        assertNoSecret(response);
      }
      try (Response response = client.newCall(withCallerCredentials(Pools.GENERATE)).execute()) {
        assertThat(response.header(LocalErrors.SOURCE_HEADER)).isEqualTo("no-key-available");
        assertNoSecret(response);
        assertNoSecret(response.body().string());
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // What the caller gets thrown

  /** An I/O failure that, like some proxies and listeners, puts the request URL in its message. */
  public static final class LeakyException extends IOException {
    private static final long serialVersionUID = 1L;

    public LeakyException(String message) {
      super(message);
    }
  }

  /** The same, without a (String) constructor to copy it by. */
  static final class OpaqueLeakyException extends IOException {
    private static final long serialVersionUID = 1L;

    OpaqueLeakyException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  @Test
  void failuresThatQuoteTheUrlAreRedactedAndKeepTheirType() throws Exception {
    OkHttpClient client = client(interceptor()
        .keyPlacement(GeminiKeyInterceptor.KeyPlacement.QUERY).build()).newBuilder()
        .addNetworkInterceptor(chain -> {
          IOException cause = new IOException("socket to " + chain.request().url());
          LeakyException e = new LeakyException("failed to reach " + chain.request().url());
          e.initCause(cause);
          e.addSuppressed(new IllegalStateException("while " + chain.request().url()));
          throw e;
        })
        .build();

    Throwable thrown = catchThrowable(
        () -> client.newCall(withCallerCredentials(Pools.GENERATE)).execute());

    // Both keys were tried (transport errors are retried); the caller sees the last failure.
    assertThat(thrown).isInstanceOf(LeakyException.class)
        .hasMessageContaining("failed to reach")
        .hasMessageContaining("[key k2]");
    assertThat(thrown.getCause()).hasMessageContaining("socket to");
    assertThat(thrown.getSuppressed()).hasSize(1);
    assertNoSecret(everything(thrown));
  }

  @Test
  void failuresThatCannotBeCopiedAreReplacedByARedactedIOException() throws Exception {
    OkHttpClient client = client(interceptor().policy(Pools.FAST.toBuilder().maxAttempts(1)
            .build()).keyPlacement(GeminiKeyInterceptor.KeyPlacement.QUERY).build())
        .newBuilder()
        .addNetworkInterceptor(chain -> {
          throw new OpaqueLeakyException("no route for " + chain.request().url(), null);
        })
        .build();

    Throwable thrown = catchThrowable(
        () -> client.newCall(withCallerCredentials(Pools.GENERATE)).execute());

    assertThat(thrown).isInstanceOf(IOException.class)
        .hasMessageContaining(OpaqueLeakyException.class.getName())
        .hasMessageContaining("no route for");
    assertNoSecret(everything(thrown));
  }

  @Test
  void runtimeFailuresBelowTheInterceptorAreRedactedToo() {
    OkHttpClient client = client(interceptor()
        .keyPlacement(GeminiKeyInterceptor.KeyPlacement.QUERY).build()).newBuilder()
        .addNetworkInterceptor(chain -> {
          throw new IllegalArgumentException("bad url " + chain.request().url());
        })
        .build();

    Throwable thrown = catchThrowable(
        () -> client.newCall(withCallerCredentials(Pools.GENERATE)).execute());

    assertThat(thrown).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("bad url");
    assertNoSecret(everything(thrown));
    assertThat(rotator.snapshot("k1").orElseThrow().inFlight()).isZero();
  }

  @Test
  void failuresWhileStreamingTheBodyAreRedacted() throws Exception {
    OkHttpClient client = client(interceptor()
        .keyPlacement(GeminiKeyInterceptor.KeyPlacement.QUERY).build()).newBuilder()
        .addNetworkInterceptor(chain -> {
          Response response = chain.proceed(chain.request());
          String url = chain.request().url().toString();
          ResponseBody body = response.body();
          ForwardingSource failing = new ForwardingSource(body.source()) {
            @Override
            public long read(Buffer sink, long byteCount) throws IOException {
              throw new IOException("stream reset reading " + url);
            }
          };
          return response.newBuilder()
              .body(ResponseBody.create(Okio.buffer(failing), body.contentType(), -1))
              .build();
        })
        .build();
    server.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));

    try (Response response = client.newCall(withCallerCredentials(Pools.GENERATE)).execute()) {
      Throwable thrown = catchThrowable(() -> response.body().string());
      assertThat(thrown).isInstanceOf(IOException.class).hasMessageContaining("[key k1]");
      assertNoSecret(everything(thrown));
    }
  }

  @Test
  void noKeyAvailableExceptionNamesNoSecret() {
    OkHttpClient client = client(interceptor()
        .noKeyBehavior(GeminiKeyInterceptor.NoKeyBehavior.THROW).build());
    rotator.disable("k1");
    rotator.disable("k2");

    Throwable thrown = catchThrowable(
        () -> client.newCall(withCallerCredentials(Pools.GENERATE)).execute());

    assertThat(thrown).isInstanceOf(NoKeyAvailableIOException.class);
    assertNoSecret(everything(thrown));
  }

  // ---------------------------------------------------------------------------------------------
  // Logs

  @Test
  void debugLogsNameKeysByIdOnly() throws Exception {
    // src/test/resources/simplelogger.properties turns on debug for this package; slf4j-simple
    // looks System.err up on every write, so swapping it captures the interceptor's lines.
    PrintStream original = System.err;
    ByteArrayOutputStream captured = new ByteArrayOutputStream();
    System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
    try {
      OkHttpClient client = client(interceptor()
          .keyPlacement(GeminiKeyInterceptor.KeyPlacement.QUERY).build());
      server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
      server.enqueue(json(400, Fixtures.geminiError("400-api-key-invalid")));
      client.newCall(withCallerCredentials(Pools.GENERATE)).execute().close();
      client.newCall(withCallerCredentials(Pools.GENERATE)).execute().close();
    } finally {
      System.setErr(original);
    }
    String logs = captured.toString(StandardCharsets.UTF_8);
    assertThat(logs).contains("k1").contains("k2"); // the capture worked
    assertNoSecret(logs);
    assertThat(SecretScanner.of(CALLER_SECRET).findings(logs)).as("the caller's credential")
        .isEmpty();
  }
}
