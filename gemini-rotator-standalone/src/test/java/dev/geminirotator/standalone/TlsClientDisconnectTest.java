package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.testsupport.Eventually;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import mockwebserver3.MockResponse;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The client-disconnect watch on a TLS connection, where the endpoint it reads is SslConnection's
 * decrypted one: a kept-alive connection goes on serving, and a client leaving is noticed.
 */
class TlsClientDisconnectTest {

  static final String BODY = "{\"contents\":[]}";

  static String request() {
    return "POST /v1beta/models/m:generateContent HTTP/1.1\r\nHost: 127.0.0.1\r\nx-goog-api-key: "
        + Harness.TOKEN + "\r\nContent-Type: application/json\r\nContent-Length: "
        + BODY.length() + "\r\n\r\n" + BODY;
  }

  @Test
  void keepAliveAndDisconnectOverTls(@TempDir Path dir) throws Exception {
    Path keystore = TestCerts.selfSigned(dir);
    SSLContext ssl = TestCerts.trusting(keystore);

    try (Harness h = new Harness(Harness.withServer("  tls:\n    keystore: " + keystore
        + "\n    keystore-password: changeit-pass\n"), Map.of())) {
      int n = 20;
      for (int i = 0; i < n; i++) h.enqueue(200, "{\"n\":" + i + "}");
      try (SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1",
          h.proxy.port())) {
        s.setSoTimeout(10_000);
        OutputStream out = s.getOutputStream();
        InputStream in = s.getInputStream();
        for (int i = 0; i < n; i++) {
          out.write(request().getBytes(StandardCharsets.UTF_8));
          out.flush();
          assertThat(ClientDisconnectTest.readResponse(in)).as("response " + i)
              .isEqualTo("200 {\"n\":" + i + "}");
        }
      }

      h.upstream.enqueue(new MockResponse.Builder().code(200).body("{}")
          .headersDelay(8, TimeUnit.SECONDS).build());
      try (SSLSocket s = (SSLSocket) ssl.getSocketFactory().createSocket("127.0.0.1",
          h.proxy.port())) {
        s.getOutputStream().write(request().getBytes(StandardCharsets.UTF_8));
        s.getOutputStream().flush();
        for (int i = 0; i <= n; i++) {
          assertThat(h.upstream.takeRequest(5, TimeUnit.SECONDS)).isNotNull();
        }
      }
      // Within 3 s: long before the upstream (holding its headers 8 s) would have answered.
      Eventually.until(Duration.ofSeconds(3), "lease released after the TLS client left",
          () -> h.proxy.rotator().snapshot().stream().mapToInt(KeySnapshot::inFlight).sum() == 0);
    }
  }
}
