package dev.geminirotator.okhttp;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RotatorStats;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;

/** Pools of test keys, clients and requests shared by this module's tests. */
final class Pools {

  static final String MODEL = "gemini-2.5-flash";
  static final String GENERATE = "/v1beta/models/" + MODEL + ":generateContent";
  static final String STREAM = "/v1beta/models/" + MODEL + ":streamGenerateContent?alt=sse";
  static final MediaType JSON = MediaType.get("application/json");
  static final String PROMPT = "{\"contents\":[{\"parts\":[{\"text\":\"hello\"}]}]}";
  /** The caller's own credential: it must never reach the server. */
  static final String CALLER_SECRET = "AIzaCALLERsecretThatMustNotLeak";

  /** Backoff short enough that upstream-error retries do not slow the tests down. */
  static final AttemptPolicy FAST = AttemptPolicy.builder()
      .backoffBase(Duration.ofMillis(1)).backoffMax(Duration.ofMillis(5)).build();

  private Pools() {
  }

  /** The secret of key {@code k<i>}. No secret is a substring of another. */
  static String secret(int i) {
    return "AIzaPOOLsecret" + i + "xQ9w";
  }

  static List<ApiKey> keys(int n) {
    List<ApiKey> keys = new ArrayList<>();
    for (int i = 1; i <= n; i++) keys.add(ApiKey.of("k" + i, secret(i)));
    return keys;
  }

  static GeminiKeyRotator rotator(FakeClock clock, int n) {
    return GeminiKeyRotator.builder().keys(keys(n)).clock(clock).build();
  }

  /** A client that leaves everything to the interceptor: no OkHttp retry on connection failure. */
  static OkHttpClient client(GeminiKeyInterceptor interceptor) {
    return new OkHttpClient.Builder()
        .addInterceptor(interceptor)
        .retryOnConnectionFailure(false)
        .readTimeout(10, TimeUnit.SECONDS)
        .build();
  }

  static Request generate(MockWebServer server) {
    return new Request.Builder().url(server.url(GENERATE))
        .post(RequestBody.create(PROMPT, JSON)).build();
  }

  static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).addHeader("Content-Type", "application/json")
        .body(body).build();
  }

  /** The id of the pool key a recorded request carried in x-goog-api-key, or "none". */
  static String keyOf(RecordedRequest request) {
    String header = request.getHeaders().get("x-goog-api-key");
    if (header == null) return "none";
    for (int i = 1; i <= 64; i++) {
      if (header.equals(secret(i))) return "k" + i;
    }
    return "unknown:" + header.length();
  }

  static RecordedRequest take(MockWebServer server) throws InterruptedException {
    RecordedRequest request = server.takeRequest(10, TimeUnit.SECONDS);
    if (request == null) throw new AssertionError("the server received no request in time");
    return request;
  }

  static long outcomes(RotatorStats stats, Outcome.Kind kind) {
    return stats.outcomes().getOrDefault(kind, 0L);
  }
}
