package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.standalone.config.StandaloneConfig;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.util.Map;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsTest {

  @Test
  void servesHttpsFromTheConfiguredKeystore(@TempDir Path dir) throws Exception {
    Path keystore = TestCerts.selfSigned(dir);

    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        keys: [AIzaSyTEST-pool-key-one-0000000001]
        server:
          port: 0
          tls:
            keystore: proxy.p12
            keystore-password: changeit-pass
        """);
    try (ProxyServer proxy = ProxyServer.start(StandaloneConfig.load(config, Map.of(),
        StandaloneConfig.Overrides.NONE))) {
      assertThat(proxy.uri().getScheme()).isEqualTo("https");
      KeyStore trust = KeyStore.getInstance("PKCS12");
      try (var in = Files.newInputStream(keystore)) {
        trust.load(in, "changeit-pass".toCharArray());
      }
      TrustManagerFactory tmf = TrustManagerFactory.getInstance(
          TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext ssl = SSLContext.getInstance("TLS");
      ssl.init(null, tmf.getTrustManagers(), new SecureRandom());
      HttpClient client = HttpClient.newBuilder().sslContext(ssl).build();

      HttpResponse<String> health = client.send(HttpRequest.newBuilder(
          URI.create(proxy.uri() + "/health")).build(), HttpResponse.BodyHandlers.ofString());

      assertThat(health.statusCode()).isEqualTo(200);
    }
  }
}
