package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.testsupport.Eventually;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockResponseBody;
import okio.BufferedSink;
import okio.BufferedSource;
import okio.Okio;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A client that goes away mid-request: the proxy must abort its upstream call at once (freeing
 * the upstream connection and the key lease) and must not blame the key for it.
 */
class ClientDisconnectTest {

  static final String BODY = "{\"contents\":[]}";

  Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  /** Opens a raw connection, sends one POST and returns the socket (still open). */
  Socket sendPost(String path) throws IOException {
    Socket s = new Socket("127.0.0.1", h.proxy.port());
    s.setSoTimeout(10_000);
    OutputStream out = s.getOutputStream();
    out.write(("POST " + path + " HTTP/1.1\r\nHost: x\r\nx-goog-api-key: " + Harness.TOKEN
        + "\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length() + "\r\n\r\n"
        + BODY).getBytes(StandardCharsets.UTF_8));
    out.flush();
    return s;
  }

  int inFlight() {
    return h.proxy.rotator().snapshot().stream().mapToInt(KeySnapshot::inFlight).sum();
  }

  void assertKeysHealthyAndUnblamed() {
    List<KeySnapshot> keys = h.proxy.rotator().snapshot();
    for (KeySnapshot k : keys) {
      assertThat(k.state()).as(k.id()).isEqualTo(KeyState.HEALTHY);
      assertThat(k.failures()).as(k.id() + " failures").isZero();
      assertThat(k.inFlight()).as(k.id() + " in flight").isZero();
    }
  }

  /**
   * An upstream body that writes one small event every 20 ms for up to 15 s and counts down
   * {@code closed} when a write fails: the upstream saw its connection go away.
   */
  static MockResponseBody tickingBody(CountDownLatch started, CountDownLatch closed) {
    return new MockResponseBody() {
      @Override
      public long getContentLength() {
        return 10_000_000; // more than 15 s of ticks: the stream never ends on its own
      }

      @Override
      public void writeTo(BufferedSink sink) throws IOException {
        started.countDown();
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        try {
          while (System.nanoTime() < end) {
            sink.writeUtf8("data: {\"tick\":true}\n\n");
            sink.flush();
            Thread.sleep(20);
          }
        } catch (IOException e) {
          closed.countDown();
          throw e;
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    };
  }

  @Test
  void aClientLeavingBeforeUpstreamHeadersAbortsTheUpstreamCallAndFreesTheLease()
      throws Exception {
    h = new Harness("");
    CountDownLatch started = new CountDownLatch(1);
    CountDownLatch upstreamSawClose = new CountDownLatch(1);
    // Upstream holds its headers for 5 s, then streams; its writes fail once the proxy has
    // closed the connection.
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .headersDelay(5, TimeUnit.SECONDS)
        .body(tickingBody(started, upstreamSawClose)).build());

    long t0 = System.nanoTime();
    try (Socket s = sendPost("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")) {
      assertThat(h.upstream.takeRequest(5, TimeUnit.SECONDS)).isNotNull();
      Eventually.until(Duration.ofMillis(5_000), "lease taken", () -> inFlight() == 1);
    }
    // The lease is given back long before the upstream would have answered.
    Eventually.until(Duration.ofMillis(3_000), "lease released after the client left",
        () -> inFlight() == 0);
    assertThat(System.nanoTime() - t0).isLessThan(TimeUnit.SECONDS.toNanos(4));
    assertKeysHealthyAndUnblamed();
    assertThat(upstreamSawClose.await(10, TimeUnit.SECONDS))
        .as("upstream saw its connection closed").isTrue();
    assertKeysHealthyAndUnblamed();
    assertThat(h.upstream.getRequestCount()).as("no retry for a client that left").isEqualTo(1);
  }

  @Test
  void aClientLeavingMidStreamAbortsTheUpstreamStreamPromptly() throws Exception {
    h = new Harness("");
    CountDownLatch upstreamSawClose = new CountDownLatch(1);
    // A slow stream: one event, then silence for up to 15 s while the upstream waits to see its
    // connection closed (a read returning end of stream or failing).
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .removeHeader("Content-Length").addHeader("Transfer-Encoding", "chunked")
        .socketHandler(socket -> {
          try {
            BufferedSink sink = Okio.buffer(socket.getSink());
            String event = "data: {\"tick\":true}\n\n";
            sink.writeUtf8(Integer.toHexString(event.length()) + "\r\n" + event + "\r\n");
            sink.flush();
            BufferedSource source = Okio.buffer(socket.getSource());
            source.timeout().timeout(15, TimeUnit.SECONDS);
            if (source.exhausted()) upstreamSawClose.countDown();
          } catch (IOException e) {
            upstreamSawClose.countDown();
          }
        }).build());

    try (Socket s = sendPost("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")) {
      InputStream in = s.getInputStream();
      byte[] buf = new byte[4096];
      StringBuilder seen = new StringBuilder();
      while (!seen.toString().contains("tick")) {
        int n = in.read(buf);
        assertThat(n).isPositive();
        seen.append(new String(buf, 0, n, StandardCharsets.UTF_8));
      }
      assertThat(seen.toString()).startsWith("HTTP/1.1 200");
    }
    assertThat(upstreamSawClose.await(3, TimeUnit.SECONDS))
        .as("upstream stream aborted promptly").isTrue();
    Eventually.until(Duration.ofMillis(3_000), "lease released", () -> inFlight() == 0);
    assertKeysHealthyAndUnblamed();
    assertThat(h.upstream.getRequestCount()).isEqualTo(1);
  }

  /** Reads one response with a Content-Length body from a raw connection: "status body". */
  static String readResponse(InputStream in) throws IOException {
    java.io.ByteArrayOutputStream head = new java.io.ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) return head.size() == 0 ? null : "truncated " + head;
      head.write(b);
    }
    String headers = head.toString(StandardCharsets.ISO_8859_1);
    java.util.regex.Matcher m = java.util.regex.Pattern
        .compile("(?i)content-length: *(\\d+)").matcher(headers);
    assertThat(m.find()).as(headers).isTrue();
    byte[] body = in.readNBytes(Integer.parseInt(m.group(1)));
    return headers.substring(9, 12) + " " + new String(body, StandardCharsets.UTF_8);
  }

  @Test
  void aKeptAliveConnectionServesRequestAfterRequestWhileWatched() throws Exception {
    h = new Harness("");
    int n = 40;
    for (int i = 0; i < n; i++) h.enqueue(200, "{\"n\":" + i + "}");
    try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(10_000);
      InputStream in = s.getInputStream();
      for (int i = 0; i < n; i++) {
        // The next request follows the moment the previous response is read.
        s.getOutputStream().write(("POST /v1beta/models/m:generateContent HTTP/1.1\r\nHost: x"
            + "\r\nx-goog-api-key: " + Harness.TOKEN + "\r\nContent-Length: " + BODY.length()
            + "\r\n\r\n" + BODY).getBytes(StandardCharsets.UTF_8));
        assertThat(readResponse(in)).as("response " + i).isEqualTo("200 {\"n\":" + i + "}");
      }
    }
    assertThat(inFlight()).isZero();
  }

  @Test
  void aPipelinedRequestArrivingWhileTheFirstWaitsEndsTheConnectionAfterTheFirstResponse()
      throws Exception {
    h = new Harness("");
    h.upstream.enqueue(new MockResponse.Builder().code(200).body("{\"first\":1}")
        .headersDelay(500, TimeUnit.MILLISECONDS).build());
    h.enqueue(200, "{\"second\":2}");
    try (Socket s = sendPost("/v1beta/models/m:generateContent")) {
      assertThat(h.upstream.takeRequest(5, TimeUnit.SECONDS)).isNotNull();
      s.getOutputStream().write(("POST /v1beta/models/m:generateContent HTTP/1.1\r\nHost: x"
          + "\r\nx-goog-api-key: " + Harness.TOKEN + "\r\nContent-Length: " + BODY.length()
          + "\r\n\r\n" + BODY).getBytes(StandardCharsets.UTF_8));
      InputStream in = s.getInputStream();
      assertThat(readResponse(in)).isEqualTo("200 {\"first\":1}");
      // Either the second is answered too, or the connection ends: it never hangs.
      String next = readResponse(in);
      assertThat(next).isIn(null, "200 {\"second\":2}");
    }
    Eventually.until(Duration.ofMillis(3_000), "leases released", () -> inFlight() == 0);
    assertKeysHealthyAndUnblamed();
  }
}
