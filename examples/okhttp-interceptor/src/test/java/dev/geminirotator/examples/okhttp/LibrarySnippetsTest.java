package dev.geminirotator.examples.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.event.CooldownStarted;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.api.event.StateTransition;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.metrics.RotatorMetrics;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.ReadmeSnippets;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
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

/**
 * README's events and Micrometer snippets, run against a fake Gemini that rate-limits one key
 * and rejects another: the listener must hear both, and the registry must count them.
 */
class LibrarySnippetsTest {

  private static final Path SELF =
      Path.of("src/test/java/dev/geminirotator/examples/okhttp/LibrarySnippetsTest.java");

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
  void eventsAndMetricsSeeACooldownAndARejectedKey() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(json(400, Fixtures.geminiError("400-api-key-invalid")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    String key1 = "AIzaSyEXAMPLE-events-key-one-000001";
    String key2 = "AIzaSyEXAMPLE-events-key-two-000002";
    String key3 = "AIzaSyEXAMPLE-events-key-three-0003";
    List<String> log = Collections.synchronizedList(new ArrayList<>());
    MeterRegistry registry = new SimpleMeterRegistry();

    // README:events:begin
    GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .secrets(key1, key2, key3)
        .listener(new RotatorListener() {
          @Override
          public void onCooldown(CooldownStarted e) {
            log.add("cooling " + e.project() + " for " + e.model() + " until " + e.until());
          }

          @Override
          public void onStateTransition(StateTransition e) {
            log.add(e.keyId() + " " + e.from() + " -> " + e.to() + ": " + e.reason());
          }
        })
        .build();
    // README:events:end

    // README:micrometer:begin
    ResilientCircuitGuard guard = ResilientCircuitGuard.of(BreakerPolicy.defaults());
    RotatorMetrics.builder(rotator).guard(guard).build().bindTo(registry);
    OkHttpClient client = new OkHttpClient.Builder()
        .addInterceptor(GeminiKeyInterceptor.builder().rotator(rotator).guard(guard).build())
        .build();
    // README:micrometer:end

    try (Response response = client.newCall(new Request.Builder()
        .url(gemini.url("/v1beta/models/gemini-2.5-flash:generateContent"))
        .post(RequestBody.create("{}", MediaType.get("application/json"))).build()).execute()) {
      assertThat(response.code()).isEqualTo(200);
    }

    assertThat(log).anyMatch(l -> l.startsWith("cooling ") && l.contains(" for gemini-2.5-flash"));
    assertThat(log).anyMatch(l -> l.contains(" HEALTHY -> INVALID: "));
    assertThat(String.join("\n", log)).doesNotContain(key1).doesNotContain(key2)
        .doesNotContain(key3);
    assertThat(registry.get("gemini.rotator.cooldowns").functionCounter().count()).isEqualTo(1);
    assertThat(registry.get("gemini.rotator.keys").tag("state", "invalid").gauge().value())
        .isEqualTo(1);
    assertThat(registry.get("gemini.rotator.breaker.state").tag("scope", "*").gauge().value())
        .isZero();
    rotator.close();
  }

  @Test
  void readmeShowsTheSnippetsExactly() {
    ReadmeSnippets.assertInReadme(SELF, "events");
    ReadmeSnippets.assertInReadme(SELF, "micrometer");
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).body(body)
        .addHeader("Content-Type", "application/json").build();
  }
}
