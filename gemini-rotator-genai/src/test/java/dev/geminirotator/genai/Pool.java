package dev.geminirotator.genai;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;

/** Test keys, fake Gemini answers and recorded-request helpers shared by this module's tests. */
final class Pool {

  static final String MODEL = "gemini-2.5-flash";
  static final int KEYS = 3;

  /** Backoff short enough that upstream-error retries do not slow the tests down. */
  static final AttemptPolicy FAST = AttemptPolicy.builder()
      .backoffBase(Duration.ofMillis(1)).backoffMax(Duration.ofMillis(5)).build();

  private Pool() {
  }

  /** The secret of key {@code k<i>}. No secret is a substring of another. */
  static String secret(int i) {
    return "AIzaSyGENAIpoolSecret" + i + "xQ9wLm";
  }

  static List<String> secrets() {
    List<String> secrets = new ArrayList<>();
    for (int i = 1; i <= KEYS; i++) secrets.add(secret(i));
    return secrets;
  }

  static GeminiKeyRotator rotator(FakeClock clock) {
    GeminiKeyRotator.Builder b = GeminiKeyRotator.builder().clock(clock);
    for (int i = 1; i <= KEYS; i++) b.key(ApiKey.of("k" + i, secret(i)));
    return b.build();
  }

  static GeminiKeyInterceptor interceptor(GeminiKeyRotator rotator, FakeClock clock,
      AttemptPolicy policy) {
    return GeminiKeyInterceptor.builder().rotator(rotator).clock(clock).policy(policy).build();
  }

  static String baseUrl(MockWebServer server) {
    return server.url("/").toString().replaceAll("/$", "");
  }

  static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).addHeader("Content-Type", "application/json")
        .body(body).build();
  }

  static MockResponse sse(String body) {
    return new MockResponse.Builder().code(200).addHeader("Content-Type", "text/event-stream")
        .body(body).build();
  }

  /** The id of the pool key a recorded request carried in x-goog-api-key, else what it was. */
  static String keyOf(RecordedRequest request) {
    String header = request.getHeaders().get("x-goog-api-key");
    if (header == null) return "none";
    for (int i = 1; i <= KEYS; i++) {
      if (header.equals(secret(i))) return "k" + i;
    }
    return header.equals(GeminiGenAi.PLACEHOLDER_API_KEY) ? "placeholder" : "other";
  }

  /** The next {@code n} requests the server received, waiting generously for each. */
  static List<RecordedRequest> take(MockWebServer server, int n) throws InterruptedException {
    List<RecordedRequest> requests = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      RecordedRequest request = server.takeRequest(30, TimeUnit.SECONDS);
      if (request == null) throw new AssertionError("request " + (i + 1) + " never came");
      requests.add(request);
    }
    return requests;
  }
}
