package dev.geminirotator.standalone.reliability;

import dev.geminirotator.standalone.ProxyServer;
import dev.geminirotator.standalone.StandaloneConfig;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;

/**
 * The real standalone proxy started in-process on 127.0.0.1 and a random port, in front of a
 * MockWebServer (or any other loopback upstream), with short timeouts. Every secret it configures
 * is in {@link #SECRETS}, so {@link SecretScan} can look for them in everything a test logged.
 */
final class ProxyFixture implements AutoCloseable {

  static final List<String> KEYS = List.of(
      "AIzaSyREL-pool-key-alpha-000000000101",
      "AIzaSyREL-pool-key-bravo-000000000102",
      "AIzaSyREL-pool-key-charlie-0000000103",
      "AIzaSyREL-pool-key-delta-000000000104",
      "AIzaSyREL-pool-key-echo-0000000000105");
  static final String TOKEN = "rel-client-access-token-one-7f3a";
  static final String TOKEN_2 = "rel-client-access-token-two-9c1e";
  static final String ADMIN = "rel-admin-token-long-enough-4b8d";
  /** A credential a client may present that the proxy does not know. */
  static final String STRANGER = "rel-unknown-client-credential-5d2c";
  static final List<String> SECRETS;

  static {
    List<String> all = new ArrayList<>(KEYS);
    all.addAll(List.of(TOKEN, TOKEN_2, ADMIN, STRANGER));
    SECRETS = List.copyOf(all);
  }

  static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";
  static final String STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";

  /** The fake Gemini; {@code null} when the fixture points at another upstream. */
  final MockWebServer upstream;
  final Path dir;
  final Path configFile;
  final ProxyServer proxy;
  /** The proxy's address, kept: a stopped proxy no longer reports its port. */
  final URI base;
  final int port;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5))
      .version(HttpClient.Version.HTTP_1_1).build();

  private ProxyFixture(MockWebServer upstream, String yaml) throws Exception {
    this.upstream = upstream;
    dir = Files.createTempDirectory("gr-reliability");
    configFile = dir.resolve("config.yaml");
    Files.writeString(configFile, yaml);
    StandaloneConfig config = StandaloneConfig.load(configFile, Map.of(),
        new StandaloneConfig.Overrides(null, 0));
    proxy = ProxyServer.start(config, Map.of());
    base = proxy.uri();
    port = proxy.port();
  }

  /** A proxy in front of a fresh MockWebServer; {@code ${UPSTREAM}} in the YAML is its URL. */
  static ProxyFixture start(Yaml yaml) throws Exception {
    MockWebServer server = new MockWebServer();
    server.start();
    String url = server.url("/").toString();
    try {
      return new ProxyFixture(server, yaml.upstream(url.substring(0, url.length() - 1))
          .render());
    } catch (Exception | Error e) {
      server.close();
      throw e;
    }
  }

  /** A proxy in front of an upstream the test runs itself. */
  static ProxyFixture startWithUpstream(Yaml yaml, String upstreamBaseUrl) throws Exception {
    return new ProxyFixture(null, yaml.upstream(upstreamBaseUrl).render());
  }

  URI uri(String pathAndQuery) {
    return URI.create(base + pathAndQuery);
  }

  HttpRequest.Builder request(String pathAndQuery) {
    return HttpRequest.newBuilder(uri(pathAndQuery)).timeout(Duration.ofSeconds(20));
  }

  HttpResponse<String> send(HttpRequest request) throws IOException, InterruptedException {
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> post(String pathAndQuery, String body, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = request(pathAndQuery)
        .POST(HttpRequest.BodyPublishers.ofString(body))
        .header("Content-Type", "application/json");
    if (headers.length > 0) b.headers(headers);
    return send(b.build());
  }

  /** POST generateContent with the first access token. */
  HttpResponse<String> generate() throws IOException, InterruptedException {
    return post(GENERATE, "{\"contents\":[]}", "x-goog-api-key", TOKEN);
  }

  HttpResponse<String> get(String pathAndQuery, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = request(pathAndQuery).GET();
    if (headers.length > 0) b.headers(headers);
    return send(b.build());
  }

  HttpResponse<String> admin(String method, String path) throws IOException,
      InterruptedException {
    return send(request(path).header("Authorization", "Bearer " + ADMIN)
        .method(method, HttpRequest.BodyPublishers.noBody()).build());
  }

  void enqueue(int code, String body) {
    upstream.enqueue(json(code, body));
  }

  static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).body(body)
        .addHeader("Content-Type", "application/json; charset=UTF-8").build();
  }

  /** Sends raw bytes and returns the whole raw response (the request should close). */
  String raw(String request) throws IOException {
    return raw(request.getBytes(StandardCharsets.ISO_8859_1));
  }

  String raw(byte[] request) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(request);
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
    }
  }

  static void eventually(String what, BooleanSupplier condition) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) throw new AssertionError("timed out waiting: " + what);
      Thread.sleep(20);
    }
  }

  @Override
  public void close() {
    try {
      proxy.close();
    } finally {
      if (upstream != null) upstream.close();
    }
  }

  /** The YAML configuration, with short timings; each section can be replaced. */
  static final class Yaml {
    private int keys = 2;
    private String upstreamUrl = "${UPSTREAM}";
    private String server = "  drain-timeout: 3s\n  idle-timeout: 5s\n";
    private String upstreamExtra = "  connect-timeout: 1s\n  request-timeout: 5s\n"
        + "  idle-timeout: 5s\n";
    private String access = "access:\n  tokens: [" + TOKEN + ", " + TOKEN_2 + "]\n";
    private String admin = "admin:\n  token: " + ADMIN + "\n";
    private String attempts = "attempts:\n  backoff-base: 5ms\n  backoff-max: 10ms\n";
    private final StringBuilder extra = new StringBuilder();

    static Yaml keys(int n) {
      Yaml y = new Yaml();
      y.keys = n;
      return y;
    }

    Yaml server(String lines) {
      server = lines;
      return this;
    }

    Yaml upstreamLines(String lines) {
      upstreamExtra = lines;
      return this;
    }

    Yaml access(String section) {
      access = section;
      return this;
    }

    Yaml admin(String section) {
      admin = section;
      return this;
    }

    Yaml attempts(String section) {
      attempts = section;
      return this;
    }

    /** Any other top-level section (breaker, storage, cooldown, ...). */
    Yaml section(String text) {
      extra.append(text.endsWith("\n") ? text : text + "\n");
      return this;
    }

    Yaml upstream(String url) {
      upstreamUrl = url;
      return this;
    }

    String render() {
      StringBuilder sb = new StringBuilder("keys:\n");
      for (int i = 0; i < keys; i++) {
        sb.append("  - id: k").append(i + 1).append("\n    secret: ").append(KEYS.get(i))
            .append('\n');
      }
      sb.append("server:\n").append(server);
      sb.append("upstream:\n  base-url: ").append(upstreamUrl).append('\n').append(upstreamExtra);
      sb.append(access).append(admin).append(attempts).append(extra);
      return sb.toString();
    }
  }
}
