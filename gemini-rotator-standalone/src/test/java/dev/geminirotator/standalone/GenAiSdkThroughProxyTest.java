package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.genai.Client;
import com.google.genai.ResponseStream;
import com.google.genai.types.GenerateContentResponse;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import dev.geminirotator.testsupport.Fixtures;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The official Google GenAI Java SDK with {@code HttpOptions.baseUrl} pointed at the proxy and a
 * proxy access token as its API key: generateContent and generateContentStream go through, a 429
 * on the first pool key is retried on the second, and the token never reaches Gemini.
 */
class GenAiSdkThroughProxyTest {

  private Harness h;
  private Client gemini;

  @BeforeEach
  void start() throws Exception {
    h = new Harness("");
    gemini = Client.builder()
        .apiKey(Harness.TOKEN) // the proxy access token, where the SDK puts its key
        .httpOptions(HttpOptions.builder()
            .baseUrl(h.proxy.uri().toString())
            .retryOptions(HttpRetryOptions.builder().attempts(1).build())
            .build())
        .build();
  }

  @AfterEach
  void stop() {
    gemini.close();
    h.close();
  }

  @Test
  void generateAndStreamThroughTheProxyWithAnInvisibleRetry() throws Exception {
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    GenerateContentResponse answer = gemini.models.generateContent("gemini-2.5-flash", "hi", null);
    assertThat(answer.text()).startsWith("Key rotation spreads requests");

    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(Fixtures.geminiResponse("stream-generate-content.sse")).build());
    StringBuilder streamed = new StringBuilder();
    try (ResponseStream<GenerateContentResponse> stream =
        gemini.models.generateContentStream("gemini-2.5-flash", "hi", null)) {
      for (GenerateContentResponse chunk : stream) streamed.append(chunk.text());
    }
    assertThat(streamed.toString()).isEqualTo("Key rotation spreads requests across several"
        + " credentials so no single one exhausts its quota.");

    RecordedRequest first = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest retry = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest stream = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(first.getHeaders().get("x-goog-api-key"))
        .isIn(Harness.KEY_1, Harness.KEY_2)
        .isNotEqualTo(retry.getHeaders().get("x-goog-api-key"));
    assertThat(stream.getTarget()).contains(":streamGenerateContent").contains("alt=sse");
    for (RecordedRequest r : new RecordedRequest[] {first, retry, stream}) {
      assertThat(r.getHeaders().toString()).doesNotContain(Harness.TOKEN);
      assertThat(r.getTarget()).doesNotContain(Harness.TOKEN);
    }
  }
}
