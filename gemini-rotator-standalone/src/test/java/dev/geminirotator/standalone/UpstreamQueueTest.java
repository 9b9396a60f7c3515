package dev.geminirotator.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.geminirotator.testsupport.Eventually;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.junit.jupiter.api.Test;

/**
 * More concurrent requests than upstream connections wait for a connection instead of failing:
 * Jetty's HttpClient rejects requests past 1,024 queued per destination unless told otherwise,
 * which turned a burst of streams into 502s and an open breaker.
 */
class UpstreamQueueTest {

  private static final int REQUESTS = 1_100;

  @Test
  void requestsBeyondJettysDefaultQueueWaitForAnUpstreamConnection() throws Exception {
    // A fast Jetty upstream whose first answer waits until every request reached the proxy, so
    // the others queue behind the one upstream connection the proxy may open.
    CountDownLatch release = new CountDownLatch(1);
    AtomicBoolean first = new AtomicBoolean(true);
    AtomicInteger served = new AtomicInteger();
    Server upstream = new Server();
    ServerConnector connector = new ServerConnector(upstream);
    connector.setHost("127.0.0.1");
    upstream.addConnector(connector);
    upstream.setHandler(new Handler.Abstract() {
      @Override
      public boolean handle(Request request, Response response, Callback callback)
          throws Exception {
        if (first.getAndSet(false)) release.await(30, TimeUnit.SECONDS);
        served.incrementAndGet();
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/json");
        response.write(true, ByteBuffer.wrap("{\"candidates\":[]}".getBytes(
            StandardCharsets.UTF_8)), callback);
        return true;
      }
    });
    upstream.start();
    String yaml = Harness.defaultYaml().replace("  base-url: ${UPSTREAM}\n",
        "  base-url: http://127.0.0.1:" + connector.getLocalPort() + "\n  max-connections: 1\n");
    try (Harness h = new Harness(yaml, Map.of())) {
      HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
          .connectTimeout(Duration.ofSeconds(10)).build();
      List<CompletableFuture<HttpResponse<String>>> calls = new ArrayList<>();
      for (int i = 0; i < REQUESTS; i++) {
        HttpRequest request = h.request("/v1beta/models/gemini-2.5-flash:generateContent")
            .timeout(Duration.ofSeconds(60))
            .header("x-goog-api-key", Harness.TOKEN).header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString("{\"contents\":[]}")).build();
        calls.add(client.sendAsync(request, HttpResponse.BodyHandlers.ofString()));
      }
      Eventually.until("every request in flight in the proxy",
          () -> requestsInFlight(h) >= REQUESTS);
      // Every request waits in the proxy at once (past the old 1,024 limit) before any is served.
      assertEquals(REQUESTS, h.requestsInFlight(), "requests waiting in the proxy before release");
      release.countDown();

      Map<Integer, Integer> statuses = new TreeMap<>();
      for (CompletableFuture<HttpResponse<String>> call : calls) {
        statuses.merge(call.get(60, TimeUnit.SECONDS).statusCode(), 1, Integer::sum);
      }
      assertEquals(Map.of(200, REQUESTS), statuses);
      assertEquals(REQUESTS, served.get());
    } finally {
      release.countDown();
      upstream.stop();
    }
  }

  private static int requestsInFlight(Harness h) {
    try {
      return h.requestsInFlight();
    } catch (Exception e) {
      throw new IllegalStateException(e);
    }
  }
}
