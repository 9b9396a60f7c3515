package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.client;
import static dev.geminirotator.okhttp.Pools.secret;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.GoogleControlHeaders;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.HttpUrl;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The app's own OAuth credentials, cookies and quota attribution never travel next to a pool key:
 * Google answers a key next to an OAuth credential with 401, which would otherwise take pool keys
 * out of rotation.
 */
class CallerCredentialPoisoningTest {

  private static final int KEYS = 4;
  private static final String OAUTH = "ya29.app-oauth-token-must-not-pass";
  private static final String APP_KEY = "AIzaAPPownKeyThatMustNotPass00000";
  private static final Set<String> CREDENTIAL_PARAMETERS = Set.of("key", "access_token",
      "oauth_token", "bearer_token", "passwd", "password", "quotauser", "userproject", "userip");

  private static final List<String> QUERIES = List.of(
      "access_token=" + OAUTH, "oauth_token=" + OAUTH, "%61ccess_token=" + OAUTH,
      "ACCESS_TOKEN=" + OAUTH, "$access_token=" + OAUTH, "%24oauth_token=" + OAUTH,
      "$key=" + APP_KEY, "%24key=" + APP_KEY, "KEY=" + APP_KEY, "%6Bey=" + APP_KEY,
      "key=" + APP_KEY, "userProject=evil-project", "$userProject=evil-project",
      "quotaUser=someone-else", "alt=sse&access_token=" + OAUTH + "&pageSize=3");

  private static final List<String[]> HEADERS = List.of(
      new String[] {"Authorization", "Bearer " + OAUTH},
      new String[] {"x-goog-api-key", APP_KEY},
      new String[] {"Cookie", "SID=app-login-cookie"},
      new String[] {"X-Goog-User-Project", "evil-project"},
      new String[] {"X-Goog-Quota-User", "someone-else"});

  private final FakeClock clock = FakeClock.standard();
  private MockWebServer server;
  private GeminiKeyRotator rotator;

  @BeforeEach
  void start() throws Exception {
    server = new MockWebServer();
    server.setDispatcher(google());
    server.start();
    rotator = Pools.rotator(clock, KEYS);
  }

  @AfterEach
  void stop() {
    server.close();
    rotator.close();
  }

  private static String normal(String name) {
    String n = name.trim();
    if (n.startsWith("$")) n = n.substring(1);
    return n.toLowerCase(Locale.ROOT);
  }

  private static boolean isPoolKey(String key) {
    for (int i = 1; i <= KEYS; i++) {
      if (secret(i).equals(key)) return true;
    }
    return false;
  }

  /** Answers as Google does; see ClientCredentialPoisoningTest in the standalone module. */
  private static Dispatcher google() {
    return new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        HttpUrl url = request.getUrl();
        List<String> keys = new ArrayList<>();
        boolean oauth = request.getHeaders().get("Authorization") != null
            || request.getHeaders().get("Cookie") != null;
        boolean userProject = request.getHeaders().get("X-Goog-User-Project") != null;
        keys.addAll(request.getHeaders().values("x-goog-api-key"));
        for (int i = 0; i < url.querySize(); i++) {
          String name = normal(url.queryParameterName(i));
          if (name.equals("key")) keys.add(url.queryParameterValue(i));
          if (name.equals("access_token") || name.equals("oauth_token")) oauth = true;
          if (name.equals("userproject")) userProject = true;
        }
        if (oauth && !keys.isEmpty()) {
          return Pools.json(401, Fixtures.geminiError("401-oauth-next-to-key"));
        }
        for (String key : keys) {
          if (!isPoolKey(key)) return Pools.json(400, Fixtures.geminiError("400-api-key-invalid"));
        }
        if (userProject) return Pools.json(403, Fixtures.geminiError("403-service-disabled"));
        return Pools.json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    };
  }

  private void callHundredTimes(GeminiKeyInterceptor.KeyPlacement placement) throws Exception {
    OkHttpClient client = client(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock)
        .policy(Pools.FAST).keyPlacement(placement).build());
    for (int i = 0; i < 100; i++) {
      String query = QUERIES.get(i % QUERIES.size());
      String[] header = HEADERS.get(i % HEADERS.size());
      Request request = new Request.Builder()
          .url(server.url(Pools.GENERATE).toString() + "?" + query)
          .header(header[0], header[1])
          .post(RequestBody.create(Pools.PROMPT, Pools.JSON)).build();
      try (Response response = client.newCall(request).execute()) {
        assertThat(response.code()).as("call %d (%s, %s)", i, query, header[0]).isEqualTo(200);
        response.body().string();
      }
    }
    assertThat(server.getRequestCount()).isEqualTo(100);
    for (int i = 0; i < 100; i++) {
      RecordedRequest r = server.takeRequest(5, TimeUnit.SECONDS);
      assertThat(r).isNotNull();
      assertThat(r.getHeaders().get("Authorization")).isNull();
      assertThat(r.getHeaders().get("Cookie")).isNull();
      assertThat(r.getHeaders().get("X-Goog-User-Project")).isNull();
      assertThat(r.getHeaders().get("X-Goog-Quota-User")).isNull();
      List<String> keys = new ArrayList<>(r.getHeaders().values("x-goog-api-key"));
      HttpUrl url = r.getUrl();
      for (int q = 0; q < url.querySize(); q++) {
        String name = normal(url.queryParameterName(q));
        if (name.equals("key") && url.queryParameterName(q).equals("key")) {
          keys.add(url.queryParameterValue(q));
          continue; // the pool key, where KeyPlacement.QUERY puts it
        }
        assertThat(name).as(r.getTarget()).isNotIn(CREDENTIAL_PARAMETERS);
      }
      assertThat(keys).as(r.getTarget()).hasSize(1);
      assertThat(isPoolKey(keys.get(0))).isTrue();
      assertThat(r.getTarget()).doesNotContain(OAUTH).doesNotContain(APP_KEY)
          .doesNotContain("evil-project").doesNotContain("someone-else");
    }
    for (int i = 1; i <= KEYS; i++) {
      assertThat(rotator.snapshot("k" + i).orElseThrow().state()).as("k" + i)
          .isEqualTo(KeyState.HEALTHY);
    }
  }

  @Test
  void appCredentialsInEverySpellingNeverTravelNextToAPoolKeyInTheHeader() throws Exception {
    callHundredTimes(GeminiKeyInterceptor.KeyPlacement.HEADER);
  }

  @Test
  void appCredentialsInEverySpellingNeverTravelNextToAPoolKeyInTheQuery() throws Exception {
    callHundredTimes(GeminiKeyInterceptor.KeyPlacement.QUERY);
  }

  /** Google-namespace and method-override headers an app may set; none may travel. */
  private static final List<String[]> GOOGLE_CONTROL_HEADERS =
      GoogleControlHeaders.carrying(OAUTH);

  /** Headers Gemini clients send; every one must arrive as set. */
  private static final List<String[]> GEMINI_CLIENT_HEADERS =
      GoogleControlHeaders.geminiClientHeaders();

  @Test
  void googleControlHeadersNeverTravelNextToAPoolKeyWhileGeminiClientHeadersDo()
      throws Exception {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        for (String[] header : GOOGLE_CONTROL_HEADERS) {
          if (request.getHeaders().get(header[0]) != null) {
            // A second credential next to the key: Google answers 401 for the key.
            return Pools.json(401, Fixtures.geminiError("401-oauth-next-to-key"));
          }
        }
        return Pools.json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    });
    OkHttpClient client = client(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock)
        .policy(Pools.FAST).build());
    for (int i = 0; i < 100; i++) {
      String[] control = GOOGLE_CONTROL_HEADERS.get(i % GOOGLE_CONTROL_HEADERS.size());
      Request.Builder b = new Request.Builder().url(server.url(Pools.GENERATE))
          .header(control[0], control[1])
          .post(RequestBody.create(Pools.PROMPT, Pools.JSON));
      for (String[] h : GEMINI_CLIENT_HEADERS) b.header(h[0], h[1]);
      try (Response response = client.newCall(b.build()).execute()) {
        assertThat(response.code()).as("call %d (%s)", i, control[0]).isEqualTo(200);
        response.body().string();
      }
    }
    assertThat(server.getRequestCount()).isEqualTo(100);
    for (int i = 0; i < 100; i++) {
      RecordedRequest r = server.takeRequest(5, TimeUnit.SECONDS);
      assertThat(r).isNotNull();
      for (String[] control : GOOGLE_CONTROL_HEADERS) {
        assertThat(r.getHeaders().get(control[0])).as(control[0]).isNull();
      }
      for (String[] h : GEMINI_CLIENT_HEADERS) {
        assertThat(r.getHeaders().get(h[0])).as(h[0]).isEqualTo(h[1]);
      }
      assertThat(r.getHeaders().toString()).doesNotContain(OAUTH).doesNotContain("evil-project");
    }
    for (int i = 1; i <= KEYS; i++) {
      assertThat(rotator.snapshot("k" + i).orElseThrow().state()).as("k" + i)
          .isEqualTo(KeyState.HEALTHY);
    }
  }
}
