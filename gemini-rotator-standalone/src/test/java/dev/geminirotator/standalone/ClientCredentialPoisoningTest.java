package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.GoogleControlHeaders;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import okhttp3.HttpUrl;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Pool poisoning through a client's own credentials: Google answers a request that carries an API
 * key next to an OAuth credential with 401, and one with a second (bad) API key with 400
 * API_KEY_INVALID. Neither may reach the upstream through the proxy, in any spelling, and a 401
 * the client causes anyway never takes a pool key out of rotation.
 */
class ClientCredentialPoisoningTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";
  private static final String OAUTH = "ya29.client-oauth-token-must-not-pass";
  private static final String OTHER_KEY = "AIzaSyCLIENT-own-key-must-not-pass-000";
  private static final Set<String> CREDENTIAL_PARAMETERS = Set.of("key", "access_token",
      "oauth_token", "bearer_token", "passwd", "password", "quotauser", "userproject", "userip");

  /** Query spellings a client may add; every one must be stripped. */
  private static final List<String> QUERIES = List.of(
      "access_token=" + OAUTH, "oauth_token=" + OAUTH, "%61ccess_token=" + OAUTH,
      "ACCESS_TOKEN=" + OAUTH, "Oauth_Token=" + OAUTH, "$access_token=" + OAUTH,
      "%24oauth_token=" + OAUTH, "$key=" + OTHER_KEY, "%24key=" + OTHER_KEY,
      "KEY=" + OTHER_KEY, "%6Bey=" + OTHER_KEY, "bearer_token=" + OAUTH,
      "userProject=evil-project", "$userProject=evil-project", "quotaUser=someone-else",
      "%24quotaUser=someone-else", "alt=sse&access_token=" + OAUTH + "&pageSize=3");

  /** Headers a client may add next to its proxy token; every one must be stripped. */
  private static final List<String[]> HEADERS = List.of(
      new String[] {"Authorization", "Bearer " + OAUTH},
      new String[] {"Cookie", "SID=client-login-cookie"},
      new String[] {"X-Goog-User-Project", "evil-project"},
      new String[] {"X-Goog-Quota-User", "someone-else"});

  private Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  /**
   * Answers as Google does: 401 UNAUTHENTICATED when an OAuth credential or a login cookie
   * arrives next to the key, 400 API_KEY_INVALID for an API key that is not a pool key, 403
   * SERVICE_DISABLED when the quota project is moved to a project without the API, else 200.
   */
  private static Dispatcher google() {
    return new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        HttpUrl url = request.getUrl();
        List<String> keys = new ArrayList<>();
        boolean oauth = request.getHeaders().get("Authorization") != null
            || request.getHeaders().get("Cookie") != null;
        boolean userProject = request.getHeaders().get("X-Goog-User-Project") != null;
        if (request.getHeaders().get("x-goog-api-key") != null) {
          keys.add(request.getHeaders().get("x-goog-api-key"));
        }
        for (int i = 0; i < url.querySize(); i++) {
          String name = normal(url.queryParameterName(i));
          if (name.equals("key")) keys.add(url.queryParameterValue(i));
          if (name.equals("access_token") || name.equals("oauth_token")
              || name.equals("bearer_token")) {
            oauth = true;
          }
          if (name.equals("userproject")) userProject = true;
        }
        if (oauth && !keys.isEmpty()) {
          return json(401, Fixtures.geminiError("401-oauth-next-to-key"));
        }
        for (String key : keys) {
          if (!key.equals(Harness.KEY_1) && !key.equals(Harness.KEY_2)) {
            return json(400, Fixtures.geminiError("400-api-key-invalid"));
          }
        }
        if (userProject) {
          return json(403, Fixtures.geminiError("403-service-disabled"));
        }
        return json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    };
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).addHeader("Content-Type", "application/json")
        .body(body).build();
  }

  private static String normal(String name) {
    String n = name.trim();
    if (n.startsWith("$")) n = n.substring(1);
    return n.toLowerCase(Locale.ROOT);
  }

  @Test
  void clientCredentialsInEverySpellingNeverReachTheUpstreamNorPoisonThePool() throws Exception {
    h = new Harness("");
    h.upstream.setDispatcher(google());
    int sent = 0;
    for (int round = 0; sent < 100; round++) {
      String query = QUERIES.get(round % QUERIES.size());
      String[] header = HEADERS.get(round % HEADERS.size());
      HttpResponse<String> response;
      switch (round % 3) {
        case 0 -> response = h.post(GENERATE + "?" + query, "{}",
            "x-goog-api-key", Harness.TOKEN, header[0], header[1]);
        case 1 -> response = h.post(GENERATE + "?key=" + Harness.TOKEN + "&" + query, "{}",
            header[0].equals("Authorization") ? "Cookie" : header[0],
            header[0].equals("Authorization") ? "SID=x" : header[1]);
        default -> response = h.post(GENERATE + "?" + query, "{}",
            "Authorization", "Bearer " + Harness.TOKEN,
            header[0].equals("Authorization") ? "X-Goog-Quota-User" : header[0], header[1]);
      }
      assertThat(response.statusCode()).as("request %d (%s)", round, query).isEqualTo(200);
      sent++;
    }

    assertThat(h.upstream.getRequestCount()).isEqualTo(100);
    for (int i = 0; i < 100; i++) {
      RecordedRequest r = h.upstream.takeRequest(5, TimeUnit.SECONDS);
      assertThat(r).isNotNull();
      assertThat(r.getHeaders().get("x-goog-api-key")).isIn(Harness.KEY_1, Harness.KEY_2);
      assertThat(r.getHeaders().get("Authorization")).isNull();
      assertThat(r.getHeaders().get("Cookie")).isNull();
      assertThat(r.getHeaders().get("X-Goog-User-Project")).isNull();
      assertThat(r.getHeaders().get("X-Goog-Quota-User")).isNull();
      HttpUrl url = r.getUrl();
      for (int q = 0; q < url.querySize(); q++) {
        assertThat(normal(url.queryParameterName(q))).as(r.getTarget())
            .isNotIn(CREDENTIAL_PARAMETERS);
      }
      assertThat(r.getTarget()).doesNotContain(OAUTH).doesNotContain(OTHER_KEY)
          .doesNotContain(Harness.TOKEN).doesNotContain("evil-project")
          .doesNotContain("someone-else");
    }
    assertEveryKeyHealthy();
  }

  /** Google-namespace and method-override headers a client may add; none may cross. */
  private static final List<String[]> GOOGLE_CONTROL_HEADERS =
      GoogleControlHeaders.carrying(OAUTH);

  /** Headers Gemini clients send; every one must arrive as sent. */
  private static final List<String[]> GEMINI_CLIENT_HEADERS = java.util.stream.Stream.concat(
      java.util.stream.Stream.<String[]>of(new String[] {"Content-Type", "application/json"}),
      GoogleControlHeaders.geminiClientHeaders().stream()).toList();

  /**
   * Answers as Google would: 401 when a second credential (an IAM token, a signed-in user) arrives
   * next to the key, 400 when the method is overridden or the request routed elsewhere, else 200.
   */
  private static Dispatcher googleReadingItsOwnHeaders() {
    return new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        for (String[] header : GOOGLE_CONTROL_HEADERS) {
          if (request.getHeaders().get(header[0]) != null) {
            return header[0].startsWith("X-Goog-IAM") || header[0].contains("AuthUser")
                || header[0].contains("Credential")
                ? json(401, Fixtures.geminiError("401-oauth-next-to-key"))
                : json(400, Fixtures.geminiError("400-api-key-invalid"));
          }
        }
        return json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    };
  }

  @Test
  void googleControlHeadersNeverReachTheUpstreamWhileGeminiClientHeadersDo() throws Exception {
    h = new Harness("");
    h.upstream.setDispatcher(googleReadingItsOwnHeaders());
    for (int i = 0; i < 100; i++) {
      String[] control = GOOGLE_CONTROL_HEADERS.get(i % GOOGLE_CONTROL_HEADERS.size());
      List<String> headers = new ArrayList<>(List.of("x-goog-api-key", Harness.TOKEN,
          control[0], control[1]));
      for (String[] client : GEMINI_CLIENT_HEADERS) headers.addAll(List.of(client));
      HttpResponse<String> response = h.post(GENERATE, "{}", headers.toArray(new String[0]));
      assertThat(response.statusCode()).as("request %d (%s)", i, control[0]).isEqualTo(200);
    }

    assertThat(h.upstream.getRequestCount()).isEqualTo(100);
    for (int i = 0; i < 100; i++) {
      RecordedRequest r = h.upstream.takeRequest(5, TimeUnit.SECONDS);
      assertThat(r).isNotNull();
      for (String[] control : GOOGLE_CONTROL_HEADERS) {
        assertThat(r.getHeaders().get(control[0])).as(control[0]).isNull();
      }
      for (String[] client : GEMINI_CLIENT_HEADERS) {
        assertThat(r.getHeaders().get(client[0])).as(client[0]).isEqualTo(client[1]);
      }
      assertThat(r.getHeaders().toString()).doesNotContain(OAUTH).doesNotContain("evil-project");
    }
    assertEveryKeyHealthy();
  }

  @Test
  void unauthenticatedAnswerIsReturnedAsIsAndBlamesNoKey() throws Exception {
    h = new Harness("");
    for (int i = 0; i < 10; i++) {
      h.enqueue(401, Fixtures.geminiError("401-oauth-next-to-key"));
    }
    for (int i = 0; i < 10; i++) {
      HttpResponse<String> response = h.post(GENERATE, "{}", "x-goog-api-key", Harness.TOKEN);
      assertThat(response.statusCode()).isEqualTo(401);
      assertThat(response.body()).contains("ACCESS_TOKEN_TYPE_UNSUPPORTED");
    }
    assertThat(h.upstream.getRequestCount()).as("a client error is not retried").isEqualTo(10);
    assertEveryKeyHealthy();
  }

  @Test
  void forbiddenFileOfAnotherProjectBlamesNoKey() throws Exception {
    h = new Harness("");
    for (int i = 0; i < 6; i++) h.enqueue(403, Fixtures.geminiError("403-file-permission"));
    // Issue 16: the file is discovered (one key per project); every project answers 403, and
    // the client gets Gemini's own 403.
    assertThat(h.get("/v1beta/files/abc123xyz", "x-goog-api-key", Harness.TOKEN).statusCode())
        .isEqualTo(403);
    int asked = h.upstream.getRequestCount();
    // For a while the proxy remembers that no project holds it: a 404 of its own, no key asked.
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> again = h.get("/v1beta/files/abc123xyz", "x-goog-api-key",
          Harness.TOKEN);
      assertThat(again.statusCode()).isEqualTo(404);
      assertThat(again.headers().firstValue("X-Gemini-Rotator")).contains("resource-unreachable");
    }
    assertThat(h.upstream.getRequestCount()).isEqualTo(asked);
    assertEveryKeyHealthy();
  }

  private void assertEveryKeyHealthy() throws Exception {
    HttpResponse<String> list = h.admin("GET", "/admin/keys", null);
    assertThat(list.statusCode()).isEqualTo(200);
    JsonNode keys = JSON.readTree(list.body()).get("keys");
    assertThat(keys).hasSize(2);
    for (JsonNode key : keys) {
      assertThat(key.get("state").asText()).as(key.get("id").asText()).isEqualTo("HEALTHY");
    }
  }
}
