package dev.geminirotator.examples.genai;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.standalone.ProxyServer;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.ReadmeSnippets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Both SDK examples against a fake Gemini whose first answer is a 429: in-process through the
 * interceptor, and through a real standalone proxy started here. Each must print the answer, and
 * the fake Gemini must have seen the 429 retried on another pool key (with the SDK's own retry
 * left on, both attempts would carry the same key).
 */
class GenAiSdkExamplesTest {

  private static final String KEY_1 = "AIzaSyEXAMPLE-sdk-pool-key-one-0001";
  private static final String KEY_2 = "AIzaSyEXAMPLE-sdk-pool-key-two-0002";
  private static final String TOKEN = "example-client-access-token";

  private MockWebServer gemini;
  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
  private final PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);

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
  void inProcessTheInterceptorRetriesTheSdks429OnTheNextKey() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));

    InProcessExample.run(baseUrl(), "gemini-2.5-flash", List.of(KEY_1, KEY_2), out);

    RecordedRequest first = gemini.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest second = gemini.takeRequest(5, TimeUnit.SECONDS);
    assertThat(first.getHeaders().get("x-goog-api-key")).isEqualTo(KEY_1);
    assertThat(second.getHeaders().get("x-goog-api-key")).isEqualTo(KEY_2);
    // The SDK calls v1 by default.
    assertThat(first.getTarget()).isEqualTo("/v1/models/gemini-2.5-flash:generateContent");
    String output = output();
    assertThat(output).contains("answer: Key rotation spreads requests");
    assertThat(output).contains("RATE_LIMITED").contains("HEALTHY");
    assertThat(output).doesNotContain(KEY_1).doesNotContain(KEY_2);
  }

  @Test
  void throughTheProxyTheSdkHoldsOnlyAnAccessToken(@TempDir Path dir) throws Exception {
    Path config = dir.resolve("gemini-rotator.yaml");
    Files.writeString(config, """
        keys:
          - id: k1
            secret: %s
          - id: k2
            secret: %s
        upstream:
          base-url: %s
        access:
          tokens: [%s]
        logging:
          level: warn
        """.formatted(KEY_1, KEY_2, baseUrl(), TOKEN));
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    gemini.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(Fixtures.geminiResponse("stream-generate-content.sse")).build());

    try (ProxyServer proxy = ProxyServer.start(StandaloneConfig.load(config, Map.of(),
        new StandaloneConfig.Overrides("127.0.0.1", 0)))) {
      ThroughProxyExample.run(proxy.uri().toString(), TOKEN, "gemini-2.5-flash", out);
    }

    RecordedRequest first = gemini.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest retry = gemini.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest stream = gemini.takeRequest(5, TimeUnit.SECONDS);
    assertThat(first.getHeaders().get("x-goog-api-key")).isIn(KEY_1, KEY_2);
    assertThat(retry.getHeaders().get("x-goog-api-key")).isIn(KEY_1, KEY_2)
        .isNotEqualTo(first.getHeaders().get("x-goog-api-key"));
    // The first key's project is cooling, so the stream goes out on the one that answered.
    assertThat(stream.getHeaders().get("x-goog-api-key"))
        .isEqualTo(retry.getHeaders().get("x-goog-api-key"));
    assertThat(stream.getTarget()).contains(":streamGenerateContent").contains("alt=sse");
    for (RecordedRequest r : List.of(first, retry, stream)) {
      assertThat(r.getHeaders().toString() + r.getTarget()).doesNotContain(TOKEN);
    }
    String output = output();
    assertThat(output).contains("answer: Key rotation spreads requests");
    assertThat(output).contains("streamed: Key rotation spreads requests across several"
        + " credentials so no single one exhausts its quota.");
  }

  private String baseUrl() {
    return gemini.url("/").toString().replaceAll("/$", "");
  }

  private String output() {
    return bytes.toString(StandardCharsets.UTF_8);
  }

  @Test
  void readmeShowsTheExamplesSnippetExactly() {
    ReadmeSnippets.assertInReadme(
        Path.of("src/main/java/dev/geminirotator/examples/genai/ThroughProxyExample.java"),
        "genai-proxy");
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).body(body)
        .addHeader("Content-Type", "application/json").build();
  }
}
