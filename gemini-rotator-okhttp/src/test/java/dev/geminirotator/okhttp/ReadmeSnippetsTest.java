package dev.geminirotator.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.genai.Client;
import com.google.genai.types.ClientOptions;
import com.google.genai.types.GenerateContentResponse;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.core.rotation.Strategy;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.ReadmeSnippets;
import java.io.IOException;
import java.nio.file.Path;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** README's interceptor and SDK snippets, compiled, run against MockWebServer, and matched. */
class ReadmeSnippetsTest {

  private static final Path SELF =
      Path.of("src/test/java/dev/geminirotator/okhttp/ReadmeSnippetsTest.java");

  private MockWebServer server;
  private String baseUrl;

  @BeforeEach
  void start() throws IOException {
    server = new MockWebServer();
    server.start();
    baseUrl = server.url("/").toString().replaceAll("/$", "");
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private void enqueue(int code, String body) {
    server.enqueue(new MockResponse.Builder().code(code).body(body)
        .addHeader("Content-Type", "application/json").build());
  }

  @Test
  void interceptorSnippetRetriesA429OnTheNextKey() throws Exception {
    enqueue(429, Fixtures.geminiError("429-per-minute"));
    enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    String key1 = "AIzaSy-readme-key-one-00000000";
    String key2 = "AIzaSy-readme-key-two-00000000";
    String key3 = "AIzaSy-readme-key-three-000000";

    // README:interceptor:begin
    GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .key(ApiKey.builder(key1).id("k1").project("project-a").build())
        .key(ApiKey.builder(key2).id("k2").project("project-b").weight(2).build())
        .key(ApiKey.builder(key3).id("k3").project("project-b").requestsPerMinute(60).build())
        .strategy(Strategy.WEIGHTED)
        .build();
    OkHttpClient client = new OkHttpClient.Builder()
        .addInterceptor(GeminiKeyInterceptor.builder()
            .rotator(rotator)
            .guard(ResilientCircuitGuard.of(BreakerPolicy.defaults()))
            .build())
        .build();
    // README:interceptor:end

    Request request = new Request.Builder()
        .url(baseUrl + "/v1beta/models/gemini-2.5-flash:generateContent")
        .header("x-goog-api-key", "whatever-the-app-had")
        .post(RequestBody.create("{}", MediaType.get("application/json")))
        .build();
    try (Response response = client.newCall(request).execute()) {
      assertThat(response.code()).isEqualTo(200);
    }
    String first = server.takeRequest().getHeaders().get("x-goog-api-key");
    String second = server.takeRequest().getHeaders().get("x-goog-api-key");
    assertThat(first).isIn(key1, key2, key3);
    assertThat(second).isIn(key1, key2, key3).isNotEqualTo(first);
    rotator.close();
  }

  @Test
  void sdkSnippetRunsThroughTheInterceptor() throws Exception {
    enqueue(429, Fixtures.geminiError("429-per-minute"));
    enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    String key1 = "AIzaSy-readme-key-one-00000000";
    String key2 = "AIzaSy-readme-key-two-00000000";
    String key3 = "AIzaSy-readme-key-three-000000";

    // README:genai-sdk:begin
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().secrets(key1, key2, key3).build();
    OkHttpClient okHttp = new OkHttpClient.Builder()
        .addInterceptor(GeminiKeyInterceptor.of(rotator))
        .build();
    Client gemini = Client.builder()
        .apiKey("unused") // the SDK wants one; the interceptor swaps in a pool key
        .clientOptions(ClientOptions.builder().customHttpClient(okHttp).build())
        .httpOptions(HttpOptions.builder()
            .baseUrl(baseUrl) // omit to call Google directly
            // the SDK's own retry would repeat a 429 on the same key: let the rotator retry
            .retryOptions(HttpRetryOptions.builder().attempts(1).build())
            .build())
        .build();
    GenerateContentResponse answer =
        gemini.models.generateContent("gemini-2.5-flash", "Why rotate keys?", null);
    // README:genai-sdk:end

    assertThat(answer.text()).startsWith("Key rotation spreads requests");
    assertThat(server.takeRequest().getHeaders().get("x-goog-api-key")).isEqualTo(key1);
    assertThat(server.takeRequest().getHeaders().get("x-goog-api-key")).isEqualTo(key2);
    gemini.close();
    rotator.close();
  }

  @Test
  void readmeShowsBothSnippetsExactly() {
    ReadmeSnippets.assertInReadme(SELF, "interceptor");
    ReadmeSnippets.assertInReadme(SELF, "genai-sdk");
  }
}
