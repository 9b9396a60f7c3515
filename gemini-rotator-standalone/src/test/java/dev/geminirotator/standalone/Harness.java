package dev.geminirotator.standalone;

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
import java.util.Map;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;

/**
 * A fake Gemini (MockWebServer) and a proxy in front of it on random loopback ports, plus a
 * JDK HttpClient. One per test; {@link #close()} stops everything.
 */
final class Harness implements AutoCloseable {

  static final String KEY_1 = "AIzaSyTEST-pool-key-one-0000000001";
  static final String KEY_2 = "AIzaSyTEST-pool-key-two-0000000002";
  static final String TOKEN = "client-access-token-alpha";
  static final String TOKEN_2 = "client-access-token-bravo";
  static final String ADMIN = "admin-token-very-secret-9";

  final MockWebServer upstream = new MockWebServer();
  final Path dir;
  final Path configFile;
  final ProxyServer proxy;
  final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  Harness(String extraYaml) throws Exception {
    this(defaultYaml() + extraYaml, Map.of());
  }

  Harness(String yaml, Map<String, String> env) throws Exception {
    upstream.start();
    dir = Files.createTempDirectory("gr-standalone");
    configFile = dir.resolve("config.yaml");
    Files.writeString(configFile, yaml.replace("${UPSTREAM}", baseUrl()));
    StandaloneConfig config = StandaloneConfig.load(configFile, env,
        new StandaloneConfig.Overrides(null, 0));
    proxy = ProxyServer.start(config, env);
  }

  String baseUrl() {
    String url = upstream.url("/").toString();
    return url.substring(0, url.length() - 1);
  }

  static String defaultYaml() {
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
  static String withServer(String lines) {
    return defaultYaml().replace("server:\n", "server:\n" + lines);
  }

  static String yamlWithout(String section) {
    StringBuilder sb = new StringBuilder();
    boolean skipping = false;
    for (String line : defaultYaml().split("\n")) {
      if (!line.startsWith(" ")) skipping = line.startsWith(section + ":");
      if (!skipping) sb.append(line).append('\n');
    }
    return sb.toString();
  }

  URI uri(String pathAndQuery) {
    return URI.create(proxy.uri() + pathAndQuery);
  }

  HttpRequest.Builder request(String pathAndQuery) {
    return HttpRequest.newBuilder(uri(pathAndQuery)).timeout(Duration.ofSeconds(20));
  }

  HttpResponse<String> send(HttpRequest request) throws Exception {
    return http.send(request, HttpResponse.BodyHandlers.ofString());
  }

  HttpResponse<String> post(String pathAndQuery, String body, String... headers)
      throws Exception {
    HttpRequest.Builder b = request(pathAndQuery).POST(HttpRequest.BodyPublishers.ofString(body))
        .header("Content-Type", "application/json");
    if (headers.length > 0) b.headers(headers);
    return send(b.build());
  }

  HttpResponse<String> get(String pathAndQuery, String... headers) throws Exception {
    HttpRequest.Builder b = request(pathAndQuery).GET();
    if (headers.length > 0) b.headers(headers);
    return send(b.build());
  }

  HttpResponse<String> admin(String method, String path, String body) throws Exception {
    HttpRequest.Builder b = request(path).header("Authorization", "Bearer " + ADMIN)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(body));
    return send(b.build());
  }

  void enqueue(int code, String body) {
    upstream.enqueue(new MockResponse.Builder().code(code).body(body)
        .addHeader("Content-Type", "application/json; charset=UTF-8").build());
  }

  /** Sends raw HTTP/1.1 bytes and returns the whole raw response (connection closed after). */
  String raw(String request) throws IOException {
    try (Socket s = new Socket("127.0.0.1", proxy.port())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(request.getBytes(StandardCharsets.UTF_8));
      out.flush();
      InputStream in = s.getInputStream();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  @Override
  public void close() {
    try {
      proxy.close();
    } finally {
      upstream.close();
    }
  }
}
