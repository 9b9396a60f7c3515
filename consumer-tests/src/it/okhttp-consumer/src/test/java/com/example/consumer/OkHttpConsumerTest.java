package com.example.consumer;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.Test;

/** A user's test: the interceptor from the installed jars, in front of a fake Gemini. */
class OkHttpConsumerTest {

  private static final String MODEL = "gemini-2.5-flash";
  private static final String SECRET_1 = "AIzaConsumerFirstSecret0001";
  private static final String SECRET_2 = "AIzaConsumerSecondSecret002";

  @Test
  void interceptorFromTheInstalledJarIsTheOneUnderTest() {
    String jar = GeminiKeyInterceptor.class.getProtectionDomain().getCodeSource().getLocation()
        .getPath();
    assertThat(jar).matches(".*/local-repo/dev/geminirotator/gemini-rotator-okhttp/[^/]+/"
        + "gemini-rotator-okhttp-[^/]+\\.jar");
  }

  @Test
  void rateLimitedFirstKeyIsRetriedOnTheSecondAndNoPoolKeyReachesTheCaller() throws Exception {
    try (MockWebServer gemini = new MockWebServer()) {
      gemini.start(InetAddress.getByName("127.0.0.1"), 0);
      gemini.enqueue(json(429, fixture("gemini-errors/429-per-minute.json")));
      gemini.enqueue(json(200, fixture("gemini-responses/generate-content.json")));

      GeminiKeyRotator rotator = GeminiKeyRotator.builder()
          .key(ApiKey.builder(SECRET_1).id("k1").build())
          .key(ApiKey.builder(SECRET_2).id("k2").build())
          .build();
      OkHttpClient client = new OkHttpClient.Builder()
          .addInterceptor(GeminiKeyInterceptor.of(rotator))
          .readTimeout(30, TimeUnit.SECONDS)
          .build();
      Request request = new Request.Builder()
          .url(gemini.url("/v1beta/models/" + MODEL + ":generateContent"))
          .post(RequestBody.create("{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}",
              MediaType.get("application/json")))
          .build();

      String answer;
      String headers;
      try (Response response = client.newCall(request).execute()) {
        assertThat(response.code()).isEqualTo(200);
        answer = response.body().string();
        headers = response.headers().toString();
      }

      assertThat(answer).contains("Key rotation spreads requests");
      assertThat(answer + headers).doesNotContain(SECRET_1).doesNotContain(SECRET_2);
      RecordedRequest first = gemini.takeRequest(5, TimeUnit.SECONDS);
      RecordedRequest second = gemini.takeRequest(5, TimeUnit.SECONDS);
      String firstKey = first.getHeaders().get("x-goog-api-key");
      String secondKey = second.getHeaders().get("x-goog-api-key");
      assertThat(List.of(firstKey, secondKey)).containsExactlyInAnyOrder(SECRET_1, SECRET_2);
      String cooled = firstKey.equals(SECRET_1) ? "k1" : "k2";
      assertThat(rotator.snapshot(cooled).orElseThrow().availableFor(MODEL, Instant.now()))
          .as("the key Gemini answered 429 cools for the model's retryDelay")
          .isFalse();
      rotator.close();
    }
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).addHeader("Content-Type", "application/json")
        .body(body).build();
  }

  private static String fixture(String name) throws IOException {
    try (InputStream in = OkHttpConsumerTest.class.getResourceAsStream("/" + name)) {
      assertThat(in).as("fixture " + name).isNotNull();
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
