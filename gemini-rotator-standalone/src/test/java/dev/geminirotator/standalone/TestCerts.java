package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;

/** A throwaway self-signed certificate for 127.0.0.1, made with the running JDK's keytool. */
public final class TestCerts {

  /** The keystore password of {@link #selfSigned}. */
  public static final String PASSWORD = "changeit-pass";

  private TestCerts() {
  }

  /** Writes {@code proxy.p12} (PKCS12, EC key, SAN ip:127.0.0.1) into {@code dir}. */
  public static Path selfSigned(Path dir) throws Exception {
    Path keystore = dir.resolve("proxy.p12");
    String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
    Process p = new ProcessBuilder(keytool, "-genkeypair", "-alias", "proxy", "-keyalg", "EC",
        "-dname", "CN=127.0.0.1", "-ext", "san=ip:127.0.0.1", "-validity", "2",
        "-storetype", "PKCS12", "-keystore", keystore.toString(), "-storepass", PASSWORD)
        .redirectErrorStream(true).start();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).isZero();
    return keystore;
  }

  /** A TLS context that trusts exactly the certificate in {@code keystore}. */
  public static SSLContext trusting(Path keystore) throws Exception {
    KeyStore trust = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keystore)) {
      trust.load(in, PASSWORD.toCharArray());
    }
    TrustManagerFactory tmf = TrustManagerFactory.getInstance(
        TrustManagerFactory.getDefaultAlgorithm());
    tmf.init(trust);
    SSLContext ssl = SSLContext.getInstance("TLS");
    ssl.init(null, tmf.getTrustManagers(), new SecureRandom());
    return ssl;
  }
}
