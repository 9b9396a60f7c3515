package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.config.ConfigException;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.testsupport.Eventually;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14, item 6: a connection cannot be held by an h2c preface without a stream, nor by a body
 * trickled slowly enough to dodge the idle timeout; and {@code server.max-connections} bounds the
 * connections open at once, refusing the rest at accept. Real sockets, short configured
 * deadlines, generous waits for the signal.
 */
class ClientDeadlinesTest {

  /** The HTTP/2 connection preface and an empty SETTINGS frame. */
  private static final byte[] H2_PREFACE = concat(
      "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII),
      new byte[] {0, 0, 0, 4, 0, 0, 0, 0, 0});

  private Harness h;
  private final List<Socket> sockets = new ArrayList<>();

  @AfterEach
  void stop() throws IOException {
    for (Socket s : sockets) s.close();
    if (h != null) h.close();
  }

  @Test
  void anH2cPrefaceWithoutAStreamIsClosedAfterTheHeaderTimeout() throws Exception {
    // The idle timeout (which alone bounded such a connection, twice over) is far away.
    h = new Harness(Harness.withServer("  header-timeout: 500ms\n  idle-timeout: 60s\n"),
        Map.of());
    try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(15_000); // the failure: still open when this runs out
      s.getOutputStream().write(H2_PREFACE);
      s.getOutputStream().flush();
      assertThat(readToEnd(s.getInputStream())).as("the proxy closed the connection").isTrue();
    }
  }

  @Test
  void anH2cConnectionThatOpensAStreamInTimeIsServed() throws Exception {
    h = new Harness(Harness.withServer("  header-timeout: 500ms\n"), Map.of());
    var client = new okhttp3.OkHttpClient.Builder()
        .protocols(List.of(okhttp3.Protocol.H2_PRIOR_KNOWLEDGE)).build();
    try (okhttp3.Response r = client.newCall(new okhttp3.Request.Builder()
        .url("http://127.0.0.1:" + h.proxy.port() + "/health").build()).execute()) {
      assertThat(r.code()).isEqualTo(200);
      assertThat(r.protocol()).isEqualTo(okhttp3.Protocol.H2_PRIOR_KNOWLEDGE);
    } finally {
      client.dispatcher().executorService().shutdownNow();
      client.connectionPool().evictAll();
    }
  }

  @Test
  void aBodyTrickledFastEnoughToDodgeTheIdleTimeoutGets408() throws Exception {
    h = new Harness(Harness.withServer(
        "  idle-timeout: 5s\n  body-timeout: 500ms\n  body-min-rate: 1KB\n"), Map.of());
    try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(15_000); // the failure: no answer while the trickle goes on (200 s)
      OutputStream out = s.getOutputStream();
      out.write(("POST /v1beta/models/gemini-2.5-flash:generateContent HTTP/1.1\r\n"
          + "Host: 127.0.0.1\r\nx-goog-api-key: " + Harness.TOKEN + "\r\n"
          + "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread trickle = new Thread(() -> {
        try {
          for (int i = 0; i < 1000; i++) { // one byte each 200 ms: never idle for 5 s
            out.write(' ');
            out.flush();
            Thread.sleep(200);
          }
        } catch (IOException | InterruptedException e) {
          // closed after the 408: expected
        }
      }, "trickle");
      trickle.setDaemon(true);
      trickle.start();
      String answer = readHead(s.getInputStream());
      trickle.interrupt();
      assertThat(answer).startsWith("HTTP/1.1 408").contains("connection: close");
    }
    assertThat(h.upstream.getRequestCount()).isZero();
    Eventually.until("the budget back to zero", () -> h.proxy.bodyBudget().used() == 0);
  }

  @Test
  void connectionsPastMaxConnectionsAreClosedAtAcceptUntilOneFreesUp() throws Exception {
    h = new Harness(Harness.withServer("  max-connections: 2\n"), Map.of());
    Socket first = keptAlive();
    keptAlive();
    Eventually.until("two connections counted", () -> h.proxy.clientConnections() == 2);

    try (Socket third = new Socket("127.0.0.1", h.proxy.port())) {
      third.setSoTimeout(15_000);
      try {
        third.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII));
        third.getOutputStream().flush();
        assertThat(third.getInputStream().read()).as("refused: closed without an answer")
            .isEqualTo(-1);
      } catch (SocketException reset) {
        // refused: closed (and reset, as the request was unread) without an answer
      }
    }
    assertThat(h.proxy.clientConnections()).isEqualTo(2);

    first.close();
    Eventually.until("a connection freed", () -> h.proxy.clientConnections() == 1);
    var metrics = h.get("/metrics");
    assertThat(metrics.statusCode()).isEqualTo(200);
    assertThat(metrics.body()).containsPattern(
        "(?m)^gemini_proxy_connections_refused_total(\\{[^}]*})? [1-9]");
  }

  @Test
  void theNewLimitsAreValidated(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, "keys: [AIzaSyTEST-pool-key-one-0000000001]\n"
        + "server:\n  max-connections: 0\n  body-timeout: -1s\n  body-min-rate: fast\n");
    assertThatThrownBy(() -> StandaloneConfig.load(file, Map.of(),
        StandaloneConfig.Overrides.NONE))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.max-connections must be >= 1 but was 0")
        .hasMessageContaining("server.body-timeout")
        .hasMessageContaining("server.body-min-rate");
    Files.writeString(file, "keys: [AIzaSyTEST-pool-key-one-0000000001]\n"
        + "server:\n  max-connections: 3\n  body-timeout: 0s\n  body-min-rate: 0\n");
    StandaloneConfig config = StandaloneConfig.load(file, Map.of(),
        StandaloneConfig.Overrides.NONE);
    assertThat(config.server().maxConnections()).isEqualTo(3);
    assertThat(config.server().bodyTimeout()).isZero();
    assertThat(config.server().bodyMinRate()).isZero();
  }

  /** A connection that has had a request answered, and stays open. */
  private Socket keptAlive() throws IOException {
    Socket s = new Socket("127.0.0.1", h.proxy.port());
    sockets.add(s);
    s.setSoTimeout(15_000);
    s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        .getBytes(StandardCharsets.US_ASCII));
    s.getOutputStream().flush();
    assertThat(readHead(s.getInputStream())).startsWith("HTTP/1.1 200");
    return s;
  }

  /** Reads until the end of the stream; true if it ended (a reset counts as an end). */
  private static boolean readToEnd(InputStream in) throws IOException {
    byte[] buf = new byte[4096];
    try {
      while (in.read(buf) != -1) {
        // the proxy's SETTINGS and the like
      }
    } catch (SocketException reset) {
      return true;
    }
    return true;
  }

  /** The response head, lower-cased. */
  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    for (int b; matched < 4 && (b = in.read()) != -1; ) {
      head.write(b);
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return head.toString(StandardCharsets.US_ASCII).toLowerCase(java.util.Locale.ROOT)
        .replaceFirst("^http", "HTTP");
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = new byte[a.length + b.length];
    System.arraycopy(a, 0, out, 0, a.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
