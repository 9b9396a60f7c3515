package dev.geminirotator.core.readme;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.core.rotation.Strategy;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.ReadmeSnippets;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Runs README's library quick start against a fake Gemini on loopback, and checks that README
 * shows exactly this code, so the snippet can neither stop compiling nor drift.
 */
class QuickStartTest {

  private HttpServer gemini;
  private final List<String> keysSeen = Collections.synchronizedList(new ArrayList<>());
  private String baseUrl;

  @BeforeEach
  void startFakeGemini() throws IOException {
    gemini = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
    gemini.createContext("/", exchange -> {
      String key = exchange.getRequestHeaders().getFirst("x-goog-api-key");
      keysSeen.add(key);
      boolean limited = key.equals("AIzaSy-quick-start-key-A-000000");
      byte[] body = (limited ? Fixtures.geminiError("429-per-minute")
          : Fixtures.geminiResponse("generate-content.json")).getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(limited ? 429 : 200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    gemini.start();
    baseUrl = "http://127.0.0.1:" + gemini.getAddress().getPort();
  }

  @AfterEach
  void stop() {
    gemini.stop(0);
  }

  @Test
  void quickStartRotatesAwayFromARateLimitedKey() throws Exception {
    String keyA = "AIzaSy-quick-start-key-A-000000";
    String keyB = "AIzaSy-quick-start-key-B-000000";
    HttpClient http = HttpClient.newHttpClient();
    String prompt = "{\"contents\":[{\"parts\":[{\"text\":\"Hello\"}]}]}";

    // README:quick-start:begin
    KeyRotator rotator = GeminiKeyRotator.builder()
        .key(ApiKey.builder(keyA).id("team-a").project("project-1").build())
        .key(ApiKey.builder(keyB).id("team-b").project("project-2").build())
        .strategy(Strategy.ROUND_ROBIN)
        .build();
    GeminiClassifier classifier = GeminiClassifier.defaults();

    RequestContext request = RequestContext.forModel("gemini-2.5-flash");
    HttpResponse<String> response = null;
    for (int attempt = 1; attempt <= 3; attempt++) {
      KeyLease lease = rotator.acquire(request);      // throws NoKeyAvailableException
      response = http.send(HttpRequest.newBuilder(
              URI.create(baseUrl + "/v1beta/models/gemini-2.5-flash:generateContent"))
          .header("x-goog-api-key", lease.key().secret())
          .POST(HttpRequest.BodyPublishers.ofString(prompt))
          .build(), HttpResponse.BodyHandlers.ofString());
      HttpResponse<String> r = response;
      Outcome outcome = classifier.classify(r.statusCode(),
          name -> r.headers().firstValue(name).orElse(null),
          r.statusCode() >= 400 ? r.body() : null);
      lease.complete(outcome);                        // cools, invalidates or credits the key
      if (outcome.kind() == Outcome.Kind.SUCCESS) break;
      request = request.excluding(lease.key().id());  // never the same key twice
    }
    // README:quick-start:end

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(keysSeen).containsExactly(keyA, keyB);
    KeySnapshot teamA = rotator.snapshot("team-a").orElseThrow();
    assertThat(teamA.state()).isEqualTo(KeyState.RATE_LIMITED);
    assertThat(teamA.cooldowns()).containsKey("gemini-2.5-flash");
  }

  @Test
  void readmeShowsTheQuickStartExactly() {
    ReadmeSnippets.assertInReadme(
        Path.of("src/test/java/dev/geminirotator/core/readme/QuickStartTest.java"), "quick-start");
  }
}
