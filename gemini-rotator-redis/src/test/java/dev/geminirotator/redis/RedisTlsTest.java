package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.spi.KeyStateStores;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.redis.RedisServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.time.Duration;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;

/**
 * {@code rediss://} against a real redis-server speaking TLS (the embedded-redis binary is built
 * with TLS) on its own port, with a throwaway self-signed certificate made by the running JDK's
 * keytool.
 */
class RedisTlsTest {

  private static final String PASSWORD = "tls-test-pass-7f3a9";
  private static final String TRUST_PASSWORD = "trust-store-pass-11";
  private static final List<String> IDS = List.of("a", "b", "c");

  private static Path dir;
  private static int tlsPort;
  private static RedisServer server;
  private static Path trusted;
  private static Path stranger;

  @BeforeAll
  static void startTlsRedis() throws Exception {
    dir = Files.createTempDirectory("redis-tls-");
    Path serverStore = keypair("server", "127.0.0.1");
    trusted = trustStoreFor(serverStore, "trusted.p12");
    stranger = strangerTrustStore();
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(serverStore)) {
      ks.load(in, "changeit".toCharArray());
    }
    Path cert = pem(dir.resolve("server.crt"), "CERTIFICATE",
        ks.getCertificate("server").getEncoded());
    Path key = pem(dir.resolve("server.key"), "PRIVATE KEY",
        ((PrivateKey) ks.getKey("server", "changeit".toCharArray())).getEncoded());
    tlsPort = freePort();
    server = RedisServer.startOnFreePort("--requirepass", PASSWORD,
        "--tls-port", Integer.toString(tlsPort), "--tls-cert-file", cert.toString(),
        "--tls-key-file", key.toString(), "--tls-ca-cert-file", cert.toString(),
        "--tls-auth-clients", "no");
  }

  @AfterAll
  static void stop() throws IOException {
    if (server != null) server.close();
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) Files.deleteIfExists(f);
    }
    Files.deleteIfExists(dir);
  }

  private static String tlsUri(Path truststore) {
    return "rediss://:" + PASSWORD + "@127.0.0.1:" + tlsPort + "/0?timeout=2s&truststore="
        + truststore + "&truststorePassword=" + TRUST_PASSWORD;
  }

  @Test
  void stateRoundTripsOverTls() {
    RedisKeyStateStore first = (RedisKeyStateStore) KeyStateStores.open(tlsUri(trusted));
    assertThat(first.isAvailable()).isTrue();
    assertThat(first.options().tls()).isTrue();
    GeminiKeyRotator one = Pools.rotator(first, Pools.keys("a", "b", "c"));
    one.acquire(Pools.only("a", IDS))
        .complete(Outcome.rateLimited(Duration.ofMinutes(5), QuotaScope.PER_MINUTE));
    one.disable("b");
    assertThat(StoreCalls.countNow(first, "client:tls", Duration.ofMinutes(1))).isEqualTo(1);
    one.close();
    first.close();

    try (RedisKeyStateStore second = RedisKeyStateStore.open(tlsUri(trusted));
        GeminiKeyRotator two = Pools.rotator(second, Pools.keys("a", "b", "c"))) {
      assertThat(two.snapshot("a").orElseThrow().state()).isEqualTo(KeyState.RATE_LIMITED);
      assertThat(two.snapshot("b").orElseThrow().state()).isEqualTo(KeyState.DISABLED);
      assertThat(two.snapshot("c").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
    }
    // it is really in that Redis: read back over its plain port
    try (RedisClient plain = RedisClient.builder()
        .hostAndPort(new redis.clients.jedis.HostAndPort("127.0.0.1", server.port()))
        .clientConfig(redis.clients.jedis.DefaultJedisClientConfig.builder().password(PASSWORD)
            .build()).build()) {
      assertThat(plain.hget("gemini_rotator:key:b:status", "state")).isEqualTo("DISABLED");
      assertThat(plain.keys("gemini_rotator:counter:client:tls:*")).hasSize(1);
    }
  }

  @Test
  void anUntrustedCertificateFailsAtStartWithAClearErrorAndNoPassword() {
    assertThatThrownBy(() -> RedisKeyStateStore.open(tlsUri(stranger)))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("TLS handshake with Redis store rediss://:****@127.0.0.1:" + tlsPort)
        .hasMessageContaining("trusted")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(PASSWORD)
            .doesNotContain(TRUST_PASSWORD));
    // the JVM's own trust store does not know a self-signed certificate either
    assertThatThrownBy(() -> RedisKeyStateStore.open("rediss://:" + PASSWORD + "@127.0.0.1:"
        + tlsPort + "/0?timeout=2s"))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("TLS handshake")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(PASSWORD));
  }

  @Test
  void aCertificateThatDoesNotNameTheHostIsRefused() {
    // trusted, but issued for 127.0.0.1 only: reaching it as "localhost" must fail
    assertThatThrownBy(() -> RedisKeyStateStore.open(tlsUri(trusted).replace("@127.0.0.1:",
        "@localhost:")))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("TLS handshake with Redis store rediss://:****@localhost:")
        .hasMessageContaining("names the host")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain(PASSWORD));
  }

  @Test
  void aPlainTextClientOnTheTlsPortIsToldToUseRediss() {
    // Redis resets the connection: like an outage, so the store opens unavailable, and says why
    try (RedisKeyStateStore store = RedisKeyStateStore.open("redis://:" + PASSWORD + "@127.0.0.1:"
        + tlsPort + "/0?timeout=2s")) {
      assertThat(store.isAvailable()).isFalse();
      assertThatThrownBy(store::load).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("is unreachable")
          .hasMessageContaining("if the server expects TLS on this port, use a rediss:// URI")
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain(PASSWORD));
    }
  }

  @Test
  void aTlsClientOnThePlainPortIsToldToCheckTheTlsPort() {
    try (RedisKeyStateStore store = RedisKeyStateStore.open("rediss://:" + PASSWORD
        + "@127.0.0.1:" + server.port() + "/0?timeout=500ms&truststore=" + trusted
        + "&truststorePassword=" + TRUST_PASSWORD)) {
      assertThat(store.isAvailable()).isFalse();
      assertThatThrownBy(store::load).isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("during the TLS handshake")
          .hasMessageContaining("a plain port needs a redis:// URI")
          .satisfies(e -> assertThat(e.getMessage()).doesNotContain(PASSWORD)
              .doesNotContain(TRUST_PASSWORD));
    }
  }

  @Test
  void trustStoreOptionsAreCheckedAndTheirPasswordIsMasked() {
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis://127.0.0.1:6379/0?truststore="
        + trusted)).isInstanceOf(IllegalArgumentException.class).hasMessageContaining("rediss://");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("rediss://127.0.0.1:6379/0?truststore="
        + dir.resolve("missing.p12"))).hasMessageContaining("missing.p12")
        .hasMessageContaining("does not exist");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("rediss://127.0.0.1:6379/0"
        + "?truststorePassword=x")).hasMessageContaining("without truststore");
    assertThatThrownBy(() -> RedisKeyStateStore.open("rediss://127.0.0.1:" + tlsPort
        + "/0?truststore=" + trusted + "&truststorePassword=wrong-one"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("could not read the Redis truststore")
        .satisfies(e -> assertThat(e.getMessage()).doesNotContain("wrong-one"));
    RedisStoreOptions options = RedisStoreOptions.fromUri(tlsUri(trusted));
    assertThat(options.toString()).contains("truststore=" + trusted)
        .contains("truststorePassword=****").doesNotContain(TRUST_PASSWORD)
        .doesNotContain(PASSWORD);
  }

  // ---------------------------------------------------------------------------------------------

  /** A PKCS12 store with a fresh self-signed EC key pair for {@code ip}, made by keytool. */
  private static Path keypair(String alias, String ip) throws Exception {
    Path store = dir.resolve(alias + ".keys.p12");
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    Process p = new ProcessBuilder(keytool.toString(), "-genkeypair", "-alias", alias,
        "-keyalg", "EC", "-groupname", "secp256r1", "-validity", "2", "-dname", "CN=" + alias,
        "-ext", "SAN=ip:" + ip, "-keystore", store.toString(),
        "-storetype", "PKCS12", "-storepass", "changeit", "-keypass", "changeit")
        .redirectErrorStream(true).start();
    String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
      throw new IllegalStateException("keytool failed: " + output);
    }
    return store;
  }

  /** A trust store holding only the certificate of the key pair in {@code keys}. */
  private static Path trustStoreFor(Path keys, String name) throws Exception {
    KeyStore source = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(keys)) {
      source.load(in, "changeit".toCharArray());
    }
    Certificate cert = source.getCertificate(source.aliases().nextElement());
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("redis", cert);
    Path path = dir.resolve(name);
    try (OutputStream out = Files.newOutputStream(path)) {
      trust.store(out, TRUST_PASSWORD.toCharArray());
    }
    return path;
  }

  /** A trust store with one certificate that has nothing to do with the server's: a JDK CA. */
  private static Path strangerTrustStore() throws Exception {
    KeyStore jdk = KeyStore.getInstance(KeyStore.getDefaultType());
    try (InputStream in = Files.newInputStream(Path.of(System.getProperty("java.home"), "lib",
        "security", "cacerts"))) {
      jdk.load(in, null);
    }
    KeyStore trust = KeyStore.getInstance("PKCS12");
    trust.load(null, null);
    trust.setCertificateEntry("stranger", jdk.getCertificate(jdk.aliases().nextElement()));
    Path path = dir.resolve("stranger.p12");
    try (OutputStream out = Files.newOutputStream(path)) {
      trust.store(out, TRUST_PASSWORD.toCharArray());
    }
    return path;
  }

  private static Path pem(Path path, String type, byte[] der) throws IOException {
    String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
        .encodeToString(der);
    Files.writeString(path, "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type
        + "-----\n");
    return path;
  }

  private static int freePort() throws IOException {
    try (ServerSocket socket = new ServerSocket()) {
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress("127.0.0.1", 0));
      return socket.getLocalPort();
    }
  }
}
