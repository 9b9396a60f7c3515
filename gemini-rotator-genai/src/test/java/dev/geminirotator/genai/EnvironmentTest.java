package dev.geminirotator.genai;

import static dev.geminirotator.genai.Pool.MODEL;
import static dev.geminirotator.genai.Pool.json;
import static dev.geminirotator.genai.Pool.take;
import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.google.genai.Client;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.Test;

/**
 * The SDK reads {@code GOOGLE_GENAI_USE_VERTEXAI} and {@code GOOGLE_API_KEY} from the environment
 * when a client is built; this module's pom sets both for its tests, as a developer's shell may.
 * The client must still call the Gemini API with pool keys.
 */
class EnvironmentTest {

  @Test
  void aVertexFlagOrAKeyInTheEnvironmentChangesNothing() throws Exception {
    assumeTrue("true".equals(System.getenv("GOOGLE_GENAI_USE_VERTEXAI")),
        "run by Maven, whose Surefire sets GOOGLE_GENAI_USE_VERTEXAI=true");
    try (MockWebServer gemini = new MockWebServer();
        GeminiKeyRotator rotator = Pool.rotator(FakeClock.standard())) {
      gemini.start();
      gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
      try (Client client = GeminiGenAi.builder().rotator(rotator)
          .baseUrl(Pool.baseUrl(gemini)).build()) {

        client.models.generateContent(MODEL, "hi", null);

        assertThat(client.vertexAI()).isFalse();
        RecordedRequest request = take(gemini, 1).get(0);
        assertThat(Pool.keyOf(request)).isEqualTo("k1");
        assertThat(request.getTarget()).endsWith("/models/" + MODEL + ":generateContent")
            .doesNotContain("publishers").doesNotContain("projects");
        assertThat(request.getHeaders().toString() + request.getTarget())
            .doesNotContain(System.getenv("GOOGLE_API_KEY"));
      }
    }
  }
}
