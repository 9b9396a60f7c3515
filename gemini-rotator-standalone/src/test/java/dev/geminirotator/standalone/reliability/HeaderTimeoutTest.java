package dev.geminirotator.standalone.reliability;

import static dev.geminirotator.standalone.Harness.GENERATE;
import static dev.geminirotator.standalone.Harness.STREAM;
import static dev.geminirotator.standalone.Harness.TOKEN;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.config.ConfigException;
import dev.geminirotator.standalone.Harness;
import dev.geminirotator.standalone.Harness.Yaml;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.standalone.TestCerts;
import dev.geminirotator.testsupport.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code server.header-timeout} (issue 7): a request head must be complete within it of its
 * first byte, else the connection is closed; idle keep-alive connections, slow bodies and long
 * streams are not affected. Real sockets, header-timeout 1s, idle-timeout 5s.
 */
@ExtendWith(SecretScan.class)
class HeaderTimeoutTest {

  static final String SERVER = "  drain-timeout: 1s\n  idle-timeout: 5s\n  header-timeout: 1s\n";

  Harness f;

  @AfterEach
  void stop() {
    if (f != null) f.close();
  }

  @Test
  void aClientTricklingItsHeadIsCutOffWhileOthersAreServed() throws Exception {
    f = Harness.start(Yaml.keys(2).server(SERVER));
    byte[] head = ("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: " + "a".repeat(60) + "\r\n\r\n")
        .getBytes(StandardCharsets.US_ASCII);
    try (Socket loris = new Socket("127.0.0.1", f.port)) {
      loris.setSoTimeout(8_000); // beyond the idle timeout, which this client never lets run out
      AtomicLong firstByte = new AtomicLong();
      Thread trickle = new Thread(() -> {
        try {
          OutputStream out = loris.getOutputStream();
          firstByte.set(System.nanoTime());
          for (byte b : head) { // one byte each 300 ms: about 21 s for the whole head
            out.write(b);
            out.flush();
            Thread.sleep(300);
          }
        } catch (IOException | InterruptedException e) {
          // closed by the proxy: expected
        }
      }, "trickle");
      trickle.setDaemon(true);
      trickle.start();

      // Served meanwhile, on other connections.
      Thread.sleep(400);
      assertThat(f.get("/health").statusCode()).isEqualTo(200);
      f.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
      assertThat(f.generate().statusCode()).isEqualTo(200);

      ByteArrayOutputStream got = new ByteArrayOutputStream();
      InputStream in = loris.getInputStream();
      byte[] buf = new byte[512];
      try {
        for (int n; (n = in.read(buf)) >= 0; ) got.write(buf, 0, n);
      } catch (SocketTimeoutException e) {
        throw new AssertionError("the trickling client was not cut off within 8 s", e);
      } catch (SocketException e) {
        // reset: closed too
      }
      long millis = (System.nanoTime() - firstByte.get()) / 1_000_000;
      assertThat(millis).as("ms from the first byte to the close").isBetween(900L, 3_000L);
      assertThat(got.toString(StandardCharsets.ISO_8859_1)).doesNotContain("HTTP/1.1 200");
      trickle.interrupt();
    }
    assertThat(f.get("/health").statusCode()).isEqualTo(200);
  }

  @Test
  void keepAliveRequestsSpacedBeyondTheHeaderTimeoutAreServedOnOneConnection()
      throws Exception {
    f = Harness.start(Yaml.keys(2).server(SERVER));
    try (Socket s = new Socket("127.0.0.1", f.port)) {
      s.setSoTimeout(5_000);
      OutputStream out = s.getOutputStream();
      InputStream in = s.getInputStream();
      for (int i = 0; i < 3; i++) {
        Thread.sleep(1_500); // idle beyond the header timeout: no head started, no deadline
        // A head sent in two parts, 400 ms apart: within the deadline.
        out.write("GET /health HTTP/1.1\r\nHo".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        Thread.sleep(400);
        out.write("st: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        assertThat(readResponseHead(in)).as("request %d on the kept-alive connection", i)
            .startsWith("HTTP/1.1 200");
      }
    }
  }

  @Test
  void aSlowBodyIsNotCutByTheHeaderTimeout() throws Exception {
    f = Harness.start(Yaml.keys(2).server(SERVER));
    f.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    String body = "{\"contents\":[]}";
    try (Socket s = new Socket("127.0.0.1", f.port)) {
      s.setSoTimeout(8_000);
      OutputStream out = s.getOutputStream();
      out.write(("POST " + GENERATE + " HTTP/1.1\r\nHost: x\r\nx-goog-api-key: " + TOKEN
          + "\r\nContent-Type: application/json\r\nContent-Length: " + body.length()
          + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      for (byte b : body.getBytes(StandardCharsets.US_ASCII)) { // ~3 s of body, 200 ms a byte
        out.write(b);
        out.flush();
        Thread.sleep(200);
      }
      assertThat(readResponseHead(s.getInputStream())).startsWith("HTTP/1.1 200");
    }
    assertThat(f.upstream.getRequestCount()).isEqualTo(1);
  }

  @Test
  void aStreamLongerThanTheHeaderTimeoutIsNotCut() throws Exception {
    f = Harness.start(Yaml.keys(2).server(SERVER));
    StringBuilder events = new StringBuilder();
    for (int i = 0; i < 12; i++) events.append("data: {\"n\":").append(i).append("}\r\n\r\n");
    String sse = events.toString();
    f.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        // ~200 bytes at 25 bytes per 300 ms: about 2.4 s.
        return new MockResponse.Builder().code(200).body(sse)
            .addHeader("Content-Type", "text/event-stream")
            .throttleBody(25, 300, TimeUnit.MILLISECONDS).build();
      }
    });
    long start = System.nanoTime();
    HttpResponse<String> stream = f.send(f.request(STREAM).header("x-goog-api-key", TOKEN)
        .POST(HttpRequest.BodyPublishers.ofString("{\"contents\":[]}")).build());
    long millis = (System.nanoTime() - start) / 1_000_000;
    assertThat(stream.statusCode()).isEqualTo(200);
    assertThat(millis).as("the stream outlasted the header timeout").isGreaterThan(1_500L);
    for (int i = 0; i < 12; i++) assertThat(stream.body()).contains("data: {\"n\":" + i + "}");
  }

  @Test
  void overTlsATricklingHeadIsCutOffAndKeepAliveStillWorks(@TempDir Path dir) throws Exception {
    Path keystore = TestCerts.selfSigned(dir);
    SSLContext ssl = TestCerts.trusting(keystore);
    f = Harness.start(Yaml.keys(2).server(SERVER + "  tls:\n    keystore: " + keystore
        + "\n    keystore-password: changeit-pass\n"));

    try (SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1", f.port)) {
      s.setSoTimeout(5_000);
      for (int i = 0; i < 2; i++) {
        if (i > 0) Thread.sleep(1_500);
        s.getOutputStream().write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
            .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        assertThat(readResponseHead(s.getInputStream())).as("TLS request %d", i)
            .startsWith("HTTP/1.1 200");
      }
    }

    try (SSLSocket loris = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1",
        f.port)) {
      loris.setSoTimeout(8_000);
      loris.startHandshake();
      OutputStream out = loris.getOutputStream();
      long start = System.nanoTime();
      boolean closed = false;
      try {
        for (byte b : "GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaa"
            .getBytes(StandardCharsets.US_ASCII)) {
          out.write(b);
          out.flush();
          Thread.sleep(300);
          if (loris.getInputStream().available() > 0) break;
        }
        closed = loris.getInputStream().read() < 0;
      } catch (IOException e) {
        closed = true; // reset or a failed write: closed too
      }
      long millis = (System.nanoTime() - start) / 1_000_000;
      assertThat(closed).as("the TLS connection was closed").isTrue();
      assertThat(millis).as("ms from the first head byte to the close").isLessThan(3_500L);
    }
  }

  @Test
  void theTimeoutIsValidatedAndZeroDisablesIt() throws Exception {
    Path file = Files.createTempFile("gr", ".yaml");
    try {
      Files.writeString(file, "keys: [AIzaSyTEST-header-timeout-key-0000001]\n"
          + "server:\n  header-timeout: -1s\n");
      assertThatThrownBy(() -> StandaloneConfig.load(file, Map.of(),
          StandaloneConfig.Overrides.NONE)).isInstanceOf(ConfigException.class)
          .hasMessageContaining("server.header-timeout");
      Files.writeString(file, "keys: [AIzaSyTEST-header-timeout-key-0000001]\n");
      assertThat(StandaloneConfig.load(file, Map.of("GEMINI_ROTATOR_SERVER_HEADER_TIMEOUT", "0s"),
          StandaloneConfig.Overrides.NONE).server().headerTimeout().isZero()).isTrue();
      assertThat(StandaloneConfig.load(file, Map.of(), StandaloneConfig.Overrides.NONE)
          .server().headerTimeout()).isEqualTo(StandaloneConfig.Server.DEFAULT_HEADER_TIMEOUT);
    } finally {
      Files.deleteIfExists(file);
    }
  }

  /** Reads one response with a Content-Length body and returns its head. */
  static String readResponseHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
      int b = in.read();
      if (b < 0) throw new IOException("connection closed after: " + head);
      head.write(b);
    }
    String text = head.toString(StandardCharsets.ISO_8859_1);
    int length = 0;
    for (String line : text.split("\r\n")) {
      if (line.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(line.substring(15).trim());
      }
    }
    in.readNBytes(length);
    return text;
  }
}
