package dev.geminirotator.genai;

import static dev.geminirotator.genai.Pool.MODEL;
import static dev.geminirotator.genai.Pool.json;
import static dev.geminirotator.genai.Pool.take;
import static org.assertj.core.api.Assertions.assertThat;

import com.google.genai.Client;
import com.google.genai.types.GenerateContentConfig;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.Test;

/** Per-call SDK retry options are brought back to one attempt, and said so once per client. */
class SingleSdkAttemptTest {

  @Test
  void perCallRetryOptionsAreOverriddenAndLoggedOncePerClient() throws Exception {
    FakeClock clock = FakeClock.standard();
    GenerateContentConfig retrying = GenerateContentConfig.builder()
        .httpOptions(HttpOptions.builder().retryOptions(HttpRetryOptions.builder()
            .attempts(4).initialDelay(0.01).maxDelay(0.01).build()))
        .build();
    ByteArrayOutputStream logged = new ByteArrayOutputStream();
    PrintStream stderr = System.err;
    System.setErr(new PrintStream(logged, true, StandardCharsets.UTF_8));
    try (MockWebServer gemini = new MockWebServer();
        GeminiKeyRotator rotator = Pool.rotator(clock)) {
      gemini.start();
      for (int i = 0; i < 2; i++) {
        gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
        gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
      }
      try (Client client = GeminiGenAi.builder()
          .interceptor(Pool.interceptor(rotator, clock, Pool.FAST))
          .baseUrl(Pool.baseUrl(gemini)).build()) {

        client.models.generateContent(MODEL, "one", retrying);
        client.models.generateContent(MODEL, "two", retrying);
      }

      assertThat(take(gemini, 4)).extracting(Pool::keyOf)
          .containsExactly("k1", "k2", "k3", "k2");
    } finally {
      System.setErr(stderr);
    }
    String log = logged.toString(StandardCharsets.UTF_8);
    assertThat(log.lines().filter(l -> l.contains("WARN") && l.contains("SingleSdkAttempt")))
        .singleElement().asString()
        .contains("asked the GenAI SDK for 4 attempts (httpOptions.retryOptions.attempts)");
  }
}
