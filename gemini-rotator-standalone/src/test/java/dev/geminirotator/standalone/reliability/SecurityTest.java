package dev.geminirotator.standalone.reliability;

import static dev.geminirotator.standalone.Harness.ADMIN;
import static dev.geminirotator.standalone.Harness.GENERATE;
import static dev.geminirotator.standalone.Harness.KEYS;
import static dev.geminirotator.standalone.Harness.TOKEN;
import static dev.geminirotator.standalone.Harness.TOKEN_2;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.standalone.Harness;
import dev.geminirotator.standalone.Harness.Yaml;
import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Token checks and the admin switch, through the proxy. Tokens are compared as SHA-256 digests
 * with MessageDigest.isEqual over every configured token (Settings.matchToken/matchAdmin), so
 * near misses of any length and case take the same path; these tests pin the behaviour: only an
 * exact token passes. SecretScan checks every log line, response, admin output and the masked
 * configuration of this class for every secret.
 */
@ExtendWith(SecretScan.class)
class SecurityTest {

  Harness f;

  @AfterEach
  void stop() {
    if (f != null) f.close();
  }

  /** Near misses of a token: prefixes, one character off, case, padding, longer. */
  static List<String> nearMisses(String token) {
    List<String> out = new ArrayList<>();
    out.add(token.substring(0, token.length() - 1));
    out.add(token.substring(0, 1));
    out.add(token.substring(0, token.length() - 1) + (char) (token.charAt(token.length() - 1) + 1));
    out.add((char) (token.charAt(0) + 1) + token.substring(1));
    out.add(token + "x");
    out.add(token + token);
    out.add(token.toUpperCase(Locale.ROOT));
    out.add("x".repeat(token.length()));
    out.add("x".repeat(4_000));
    return out;
  }

  @Test
  void onlyAnExactAccessTokenPassesAndNoNearMissDoes() throws Exception {
    f = Harness.start(Yaml.keys(2));
    for (String token : List.of(TOKEN, TOKEN_2)) {
      f.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
      assertThat(f.post(GENERATE, "{}", "x-goog-api-key", token).statusCode()).isEqualTo(200);
      for (String miss : nearMisses(token)) {
        HttpResponse<String> r = f.post(GENERATE, "{}", "x-goog-api-key", miss);
        SecretScan.record(r.headers().map() + r.body());
        assertThat(r.statusCode()).as("near miss of length %d", miss.length()).isEqualTo(403);
      }
    }
    // The admin token is not an access token, and an access token is not the admin token.
    assertThat(f.post(GENERATE, "{}", "x-goog-api-key", ADMIN).statusCode()).isEqualTo(403);
    HttpResponse<String> asAdmin = f.get("/admin/keys", "Authorization", "Bearer " + TOKEN);
    assertThat(asAdmin.statusCode()).isEqualTo(403);
    for (String miss : nearMisses(ADMIN)) {
      HttpResponse<String> r = f.get("/admin/keys", "Authorization", "Bearer " + miss);
      assertThat(r.statusCode()).as("admin near miss of length %d", miss.length())
          .isEqualTo(403);
    }
    assertThat(f.upstream.getRequestCount()).isEqualTo(2);
    HttpResponse<String> keys = f.admin("GET", "/admin/keys");
    assertThat(keys.statusCode()).isEqualTo(200);
    SecretScan.record(keys.body());
    SecretScan.record(f.admin("GET", "/admin/stats").body());
    SecretScan.record(f.get("/metrics").body());
    SecretScan.record(f.get("/health/detailed").body());
    SecretScan.record(f.proxy.config().toMaskedYaml());
    SecretScan.record(f.proxy.config().toString());
    assertThat(SecretScan.captured()).as("the scan saw the admin output").contains("\"k1\"");
  }

  /** Sends requests back to back on one kept-alive connection; returns their status codes. */
  static List<Integer> onOneConnection(Harness f, List<String> requests) throws Exception {
    StringBuilder all = new StringBuilder();
    for (int i = 0; i < requests.size(); i++) {
      all.append(requests.get(i)).append(i == requests.size() - 1 ? "Connection: close\r\n" : "")
          .append("\r\n");
    }
    String raw = f.rawLatin1(all.toString());
    SecretScan.record(raw);
    List<Integer> statuses = new ArrayList<>();
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("HTTP/1\\.1 (\\d{3}) ")
        .matcher(raw);
    while (m.find()) statuses.add(Integer.parseInt(m.group(1)));
    return statuses;
  }

  @Test
  void tokensAreComparedExactlyOnAKeptAliveConnectionToo() throws Exception {
    f = Harness.start(Yaml.keys(2));
    String exact = "GET /admin/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + ADMIN
        + "\r\n";
    String otherCase = "GET /admin/keys HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer "
        + ADMIN.toUpperCase(Locale.ROOT) + "\r\n";
    // Jetty's header cache once handed the second request the first one's field.
    assertThat(onOneConnection(f, List.of(exact, otherCase))).containsExactly(200, 403);
    assertThat(onOneConnection(f, List.of(otherCase, exact))).containsExactly(403, 200);
    for (int i = 0; i < 2; i++) f.enqueue(200, "{}");
    String bearer = "GET /v1beta/models HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ";
    assertThat(onOneConnection(f, List.of(bearer + TOKEN + "\r\n",
        bearer + TOKEN.toUpperCase(Locale.ROOT) + "\r\n", bearer + TOKEN + "\r\n")))
        .containsExactly(200, 403, 200);
  }

  @Test
  void withoutAnAdminTokenEveryAdminRouteIs404AndChangesNothing() throws Exception {
    f = Harness.start(Yaml.keys(2).admin(""));
    String[][] attempts = {{"GET", "/admin/keys"}, {"GET", "/admin/stats"}, {"GET", "/admin"},
        {"POST", "/admin/reload"}, {"DELETE", "/admin/keys/k1"}, {"POST", "/admin/keys/k1/disable"},
        {"POST", "/admin/keys/k1/reset"}};
    for (String[] a : attempts) {
      for (String bearer : List.of("", TOKEN, ADMIN, "anything-at-all-0123456789")) {
        HttpRequest.Builder b = f.request(a[1]).method(a[0],
            HttpRequest.BodyPublishers.noBody());
        if (!bearer.isEmpty()) b.header("Authorization", "Bearer " + bearer);
        HttpResponse<String> r = f.send(b.build());
        SecretScan.record(r.body());
        assertThat(r.statusCode()).as("%s %s", a[0], a[1]).isEqualTo(404);
        assertThat(r.headers().firstValue("Content-Type")).hasValue("application/problem+json");
        assertThat(r.body()).contains("admin API is disabled");
      }
    }
    assertThat(f.proxy.rotator().snapshot()).hasSize(2)
        .allSatisfy(k -> assertThat(k.state().name()).isEqualTo("HEALTHY"));
    f.enqueue(200, "{}");
    assertThat(f.generate().statusCode()).isEqualTo(200);
  }

  @Test
  void withoutAccessTokensLoopbackClientsAreServedAndTheirCredentialsStayHome()
      throws Exception {
    f = Harness.start(Yaml.keys(2).access(""));
    assertThat(f.proxy.config().hasAccessTokens()).isFalse();
    assertThat(f.proxy.config().server().host()).isEqualTo("127.0.0.1");
    // A loopback client needs no token; whatever it sends as a key is replaced by a pool key.
    f.enqueue(200, "{}");
    assertThat(f.post(GENERATE + "?key=" + TOKEN, "{}", "x-goog-api-key", TOKEN_2,
        "X-Forwarded-For", "203.0.113.9").statusCode()).as("X-Forwarded-For from an untrusted"
        + " peer is ignored").isEqualTo(200);
    var seen = f.upstream.takeRequest();
    String key = seen.getHeaders().get("x-goog-api-key");
    assertThat(KEYS.contains(key))
        .as("a pool key upstream, not %s", SecretScan.redact(String.valueOf(key))).isTrue();
    assertThat(seen.getTarget().contains(TOKEN))
        .as("the client's token in %s", SecretScan.redact(seen.getTarget())).isFalse();
  }
}
