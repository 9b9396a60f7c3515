package dev.geminirotator.standalone.reliability;

import static dev.geminirotator.standalone.Harness.GENERATE;
import static dev.geminirotator.standalone.Harness.KEYS;
import static dev.geminirotator.standalone.Harness.STREAM;
import static dev.geminirotator.standalone.Harness.TOKEN;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.standalone.Harness;
import dev.geminirotator.standalone.Harness.Yaml;
import dev.geminirotator.testsupport.Eventually;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import okhttp3.Call;
import okhttp3.Connection;
import okhttp3.ConnectionPool;
import okhttp3.EventListener;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.internal.connection.RealConnection;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Clients that speak HTTP/2 over cleartext with prior knowledge: each stream is proxied like an
 * HTTP/1.1 request (credential swapped, streamed answers), and many streams share one connection.
 * OkHttp as the HTTP/2 client, over real sockets.
 */
class Http2PriorKnowledgeTest {

  private static final MediaType JSON = MediaType.get("application/json");
  private Harness f;
  private OkHttpClient client;

  @AfterEach
  void stop() {
    if (client != null) {
      client.dispatcher().executorService().shutdownNow();
      client.connectionPool().evictAll();
    }
    if (f != null) f.close();
  }

  /** Every connection the client's calls used, in order. */
  private final List<Connection> connections = new CopyOnWriteArrayList<>();

  private OkHttpClient h2c() {
    client = new OkHttpClient.Builder().protocols(List.of(Protocol.H2_PRIOR_KNOWLEDGE))
        .connectionPool(new ConnectionPool(1, 1, TimeUnit.MINUTES))
        .eventListener(new EventListener() {
          @Override
          public void connectionAcquired(Call call, Connection connection) {
            connections.add(connection);
          }
        })
        .readTimeout(10, TimeUnit.SECONDS).build();
    return client;
  }

  private Request post(String path, String body) {
    return new Request.Builder().url("http://127.0.0.1:" + f.port + path)
        .header("x-goog-api-key", TOKEN).post(RequestBody.create(body, JSON)).build();
  }

  @Test
  void aGenerateCallAndAStreamGoThroughWithThePoolKeyInsteadOfTheToken() throws Exception {
    f = Harness.start(Yaml.keys(2));
    f.enqueue(200, "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}]}}]}");
    f.upstream.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body("data: {\"n\":1}\r\n\r\ndata: {\"n\":2}\r\n\r\n").build());
    OkHttpClient c = h2c();
    try (Response r = c.newCall(post(GENERATE, "{\"contents\":[]}")).execute()) {
      assertThat(r.protocol()).isEqualTo(Protocol.H2_PRIOR_KNOWLEDGE);
      assertThat(r.code()).isEqualTo(200);
      assertThat(r.body().string()).contains("\"hi\"");
      assertThat(r.header("X-Request-Id")).isNotBlank();
    }
    try (Response r = c.newCall(post(STREAM, "{\"contents\":[]}")).execute()) {
      assertThat(r.code()).isEqualTo(200);
      assertThat(r.body().string()).contains("{\"n\":1}").contains("{\"n\":2}");
    }
    for (int i = 0; i < 2; i++) {
      RecordedRequest seen = f.upstream.takeRequest(5, TimeUnit.SECONDS);
      assertThat(KEYS).contains(seen.getHeaders().get("x-goog-api-key"));
      assertThat(seen.getHeaders().names()).noneMatch(n -> n.toLowerCase().startsWith("x-http2"));
      assertThat(seen.getBody().utf8()).isEqualTo("{\"contents\":[]}");
    }
  }

  @Test
  void manyConcurrentStreamsShareOneConnection() throws Exception {
    f = Harness.start(Yaml.keys(2));
    f.upstream.setDispatcher(answersAfter(200));
    OkHttpClient c = h2c();
    // One call first: calls racing on a client with no connection yet may each open one.
    try (Response r = c.newCall(post(GENERATE, "{}")).execute()) {
      assertThat(r.code()).isEqualTo(200);
    }
    List<CompletableFuture<Integer>> calls = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      calls.add(CompletableFuture.supplyAsync(() -> {
        try (Response r = c.newCall(post(GENERATE, "{}")).execute()) {
          return r.code();
        } catch (java.io.IOException e) {
          return -1;
        }
      }, c.dispatcher().executorService()));
    }
    for (CompletableFuture<Integer> call : calls) assertThat(call.get(20, TimeUnit.SECONDS))
        .isEqualTo(200);
    assertThat(c.connectionPool().connectionCount()).isEqualTo(1);
    assertThat(f.upstream.getRequestCount()).isEqualTo(41);
  }

  @Test
  void aStreamWhoseBodyStallsGetsA408AfterTheIdleTimeoutAndNeverGoesUpstream() throws Exception {
    f = Harness.start(Yaml.keys(2).server("  drain-timeout: 3s\n  idle-timeout: 1s\n"));
    f.enqueue(200, "{\"candidates\":[]}");
    RequestBody stalling = new RequestBody() {
      @Override
      public MediaType contentType() {
        return JSON;
      }

      @Override
      public void writeTo(okio.BufferedSink sink) throws java.io.IOException {
        sink.writeUtf8("{\"contents\":");
        sink.flush();
        try {
          Thread.sleep(3_000); // three idle timeouts with nothing sent
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        sink.writeUtf8("[]}");
      }
    };
    Request request = new Request.Builder().url("http://127.0.0.1:" + f.port + GENERATE)
        .header("x-goog-api-key", TOKEN).post(stalling).build();
    String outcome;
    try (Response r = h2c().newCall(request).execute()) {
      outcome = Integer.toString(r.code());
    } catch (okhttp3.internal.http2.StreamResetException e) {
      outcome = "reset"; // the proxy ended the stream; OkHttp may report that rather than the 408
    }
    assertThat(outcome).isIn("408", "reset");
    assertThat(f.upstream.getRequestCount()).isZero();
  }

  @Test
  void drainingSendsGoAwaySoNewStreamsGoElsewhereWhileOpenOnesFinish() throws Exception {
    // The open stream's answer comes 3 s after it reaches the upstream, within the 10 s drain.
    f = Harness.start(Yaml.keys(2).server("  drain-timeout: 10s\n  idle-timeout: 5s\n"));
    f.upstream.setDispatcher(answersAfter(3000));
    OkHttpClient c = h2c();
    CompletableFuture<Integer> open = CompletableFuture.supplyAsync(() -> {
      try (Response r = c.newCall(post(GENERATE, "{}")).execute()) {
        return r.code();
      } catch (java.io.IOException e) {
        return -1;
      }
    });
    Eventually.until("the stream reached the upstream",
        () -> f.upstream.getRequestCount() == 1 && !connections.isEmpty());
    Connection first = connections.get(0);
    Thread closer = new Thread(f.proxy::close, "closer");
    closer.start();
    // The GOAWAY reaches the client: OkHttp marks the connection unfit for new streams.
    Eventually.until("the client receives the proxy's GOAWAY",
        () -> !((RealConnection) first).isHealthy(false));
    // ... while the open stream still runs: sent at the start of the drain, not at its end when
    // the connection closes.
    assertThat(open).as("the open stream when the GOAWAY arrived").isNotDone();
    String later;
    try (Response r = c.newCall(post(GENERATE, "{}")).execute()) {
      later = Integer.toString(r.code()); // a new stream on the old connection: no GOAWAY seen
    } catch (java.io.IOException e) {
      later = "refused"; // told to go away, the client opened a new connection: refused
    }
    assertThat(later).isEqualTo("refused");
    assertThat(open.get(10, TimeUnit.SECONDS)).as("the open stream finished").isEqualTo(200);
    closer.join(10_000);
    assertThat(f.upstream.getRequestCount()).isEqualTo(1);
  }

  @Test
  void aStreamWithoutAValidTokenGetsTheProblemDocument() throws Exception {
    f = Harness.start(Yaml.keys(2));
    OkHttpClient c = h2c();
    Request bad = new Request.Builder().url("http://127.0.0.1:" + f.port + GENERATE)
        .header("x-goog-api-key", "not-a-token").post(RequestBody.create("{}", JSON)).build();
    try (Response r = c.newCall(bad).execute()) {
      assertThat(r.code()).isEqualTo(403);
      assertThat(r.header("Content-Type")).isEqualTo("application/json; charset=utf-8");
      assertThat(r.body().string()).contains("\"PERMISSION_DENIED\"");
    }
    assertThat(f.upstream.getRequestCount()).isZero();
  }

  /** An upstream answering every request 200 with an empty candidates list after {@code millis}. */
  private static Dispatcher answersAfter(long millis) {
    return new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(200).addHeader("Content-Type", "application/json")
            .body("{\"candidates\":[]}").headersDelay(millis, TimeUnit.MILLISECONDS).build();
      }
    };
  }
}
