package dev.geminirotator.examples.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.ReadmeSnippets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Runs the example's program against a fake Gemini whose first answer is a per-minute 429: the
 * program must still print the answer (retried on another key), stream the SSE answer, and show
 * the first key cooling.
 */
class InterceptorExampleTest {

  private static final List<String> KEYS = List.of("AIzaSyEXAMPLE-interceptor-key-one-01",
      "AIzaSyEXAMPLE-interceptor-key-two-02", "AIzaSyEXAMPLE-interceptor-key-three3");

  private static final Path SOURCE =
      Path.of("src/main/java/dev/geminirotator/examples/okhttp/InterceptorExample.java");

  private MockWebServer gemini;

  @BeforeEach
  void start() throws Exception {
    gemini = new MockWebServer();
    gemini.start();
  }

  @AfterEach
  void stop() {
    gemini.close();
  }

  @Test
  void generatesAndStreamsOverThePoolRetryingA429OnTheNextKey() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    gemini.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(Fixtures.geminiResponse("stream-generate-content.sse")).build());
    String base = gemini.url("/").toString().replaceAll("/$", "");

    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    InterceptorExample.run(base, "gemini-2.5-flash", KEYS, new PrintStream(bytes, true,
        StandardCharsets.UTF_8));
    String output = bytes.toString(StandardCharsets.UTF_8);

    RecordedRequest limited = gemini.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest retried = gemini.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest streamed = gemini.takeRequest(5, TimeUnit.SECONDS);
    // Round-robin from the first key; the 429 is retried at once on the next one, and the
    // cooled first key is skipped for the stream.
    assertThat(limited.getHeaders().get("x-goog-api-key")).isEqualTo(KEYS.get(0));
    assertThat(retried.getHeaders().get("x-goog-api-key")).isEqualTo(KEYS.get(1));
    assertThat(streamed.getHeaders().get("x-goog-api-key")).isEqualTo(KEYS.get(2));
    assertThat(limited.getTarget()).isEqualTo("/v1beta/models/gemini-2.5-flash:generateContent");
    assertThat(streamed.getTarget())
        .isEqualTo("/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse");
    assertThat(retried.getBody().utf8()).contains("Why rotate API keys?");

    assertThat(output).contains("generateContent 200: Key rotation spreads requests");
    assertThat(output).contains("streamGenerateContent 200: [Key rotation]"
        + " [ spreads requests across several credentials] [ so no single one exhausts its"
        + " quota.]");
    assertThat(output).containsPattern("key k1 \\S+ RATE_LIMITED cooling \\[gemini-2.5-flash]");
    assertThat(output).containsPattern("key k2 \\S+ HEALTHY\\n");
    for (String key : KEYS) assertThat(output).doesNotContain(key);
  }

  @Test
  void readmeShowsTheExamplesClientExactly() {
    ReadmeSnippets.assertInReadme(SOURCE, "interceptor-minimal");
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).body(body)
        .addHeader("Content-Type", "application/json").build();
  }
}
