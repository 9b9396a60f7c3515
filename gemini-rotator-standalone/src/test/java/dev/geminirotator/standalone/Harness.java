package dev.geminirotator.standalone;

import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.testsupport.Eventually;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;

/**
 * The one proxy harness of the standalone tests: the real proxy started in-process on 127.0.0.1
 * and a random port, in front of a fake Gemini (MockWebServer) or any other loopback upstream the
 * test runs, plus a JDK HttpClient and raw-socket helpers. One per test; {@link #close()} stops
 * the proxy and the fake Gemini.
 *
 * <p>Two ways to configure it: {@code new Harness(extraYaml)} (two keys, {@link #defaultYaml()},
 * the client negotiating its HTTP version as the JDK does), or {@link #start(Yaml)} with a
 * {@link Yaml} builder (up to five keys of {@link #KEYS}, short timeouts, an HTTP/1.1 client).
 * Every secret it configures is in {@link #SECRETS}, so a secret scan can look for all of them.
 * Not thread-safe to set up; its HTTP helpers may be called from any thread.
 */
public final class Harness implements AutoCloseable {

  public static final String KEY_1 = "AIzaSyTEST-pool-key-one-0000000001";
  public static final String KEY_2 = "AIzaSyTEST-pool-key-two-0000000002";
  public static final String KEY_3 = "AIzaSyTEST-pool-key-charlie-7h3x03";
  public static final String KEY_4 = "AIzaSyTEST-pool-key-delta-9q4w0004";
  public static final String KEY_5 = "AIzaSyTEST-pool-key-echo-5k8v00005";
  /** The pool keys {@link Yaml} configures as k1, k2, ... in this order. */
  public static final List<String> KEYS = List.of(KEY_1, KEY_2, KEY_3, KEY_4, KEY_5);
  public static final String TOKEN = "client-access-token-alpha";
  public static final String TOKEN_2 = "client-access-token-bravo";
  public static final String ADMIN = "admin-token-very-secret-9";
  /** A credential a client may present that the proxy does not know. */
  public static final String STRANGER = "unknown-client-credential-5d2c";
  /** Every secret the harness configures or a test presents: keys, tokens, admin, stranger. */
  public static final List<String> SECRETS = List.of(KEY_1, KEY_2, KEY_3, KEY_4, KEY_5, TOKEN,
      TOKEN_2, ADMIN, STRANGER);

  public static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";
  public static final String STREAM =
      "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";

  /** The fake Gemini; {@code null} when the harness points at an upstream the test runs. */
  public final MockWebServer upstream;
  public final Path dir;
  public final Path configFile;
  public final ProxyServer proxy;
  /** The proxy's address, kept: a stopped proxy no longer reports its port. */
  public final URI base;
  public final int port;
  public final HttpClient http;

  public Harness(String extraYaml) throws Exception {
    this(defaultYaml() + extraYaml, Map.of());
  }

  public Harness(String yaml, Map<String, String> env) throws Exception {
    this(started(new MockWebServer()), yaml, env, null);
  }

  private Harness(MockWebServer upstream, String yaml, Map<String, String> env,
      HttpClient.Version version) throws Exception {
    this.upstream = upstream;
    try {
      dir = Files.createTempDirectory("gr-standalone");
      configFile = dir.resolve("config.yaml");
      Files.writeString(configFile, upstream == null ? yaml
          : yaml.replace("${UPSTREAM}", baseUrl(upstream)));
      StandaloneConfig config = StandaloneConfig.load(configFile, env,
          new StandaloneConfig.Overrides(null, 0));
      proxy = ProxyServer.start(config, env);
    } catch (Exception | Error e) {
      if (upstream != null) upstream.close();
      throw e;
    }
    base = proxy.uri();
    port = proxy.port();
    HttpClient.Builder client = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5));
    if (version != null) client.version(version);
    http = client.build();
  }

  /** A proxy in front of a fresh fake Gemini; {@code ${UPSTREAM}} in the YAML is its URL. */
  public static Harness start(Yaml yaml) throws Exception {
    return new Harness(started(new MockWebServer()), yaml.render(), Map.of(),
        HttpClient.Version.HTTP_1_1);
  }

  /** A proxy in front of an upstream the test runs itself. */
  public static Harness startWithUpstream(Yaml yaml, String upstreamBaseUrl) throws Exception {
    return new Harness(null, yaml.upstream(upstreamBaseUrl).render(), Map.of(),
        HttpClient.Version.HTTP_1_1);
  }

  private static MockWebServer started(MockWebServer server) throws IOException {
    server.start();
    return server;
  }

  private static String baseUrl(MockWebServer server) {
    String url = server.url("/").toString();
    return url.substring(0, url.length() - 1);
  }

  /** The fake Gemini's base URL, without the trailing slash. */
  public String baseUrl() {
    return baseUrl(upstream);
  }

  public static String defaultYaml() {
    return """
        keys:
          - id: k1
            secret: %s
          - id: k2
            secret: %s
        server:
          drain-timeout: 5s
        upstream:
          base-url: ${UPSTREAM}
        access:
          tokens: [%s, %s]
        admin:
          token: %s
        attempts:
          backoff-base: 10ms
          backoff-max: 20ms
        """.formatted(KEY_1, KEY_2, TOKEN, TOKEN_2, ADMIN);
  }

  /** The default configuration with these lines added to its server section. */
  public static String withServer(String lines) {
    return defaultYaml().replace("server:\n", "server:\n" + lines);
  }

  public static String yamlWithout(String section) {
    StringBuilder sb = new StringBuilder();
    boolean skipping = false;
    for (String line : defaultYaml().split("\n")) {
      if (!line.startsWith(" ")) skipping = line.startsWith(section + ":");
      if (!skipping) sb.append(line).append('\n');
    }
    return sb.toString();
  }

  public URI uri(String pathAndQuery) {
    return URI.create(base + pathAndQuery);
  }

  public HttpRequest.Builder request(String pathAndQuery) {
    return HttpRequest.newBuilder(uri(pathAndQuery)).timeout(Duration.ofSeconds(20));
  }

  public HttpResponse<String> send(HttpRequest request) throws IOException, InterruptedException {
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

  public HttpResponse<String> post(String pathAndQuery, String body, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = request(pathAndQuery).POST(HttpRequest.BodyPublishers.ofString(body))
        .header("Content-Type", "application/json");
    if (headers.length > 0) b.headers(headers);
    return send(b.build());
  }

  /** POST generateContent with the first access token. */
  public HttpResponse<String> generate() throws IOException, InterruptedException {
    return post(GENERATE, "{\"contents\":[]}", "x-goog-api-key", TOKEN);
  }

  public HttpResponse<String> get(String pathAndQuery, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = request(pathAndQuery).GET();
    if (headers.length > 0) b.headers(headers);
    return send(b.build());
  }

  public HttpResponse<String> admin(String method, String path, String body)
      throws IOException, InterruptedException {
    HttpRequest.Builder b = request(path).header("Authorization", "Bearer " + ADMIN)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    return send(b.build());
  }

  /** An admin call without a body. */
  public HttpResponse<String> admin(String method, String path)
      throws IOException, InterruptedException {
    return admin(method, path, null);
  }

  /**
   * The problem fields of an error the proxy answered itself, whatever its shape: a problem
   * document as it is; Gemini's shape read back from {@code error} ({@code detail} from
   * {@code message}, {@code status} from {@code code}, {@code type}, {@code title},
   * {@code instance} and {@code requestId} from the ErrorInfo's metadata), with {@code error}
   * kept.
   */
  public static com.fasterxml.jackson.databind.JsonNode problem(String body) {
    try {
      com.fasterxml.jackson.databind.ObjectMapper json =
          new com.fasterxml.jackson.databind.ObjectMapper();
      com.fasterxml.jackson.databind.JsonNode node = json.readTree(body);
      if (node.has("type") || !node.has("error")) return node;
      com.fasterxml.jackson.databind.JsonNode error = node.get("error");
      com.fasterxml.jackson.databind.node.ObjectNode view = json.createObjectNode();
      com.fasterxml.jackson.databind.JsonNode meta = error.at("/details/0/metadata");
      meta.fields().forEachRemaining(f -> view.set(f.getKey(), f.getValue()));
      view.put("status", error.get("code").asInt());
      view.set("detail", error.get("message"));
      view.set("error", error);
      return view;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public void enqueue(int code, String body) {
    upstream.enqueue(json(code, body));
  }

  public static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).body(body)
        .addHeader("Content-Type", "application/json; charset=UTF-8").build();
  }

  /** Sends raw HTTP/1.1 bytes and returns the whole raw response (connection closed after). */
  public String raw(String request) throws IOException {
    return new String(rawExchange(request.getBytes(StandardCharsets.UTF_8)),
        StandardCharsets.UTF_8);
  }

  /**
   * Sends raw bytes and returns the whole raw response read as ISO-8859-1, one character per
   * byte (the request should close the connection).
   */
  public String raw(byte[] request) throws IOException {
    return new String(rawExchange(request), StandardCharsets.ISO_8859_1);
  }

  /** {@link #raw(byte[])} for a request spelled one character per byte (ISO-8859-1). */
  public String rawLatin1(String request) throws IOException {
    return raw(request.getBytes(StandardCharsets.ISO_8859_1));
  }

  private byte[] rawExchange(byte[] request) throws IOException {
    try (Socket s = new Socket("127.0.0.1", port)) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(request);
      out.flush();
      InputStream in = s.getInputStream();
      return in.readAllBytes();
    }
  }

  /**
   * The value of an unlabelled sample in {@code /metrics}, e.g.
   * {@code gemini_proxy_requests_inflight}.
   */
  public double metric(String name) throws IOException, InterruptedException {
    for (String line : get("/metrics").body().split("\n")) {
      if (line.startsWith(name + " ")) {
        return Double.parseDouble(line.substring(line.indexOf(' ') + 1).trim());
      }
    }
    throw new AssertionError("no " + name + " in /metrics");
  }

  /** Requests the proxy is working on now (its {@code gemini_proxy_requests_inflight} gauge). */
  public int requestsInFlight() throws IOException, InterruptedException {
    return (int) metric("gemini_proxy_requests_inflight");
  }

  /**
   * Opens a kept-alive HTTP/1.1 connection and proves it with one {@code GET /health}. A test
   * opens it before shutting the proxy down, then asks {@link KeptConnection#draining()} to learn
   * that the drain is in force (a new connection could only be refused).
   */
  public KeptConnection keepAlive() throws IOException {
    KeptConnection c = new KeptConnection(new Socket("127.0.0.1", port));
    String first = c.exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    if (!first.startsWith("200 ")) {
      c.close();
      throw new AssertionError("a kept-alive GET /health answered " + first);
    }
    return c;
  }

  @Override
  public void close() {
    try {
      proxy.close();
    } finally {
      if (upstream != null) upstream.close();
    }
  }

  /**
   * One kept-alive raw HTTP/1.1 connection to the proxy, for responses with a
   * {@code Content-Length}. Not thread-safe: one test thread uses it.
   */
  public static final class KeptConnection implements AutoCloseable {
    private static final Pattern LENGTH = Pattern.compile("(?i)\r\ncontent-length: *(\\d+)");
    private final Socket socket;

    KeptConnection(Socket socket) throws IOException {
      this.socket = socket;
      socket.setSoTimeout(10_000);
    }

    public Socket socket() {
      return socket;
    }

    /**
     * Sends one request and reads its response: {@code "status body"}, or {@code null} when the
     * proxy closed the connection before answering.
     */
    public String exchange(String request) throws IOException {
      socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
      socket.getOutputStream().flush();
      return readResponse(socket.getInputStream());
    }

    /**
     * Whether the proxy is draining: a {@code GET /health} on this connection gets the 503 that
     * every request gets once shutdown has begun (the connection then closes). Answered 200, the
     * connection stays open for the next ask.
     */
    public boolean draining() throws IOException {
      String answer = exchange("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
      if (answer == null) throw new AssertionError("the proxy closed the connection unanswered");
      if (answer.startsWith("503 ")) return true;
      if (answer.startsWith("200 ")) return false;
      throw new AssertionError("GET /health answered " + answer);
    }

    /**
     * Waits until {@link #draining()}: the signal that the proxy's shutdown is under way. The
     * proxy closes the connection after its 503.
     */
    public void awaitDraining() {
      Eventually.until("the proxy drains (GET /health on an open connection gets 503)", () -> {
        try {
          return draining();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }

    @Override
    public void close() throws IOException {
      socket.close();
    }

    /** One response with a Content-Length: {@code "status body"}, or null at end of stream. */
    static String readResponse(InputStream in) throws IOException {
      ByteArrayOutputStream head = new ByteArrayOutputStream();
      while (!head.toString(StandardCharsets.ISO_8859_1).endsWith("\r\n\r\n")) {
        int b = in.read();
        if (b < 0) {
          if (head.size() == 0) return null;
          throw new AssertionError("response cut short: " + head);
        }
        head.write(b);
      }
      String headers = head.toString(StandardCharsets.ISO_8859_1);
      Matcher m = LENGTH.matcher(headers);
      if (!m.find()) throw new AssertionError("no Content-Length in " + headers);
      byte[] body = in.readNBytes(Integer.parseInt(m.group(1)));
      return headers.substring(9, 12) + " " + new String(body, StandardCharsets.UTF_8);
    }
  }

  /** The YAML configuration, with short timings; each section can be replaced. */
  public static final class Yaml {
    private int keys = 2;
    private String upstreamUrl = "${UPSTREAM}";
    private String server = "  drain-timeout: 3s\n  idle-timeout: 5s\n";
    private String upstreamExtra = "  connect-timeout: 1s\n  request-timeout: 5s\n"
        + "  idle-timeout: 5s\n";
    private String access = "access:\n  tokens: [" + TOKEN + ", " + TOKEN_2 + "]\n";
    private String admin = "admin:\n  token: " + ADMIN + "\n";
    private String attempts = "attempts:\n  backoff-base: 5ms\n  backoff-max: 10ms\n";
    private final StringBuilder extra = new StringBuilder();

    /** A configuration with the first {@code n} of {@link #KEYS}, as k1 ... kn. */
    public static Yaml keys(int n) {
      if (n < 1 || n > KEYS.size()) {
        throw new IllegalArgumentException("keys must be 1.." + KEYS.size() + " but was " + n);
      }
      Yaml y = new Yaml();
      y.keys = n;
      return y;
    }

    /** The server section's lines, replacing the default ones. */
    public Yaml server(String lines) {
      server = lines;
      return this;
    }

    /** The upstream section's lines after {@code base-url}, replacing the default ones. */
    public Yaml upstreamLines(String lines) {
      upstreamExtra = lines;
      return this;
    }

    public Yaml access(String section) {
      access = section;
      return this;
    }

    public Yaml admin(String section) {
      admin = section;
      return this;
    }

    public Yaml attempts(String section) {
      attempts = section;
      return this;
    }

    /** Any other top-level section (breaker, storage, cooldown, ...). */
    public Yaml section(String text) {
      extra.append(text.endsWith("\n") ? text : text + "\n");
      return this;
    }

    Yaml upstream(String url) {
      upstreamUrl = url;
      return this;
    }

    public String render() {
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
