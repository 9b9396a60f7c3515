package dev.geminirotator.standalone.reliability;

import static dev.geminirotator.standalone.Harness.ADMIN;
import static dev.geminirotator.standalone.Harness.GENERATE;
import static dev.geminirotator.standalone.Harness.TOKEN;
import static dev.geminirotator.standalone.Harness.TOKEN_2;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.standalone.Harness;
import dev.geminirotator.standalone.Harness.Yaml;
import dev.geminirotator.testsupport.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Client mistakes and attacks, sent as raw bytes: each gets a 4xx problem document (never a 500,
 * never Jetty's HTML page), nothing reaches the upstream that should not, and the proxy stays
 * healthy. Complements HardeningTest (dot segments with a token, unknown methods, odd query
 * characters) and RetryAndAccessTest (413 on declared and chunked bodies).
 */
@ExtendWith(SecretScan.class)
class BadInputTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String AUTH = "x-goog-api-key: " + TOKEN + "\r\n";

  Harness f;

  @AfterEach
  void stop() {
    if (f != null) f.close();
  }

  void start(Yaml yaml) throws Exception {
    f = Harness.start(yaml);
  }

  /** A raw GET with these extra header lines, closing the connection. */
  String rawGet(String target, String headers) throws IOException {
    return f.rawLatin1("GET " + target + " HTTP/1.1\r\nHost: x\r\n" + headers
        + "Connection: close\r\n\r\n");
  }

  static int status(String raw) {
    return Integer.parseInt(raw.substring(9, 12));
  }

  static String body(String raw) {
    return raw.substring(raw.indexOf("\r\n\r\n") + 4);
  }

  /** Asserts a 4xx problem document with this status and returns it. */
  static JsonNode assertProblem(String what, String raw, int expected) throws IOException {
    SecretScan.record(raw);
    assertThat(raw).as(what).startsWith("HTTP/1.1 " + expected);
    // The proxy's own routes answer problem documents; Gemini routes Gemini's error shape.
    assertThat(raw).as(what).containsPattern(
        "(?i)Content-Type: application/(problem\\+json|json; charset=utf-8)");
    JsonNode problem = Harness.problem(body(raw));
    assertThat(problem.get("status").asInt()).as(what).isEqualTo(expected);
    assertThat(problem.get("type").asText()).as(what)
        .startsWith("https://gemini-rotator.dev/problems/");
    assertThat(problem.get("detail").asText()).as(what).isNotBlank();
    return problem;
  }

  /**
   * The same over fresh connections: with a short idle timeout the server may close a pooled
   * keep-alive connection just as the JDK client reuses it.
   */
  void assertStillHealthyOnNewConnections() throws Exception {
    assertThat(rawGet("/health", "")).startsWith("HTTP/1.1 200");
    f.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(f.rawLatin1("POST " + GENERATE + " HTTP/1.1\r\nHost: x\r\n" + AUTH
        + "Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"))
        .startsWith("HTTP/1.1 200");
  }

  void assertStillHealthy() throws Exception {
    assertThat(f.get("/health").statusCode()).isEqualTo(200);
    f.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(f.generate().statusCode()).isEqualTo(200);
  }

  @Test
  void malformedAndTruncatedJsonIsForwardedByteForByteNotParsed() throws Exception {
    start(Yaml.keys(2));
    String invalid = Fixtures.geminiError("400-invalid-argument");
    List<String> bodies = List.of("{\"contents\":[{\"parts\":[{\"text\":\"hi\"", "not json",
        "{\"contents\":}", "[1,2,", "{\"a\":\"\\ud800\"}");
    for (String body : bodies) {
      f.enqueue(400, invalid);
      var response = f.post(GENERATE, body, "x-goog-api-key", TOKEN);
      assertThat(response.statusCode()).as(body).isEqualTo(400);
      assertThat(response.body()).as("Gemini's own answer, unchanged").isEqualTo(invalid);
      RecordedRequest seen = f.upstream.takeRequest(5, TimeUnit.SECONDS);
      assertThat(seen.getBody().utf8()).isEqualTo(body);
    }
    // The OpenAI route reads "model" from the body: a truncated body must not trip it.
    f.enqueue(400, invalid);
    String truncated = "{\"model\": \"gemini-2.5-fl";
    var openAi = f.post("/v1beta/openai/chat/completions", truncated, "x-goog-api-key", TOKEN);
    assertThat(openAi.statusCode()).isEqualTo(400);
    assertThat(f.upstream.takeRequest(5, TimeUnit.SECONDS).getBody().utf8()).isEqualTo(truncated);
    assertThat(f.upstream.getRequestCount()).as("client errors are not retried")
        .isEqualTo(bodies.size() + 1);
    assertStillHealthy();
  }

  @Test
  void aBodyShorterThanItsContentLengthGets408Not500() throws Exception {
    start(Yaml.keys(2).server("  idle-timeout: 1s\n"));
    String head = "POST " + GENERATE + " HTTP/1.1\r\nHost: x\r\n" + AUTH
        + "Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"contents\":";
    String raw = f.rawLatin1(head);
    JsonNode problem = assertProblem("stalled body", raw, 408);
    assertThat(problem.get("error").get("status").asText()).isEqualTo("DEADLINE_EXCEEDED");
    assertThat(f.upstream.getRequestCount()).isZero();
    assertStillHealthyOnNewConnections();
  }

  @Test
  void oversizedHeadersGet431AndOversizedChunkedBodies413() throws Exception {
    start(Yaml.keys(2).server("  max-request-size: 1KB\n"));
    assertProblem("one huge header", rawGet("/v1beta/models", AUTH + "X-Big: "
        + "a".repeat(20_000) + "\r\n"), 431);
    StringBuilder many = new StringBuilder(AUTH);
    for (int i = 0; i < 400; i++) many.append("X-H").append(i).append(": ").append("v".repeat(40))
        .append("\r\n");
    assertProblem("many headers", rawGet("/v1beta/models", many.toString()), 431);

    String chunk = "b".repeat(600);
    String chunked = "POST " + GENERATE + " HTTP/1.1\r\nHost: x\r\n" + AUTH
        + "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        + Integer.toHexString(600) + "\r\n" + chunk + "\r\n"
        + Integer.toHexString(600) + "\r\n" + chunk + "\r\n0\r\n\r\n";
    JsonNode problem = assertProblem("chunked body over the limit", f.rawLatin1(chunked), 413);
    assertThat(problem.get("detail").asText()).contains("1024");
    assertThat(f.upstream.getRequestCount()).isZero();
    assertStillHealthy();
  }

  @Test
  void controlCharactersInHeaderValuesAreRefusedWith400() throws Exception {
    start(Yaml.keys(2));
    for (String header : List.of("X-Custom: a\u0000b\r\n", "X-Custom: a\rb\r\n",
        "X-Custom: a\u0001b\r\n", "x-goog-api-key: " + TOKEN + "\u0000\r\n",
        "X-Request-Id: ab\u0000cd\r\n")) {
      // (A bare LF ends a header line, as RFC 9112 lets a server read it: two headers, not one.)
      String raw = rawGet("/v1beta/models", header.startsWith("x-goog") ? header : AUTH + header);
      assertProblem(SecretScan.redact(header.replace("\u0000", "\\0").replace("\r", "\\r")),
          raw, 400);
    }
    assertThat(f.upstream.getRequestCount()).isZero();
    assertStillHealthy();
  }

  @Test
  void aFoldedHeaderLineNeverBecomesAHeaderOfItsOwn() throws Exception {
    // RFC 9112 5.2: a server either refuses obs-fold with 400 or replaces it with spaces before
    // forwarding. Either way the continuation line must not turn into a header of its own.
    start(Yaml.keys(2));
    f.enqueue(200, "{\"models\":[]}");
    String raw = rawGet("/v1beta/models", AUTH + "X-Folded: a\r\n injected: yes\r\n");
    if (status(raw) == 400) {
      assertProblem("folded header", raw, 400);
      assertThat(f.upstream.getRequestCount()).isZero();
    } else {
      assertThat(status(raw)).isEqualTo(200);
      RecordedRequest seen = f.upstream.takeRequest(5, TimeUnit.SECONDS);
      assertThat(seen.getHeaders().values("X-Folded")).containsExactly("a injected: yes");
      assertThat(seen.getHeaders().get("injected")).isNull();
    }
    assertStillHealthy();
  }

  @Test
  void traversalAndEncodedSlashTricksNeverReachTheAdminApiWithoutTheAdminToken()
      throws Exception {
    start(Yaml.keys(2));
    List<String> targets = List.of("/v1beta/../admin/keys", "/v1beta/%2e%2e/admin/keys",
        "/v1beta/%2E%2E/admin/keys", "/v1beta/..%2fadmin/keys", "/v1beta/..%2Fadmin/keys",
        "//admin/keys", "/admin%2fkeys", "/admin%2Fkeys", "/%61dmin/keys", "/admin/./keys",
        "/admin/keys/..", "/x/../admin/keys", "/admin;a=b/keys", "/admin/keys%00",
        "/admin/keys%2500", "/.%2e/admin/keys", "/v1beta/models/..%5cadmin",
        "/v1beta/models/%2e%2e%2f%2e%2e%2fadmin%2fkeys", "/ADMIN/keys",
        "http://127.0.0.1/admin/keys", "/admin/keys?x=/../");
    List<String> seen = new ArrayList<>();
    for (String credentials : List.of("", AUTH, "Authorization: Bearer " + TOKEN + "\r\n")) {
      for (String target : targets) {
        String raw = rawGet(target, credentials);
        int status = status(raw);
        seen.add(status + " " + target);
        assertThat(status).as(target + " with " + (credentials.isEmpty() ? "nothing"
            : "a client token")).isBetween(400, 404);
        assertProblem(target, raw, status);
        assertThat(body(raw)).doesNotContain("\"keys\"").doesNotContain("AIza");
      }
    }
    assertThat(f.upstream.getRequestCount()).isZero();
    // The same tricks with the admin token are still refused unless the path is canonical.
    String withAdmin = rawGet("/v1beta/%2e%2e/admin/keys", "Authorization: Bearer " + ADMIN
        + "\r\n");
    assertProblem("traversal with the admin token", withAdmin, 400);
    assertThat(seen).hasSize(targets.size() * 3);
    assertStillHealthy();
  }

  @Test
  void unknownRoutesAre404AndWrongMethods405Problems() throws Exception {
    start(Yaml.keys(2));
    for (String target : List.of("/", "/v2/models", "/favicon.ico", "/v1betax/models",
        "/health/x", "/metricsx")) {
      JsonNode p = assertProblem(target, rawGet(target, AUTH), 404);
      assertThat(p.get("type").asText()).endsWith("not-found");
    }
    for (String request : List.of("POST /health", "DELETE /metrics", "PUT /health/detailed",
        "TRACE /v1beta/models", "CONNECT /v1beta/models")) {
      String raw = f.rawLatin1(request + " HTTP/1.1\r\nHost: x\r\n" + AUTH
          + "Content-Length: 0\r\nConnection: close\r\n\r\n");
      int status = status(raw);
      assertThat(status).as(request).isIn(400, 405);
      assertProblem(request, raw, status);
      if (status == 405) assertThat(raw).as(request).containsPattern("(?i)\r\nAllow: ");
    }
    String post = f.rawLatin1("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n"
        + "Connection: close\r\n\r\n");
    assertProblem("POST /health", post, 405);
    assertThat(post).contains("Allow: GET, HEAD");
    assertThat(f.upstream.getRequestCount()).isZero();
    assertStillHealthy();
  }

  @Test
  void invalidUtf8InThePathIs400AndInTheQueryIsForwardedVerbatim() throws Exception {
    start(Yaml.keys(2));
    for (String target : List.of("/v1beta/models/%C3%28", "/v1beta/models/%FF:generateContent",
        "/v1beta/models/%ED%A0%80", "/admin/%FF")) {
      assertProblem(target, rawGet(target, AUTH), 400);
    }
    byte[] rawBytes = ("GET /v1beta/models/\u00ff\u00fe HTTP/1.1\r\nHost: x\r\n" + AUTH
        + "Connection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    assertProblem("raw 0xFF in the path", f.raw(rawBytes), 400);
    assertThat(f.upstream.getRequestCount()).isZero();

    f.enqueue(200, "{}");
    assertThat(rawGet("/v1beta/models?pageToken=%FF%FE", AUTH)).startsWith("HTTP/1.1 200");
    assertThat(f.upstream.takeRequest(5, TimeUnit.SECONDS).getTarget())
        .isEqualTo("/v1beta/models?pageToken=%FF%FE");
    // A credential that is not valid UTF-8 is simply not a valid token.
    assertProblem("?key= with bad UTF-8", rawGet("/v1beta/models?key=%FF%C3", ""), 403);
    assertStillHealthy();
  }

  @Test
  void aGarbageRequestIdIsReplacedNeverEchoed() throws Exception {
    start(Yaml.keys(2));
    for (String garbage : List.of("<script>alert(1)</script>", "a".repeat(65), "id with spaces",
        "\u00fcber-id", "x;rm -rf /", "${jndi:ldap://x/a}")) {
      String raw = f.raw(("GET /nothing HTTP/1.1\r\nHost: x\r\nX-Request-Id: " + garbage
          + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.UTF_8));
      JsonNode problem = assertProblem(garbage, raw, 404);
      String id = problem.get("requestId").asText();
      assertThat(id).matches("[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}");
      assertThat(raw).contains("X-Request-Id: " + id).doesNotContain(garbage);
    }
    assertThat(SecretScan.captured()).doesNotContain("<script>").doesNotContain("${jndi");
  }

  @Test
  void thousandsOfQueryParametersAreForwardedOrRefusedWith414() throws Exception {
    start(Yaml.keys(2));
    StringBuilder query = new StringBuilder();
    for (int i = 0; i < 1000; i++) query.append(i == 0 ? "" : "&").append('p').append(i)
        .append("=1");
    f.enqueue(200, "{}");
    String raw = rawGet("/v1beta/models?" + query + "&key=" + TOKEN, "");
    assertThat(raw).startsWith("HTTP/1.1 200");
    assertThat(f.upstream.takeRequest(5, TimeUnit.SECONDS).getTarget())
        .isEqualTo("/v1beta/models?" + query);

    String huge = "a=1&".repeat(20_000);
    assertProblem("80KB of query", rawGet("/v1beta/models?" + huge, AUTH), 414);
    assertThat(f.upstream.getRequestCount()).isEqualTo(1);
    assertStillHealthy();
  }

  @Test
  void keyParametersInAnySpellingNeverReachTheUpstreamAndBrokenEscapesAre400() throws Exception {
    start(Yaml.keys(2));
    for (String key : List.of("KEY", "Key", "%6Bey", "%6b%65%79", "key+", "%20key")) {
      f.enqueue(200, "{}");
      assertThat(rawGet("/v1beta/models?alt=json&" + key + "=" + TOKEN_2, AUTH))
          .as(key).startsWith("HTTP/1.1 200");
      assertThat(f.upstream.takeRequest(5, TimeUnit.SECONDS).getTarget()).as(key)
          .isEqualTo("/v1beta/models?alt=json");
    }
    for (String query : List.of("?x=%", "?x=%zz", "?key%3D=%", "?a=%4")) {
      JsonNode p = assertProblem(query, rawGet("/v1beta/models" + query, AUTH), 400);
      assertThat(p.get("type").asText()).endsWith("bad-query");
    }
    assertThat(f.upstream.getRequestCount()).isEqualTo(6);
    assertStillHealthy();
  }

  /** Reads until the server closes; returns what arrived and how long it took, in ms. */
  static long millisUntilClosed(Socket s, ByteArrayOutputStream got) throws IOException {
    long start = System.nanoTime();
    InputStream in = s.getInputStream();
    byte[] buf = new byte[1024];
    try {
      int n;
      while ((n = in.read(buf)) >= 0) got.write(buf, 0, n);
    } catch (SocketException e) {
      // reset: closed too
    }
    return (System.nanoTime() - start) / 1_000_000;
  }

  @Test
  void slowlorisConnectionsAreClosedByTheIdleTimeoutAndDoNotHurtOthers() throws Exception {
    start(Yaml.keys(2).server("  idle-timeout: 2s\n"));
    List<Socket> lorises = new ArrayList<>();
    try {
      for (int i = 0; i < 30; i++) {
        Socket s = new Socket("127.0.0.1", f.port);
        s.setSoTimeout(10_000);
        s.getOutputStream().write(("GET /v1beta/models HTTP/1.1\r\nHost: x\r\nX-Slow-" + i)
            .getBytes(StandardCharsets.US_ASCII));
        s.getOutputStream().flush();
        lorises.add(s);
      }
      assertStillHealthyOnNewConnections(); // served while 30 half-sent requests hold connections
      for (Socket s : lorises) {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        long millis = millisUntilClosed(s, got);
        assertThat(millis).as("closed by the 2s idle timeout").isLessThan(9_000);
        String answer = got.toString(StandardCharsets.ISO_8859_1);
        assertThat(answer).doesNotContain("HTTP/1.1 5").doesNotContain("HTTP/1.1 200");
      }
    } finally {
      for (Socket s : lorises) s.close();
    }
    assertThat(f.upstream.getRequestCount()).isEqualTo(1);
    assertStillHealthyOnNewConnections();
  }
}
