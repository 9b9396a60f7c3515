package dev.geminirotator.genai;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.genai.Client;
import com.google.genai.types.GenerateContentResponse;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.ReadmeSnippets;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import mockwebserver3.MockWebServer;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** README's GenAI module snippets, compiled, run against MockWebServer, and matched. */
class ReadmeSnippetsTest {

  private static final Path SELF =
      Path.of("src/test/java/dev/geminirotator/genai/ReadmeSnippetsTest.java");
  private static final String KEY1 = "AIzaSy-readme-genai-key-one-000";
  private static final String KEY2 = "AIzaSy-readme-genai-key-two-000";
  private static final String KEY3 = "AIzaSy-readme-genai-key-three-0";

  private MockWebServer server;

  @BeforeEach
  void start() throws IOException {
    server = new MockWebServer();
    server.start();
    server.enqueue(Pool.json(429, Fixtures.geminiError("429-per-minute")));
    server.enqueue(Pool.json(200, Fixtures.geminiResponse("generate-content.json")));
  }

  @AfterEach
  void stop() {
    server.close();
  }

  private void assertRotated(GenerateContentResponse answer) throws InterruptedException {
    assertThat(answer.text()).startsWith("Key rotation spreads requests");
    assertThat(Pool.take(server, 2)).extracting(r -> r.getHeaders().get("x-goog-api-key"))
        .containsExactly(KEY1, KEY2);
  }

  @Test
  void oneCallSnippetRetriesA429OnTheNextKey() throws Exception {
    String key1 = KEY1;
    String key2 = KEY2;
    String key3 = KEY3;
    // The SDK's process-wide default base URL stands in for Google's endpoint here.
    Client.setDefaultBaseUrls(Optional.of(Pool.baseUrl(server)), Optional.empty());
    try {
      // README:genai-module:begin
      GeminiKeyRotator rotator = GeminiKeyRotator.builder().secrets(key1, key2, key3).build();
      Client gemini = GeminiGenAi.client(rotator); // the SDK holds no key, and never retries
      GenerateContentResponse answer =
          gemini.models.generateContent("gemini-2.5-flash", "Why rotate keys?", null);
      // README:genai-module:end
      assertRotated(answer);
      gemini.close();
      rotator.close();
    } finally {
      Client.setDefaultBaseUrls(Optional.empty(), Optional.empty());
    }
  }

  @Test
  void builderSnippetRetriesA429OnTheNextKey() throws Exception {
    String baseUrl = Pool.baseUrl(server);
    CircuitGuard sharedGuard = ResilientCircuitGuard.builder().build();
    OkHttpClient appClient = new OkHttpClient();
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().secrets(KEY1, KEY2, KEY3).build();

    // README:genai-builder:begin
    Client gemini = GeminiGenAi.builder()
        .interceptor(GeminiKeyInterceptor.builder().rotator(rotator).guard(sharedGuard).build())
        .baseUrl(baseUrl) // omit for Google's endpoint
        .apiVersion("v1beta") // the SDK's default otherwise
        .timeout(Duration.ofMinutes(2)) // one whole call, every key it tries included
        .okHttpClient(appClient.newBuilder()) // e.g. to share the app's connection pool
        .build();
    // README:genai-builder:end

    assertRotated(gemini.models.generateContent("gemini-2.5-flash", "Why rotate keys?", null));
    gemini.close();
    rotator.close();
    appClient.dispatcher().executorService().shutdown();
  }

  @Test
  void readmeShowsBothSnippetsExactly() {
    ReadmeSnippets.assertInReadme(SELF, "genai-module");
    ReadmeSnippets.assertInReadme(SELF, "genai-builder");
  }
}
