package dev.geminirotator.standalone.reliability;

import static dev.geminirotator.standalone.Harness.TOKEN;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.standalone.Harness;
import dev.geminirotator.standalone.Harness.Yaml;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.net.ConnectException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Shutdown while requests are in flight and more keep coming: none is silently dropped. */
@ExtendWith(SecretScan.class)
class ShutdownUnderLoadTest {

  Harness f;

  @AfterEach
  void stop() {
    if (f != null) f.close();
  }

  CompletableFuture<HttpResponse<String>> send(HttpClient client) {
    return client.sendAsync(f.request(Harness.GENERATE).header("x-goog-api-key", TOKEN)
        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  /** What became of one request: a status, or the exception's class, or "hung". */
  static String outcome(CompletableFuture<HttpResponse<String>> future) throws Exception {
    try {
      HttpResponse<String> r = future.get(15, TimeUnit.SECONDS);
      return Integer.toString(r.statusCode());
    } catch (TimeoutException e) {
      return "hung";
    } catch (ExecutionException e) {
      return e.getCause().getClass().getSimpleName();
    }
  }

  @Test
  void everyRequestInFlightAtShutdownCompletesAndLaterOnesGetACleanAnswer() throws Exception {
    f = Harness.start(Yaml.keys(2).server("  drain-timeout: 5s\n  idle-timeout: 5s\n"));
    String answer = Fixtures.geminiResponse("generate-content.json");
    f.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return new MockResponse.Builder().code(200).body(answer)
            .addHeader("Content-Type", "application/json")
            .headersDelay(400, TimeUnit.MILLISECONDS).build();
      }
    });
    HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
        .connectTimeout(Duration.ofSeconds(5)).build();

    int inFlightCount = 12;
    List<CompletableFuture<HttpResponse<String>>> inFlight = new ArrayList<>();
    for (int i = 0; i < inFlightCount; i++) inFlight.add(send(client));
    Eventually.until("all requests in flight upstream",
        () -> f.upstream.getRequestCount() >= inFlightCount);

    // A client with a kept-alive connection that it uses again during the drain.
    java.net.Socket kept = new java.net.Socket("127.0.0.1", f.port);
    kept.setSoTimeout(10_000);
    kept.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n".getBytes());
    byte[] first = new byte[4096];
    int firstRead = kept.getInputStream().read(first);
    assertThat(new String(first, 0, firstRead)).startsWith("HTTP/1.1 200");

    // A second kept-alive connection, the probe that tells when the drain is in force.
    Harness.KeptConnection probe = f.keepAlive();
    Thread closer = new Thread(f.proxy::close, "closer");
    closer.start();
    probe.awaitDraining();
    probe.close();
    kept.getOutputStream().write(("POST " + Harness.GENERATE + " HTTP/1.1\r\nHost: x\r\n"
        + "x-goog-api-key: " + TOKEN + "\r\nContent-Length: 2\r\n\r\n{}").getBytes());
    String keptAnswer;
    try {
      keptAnswer = new String(kept.getInputStream().readAllBytes(),
          java.nio.charset.StandardCharsets.ISO_8859_1);
    } catch (java.net.SocketException e) {
      keptAnswer = "reset";
    }
    kept.close();
    // Used again during the drain, a kept-alive connection gets a clean 503 and is closed.
    assertThat(keptAnswer).startsWith("HTTP/1.1 503").contains("application/json")
        .containsIgnoringCase("Retry-After: 1")
        .contains("Connection: close");
    List<CompletableFuture<HttpResponse<String>>> later = new ArrayList<>();
    for (int i = 0; i < 10; i++) {
      // New connections, as new clients would open them while the proxy stops.
      later.add(send(HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(5)).build()));
      Thread.sleep(20);
    }

    for (CompletableFuture<HttpResponse<String>> r : inFlight) {
      assertThat(outcome(r)).isEqualTo("200");
      assertThat(r.get().body()).isEqualTo(answer);
    }
    List<String> laterOutcomes = new ArrayList<>();
    int servedLater = 0;
    for (CompletableFuture<HttpResponse<String>> r : later) {
      String o = outcome(r);
      laterOutcomes.add(o);
      if (o.equals("200")) {
        servedLater++;
        assertThat(r.get().body()).isEqualTo(answer);
      }
      if (o.equals("503")) {
        assertThat(r.get().headers().firstValue("Content-Type")).isPresent();
      }
    }
    // A later request is served, refused with a 503, or cannot connect: never left hanging.
    assertThat(laterOutcomes).allMatch(o -> o.equals("200") || o.equals("503")
        || o.equals(ConnectException.class.getSimpleName()), "clean outcomes");
    closer.join(10_000);
    assertThat(closer.isAlive()).isFalse();
    // Every answer the upstream gave reached a client: nothing was dropped on the floor.
    assertThat(f.upstream.getRequestCount()).isEqualTo(inFlightCount + servedLater);
  }
}
