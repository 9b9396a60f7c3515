package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Eventually;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import okhttp3.Call;
import okhttp3.ConnectionPool;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okio.BufferedSink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 14, item 2: no route reads a byte of a request body before it has authenticated the
 * request. The clients here announce a large body and send none: an answer proves the proxy did
 * not wait for (or buffer) the body first. Before the fix {@code /admin/**} read up to 1 MB of
 * body per request (HTTP/1.1 connection or h2c stream) before looking at the token.
 */
class AuthenticateBeforeBodyTest {

  private static final String ADMIN_KEYS = "/admin/keys";
  private static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";

  private Harness h;
  private OkHttpClient client;

  @AfterEach
  void stop() {
    if (client != null) {
      client.dispatcher().executorService().shutdownNow();
      client.connectionPool().evictAll();
    }
    if (h != null) h.close();
  }

  @Test
  void adminRequestsWithoutTheTokenAreRefusedBeforeTheirBodyIsSent() throws Exception {
    h = new Harness("");
    assertThat(statusBeforeBody(post(ADMIN_KEYS, 900_000))).isEqualTo(401);
    assertThat(statusBeforeBody(post(ADMIN_KEYS, 900_000,
        "Authorization: Bearer not-the-admin-token"))).isEqualTo(403);
    assertThat(statusBeforeBody(post("/admin/reload", 50_000_000))).isEqualTo(401);
    assertThat(h.proxy.bodyBudget().used()).isZero();
  }

  @Test
  void adminRoutesAnswer404WithoutReadingTheBodyWhenTheAdminApiIsOff() throws Exception {
    h = new Harness(Harness.yamlWithout("admin"), Map.of());
    assertThat(statusBeforeBody(post(ADMIN_KEYS, 900_000,
        "Authorization: Bearer " + Harness.ADMIN))).isEqualTo(404);
  }

  @Test
  void proxiedRequestsWithoutAnAccessTokenAreRefusedBeforeTheirBodyIsSent() throws Exception {
    h = new Harness("");
    assertThat(statusBeforeBody(post(GENERATE, 19_000_000))).isEqualTo(401);
    assertThat(statusBeforeBody(post(GENERATE, 19_000_000,
        "x-goog-api-key: not-a-token-of-this-proxy"))).isEqualTo(403);
    assertThat(h.proxy.bodyBudget().used()).isZero();
  }

  @Test
  void anAuthenticatedAdminRequestStillHasItsBodyRead() throws Exception {
    h = new Harness("");
    var response = h.admin("POST", ADMIN_KEYS,
        "{\"keys\":[{\"secret\":\"AIzaSyTEST-added-at-run-time-0000009\",\"id\":\"k9\"}]}");
    assertThat(response.statusCode()).isEqualTo(201);
    assertThat(response.body()).contains("\"k9\"");
  }

  @Test
  void h2cStreamsWithoutTheAdminTokenAreRefusedBeforeTheirBodies() throws Exception {
    h = new Harness("");
    client = new OkHttpClient.Builder().protocols(List.of(Protocol.H2_PRIOR_KNOWLEDGE))
        .connectionPool(new ConnectionPool(1, 1, TimeUnit.MINUTES))
        .readTimeout(10, TimeUnit.SECONDS).build();
    // Many streams on one connection, each announcing a body it never sends: every one answered.
    List<HeldBody> bodies = new ArrayList<>();
    List<Call> calls = new ArrayList<>();
    for (int i = 0; i < 20; i++) {
      HeldBody body = new HeldBody();
      bodies.add(body);
      calls.add(client.newCall(new Request.Builder()
          .url("http://127.0.0.1:" + h.proxy.port() + ADMIN_KEYS)
          .header("Authorization", i % 2 == 0 ? "Bearer wrong-admin-token" : "Basic eDp5")
          .post(body).build()));
    }
    try {
      for (int i = 0; i < calls.size(); i++) {
        try (Response r = calls.get(i).execute()) {
          assertThat(r.protocol()).isEqualTo(Protocol.H2_PRIOR_KNOWLEDGE);
          assertThat(r.code()).as("stream %d", i).isEqualTo(i % 2 == 0 ? 403 : 401);
        }
      }
    } finally {
      for (HeldBody b : bodies) b.close();
    }
    assertThat(h.proxy.bodyBudget().used()).isZero();
  }

  @Test
  void aPipelinedBodyWaitingForItsTurnIsNotReadAhead() throws Exception {
    h = new Harness("");
    h.upstream.enqueue(new mockwebserver3.MockResponse.Builder().code(200)
        .body(dev.geminirotator.testsupport.Fixtures.geminiResponse("generate-content.json"))
        .headersDelay(2, TimeUnit.SECONDS).build());
    try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(15_000);
      String token = "x-goog-api-key: " + Harness.TOKEN;
      // A request being answered (slowly), then a pipelined one with a 1 MB body.
      s.getOutputStream().write((post(GENERATE, 2, token) + "{}"
          + post(GENERATE, 1_000_000)).getBytes(StandardCharsets.US_ASCII));
      Thread writer = new Thread(() -> {
        try {
          s.getOutputStream().write(new byte[1_000_000]);
          s.getOutputStream().flush();
        } catch (IOException e) {
          // closed after the answers: fine
        }
      }, "pipelined-body");
      writer.setDaemon(true);
      writer.start();
      Eventually.until("the first request at the upstream",
          () -> h.upstream.getRequestCount() > 0);
      // While the first answer waits upstream, the second request's body is not read ahead.
      long held = 0;
      for (int i = 0; i < 50 && h.upstream.getRequestCount() == 1; i++) {
        held = Math.max(held, h.proxy.queuedBodyBytes());
        Thread.sleep(10);
      }
      assertThat(held).as("body bytes of the waiting request held").isLessThan(200_000);
      assertThat(readLine(s.getInputStream())).startsWith("HTTP/1.1 200");
    }
  }

  private static String post(String path, long contentLength, String... headers) {
    StringBuilder sb = new StringBuilder("POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        + "Content-Type: application/json\r\nContent-Length: " + contentLength + "\r\n");
    for (String header : headers) sb.append(header).append("\r\n");
    return sb.append("\r\n").toString();
  }

  /** Sends only {@code head} (its body never follows) and returns the answer's status. */
  private int statusBeforeBody(String head) throws IOException {
    try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(10_000); // an answer that needs the body never comes: this fails the test
      s.getOutputStream().write(head.getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      String line = readLine(s.getInputStream());
      assertThat(line).startsWith("HTTP/1.1 ");
      return Integer.parseInt(line.substring(9, 12));
    }
  }

  private static String readLine(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream();
    for (int b; (b = in.read()) != -1 && b != '\n'; ) line.write(b);
    return line.toString(StandardCharsets.US_ASCII).trim();
  }

  /** A duplex body that sends nothing: the stream stays open, its body never arrives. */
  private static final class HeldBody extends RequestBody {
    private BufferedSink sink;

    @Override
    public MediaType contentType() {
      return MediaType.get("application/json");
    }

    @Override
    public boolean isDuplex() {
      return true;
    }

    @Override
    public synchronized void writeTo(BufferedSink sink) {
      this.sink = sink; // held open; nothing written
    }

    synchronized void close() {
      if (sink == null) return;
      try {
        sink.close();
      } catch (IOException e) {
        // the stream was reset by the proxy's answer: nothing to close
      }
    }
  }
}
