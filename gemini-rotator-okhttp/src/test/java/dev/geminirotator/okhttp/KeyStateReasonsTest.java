package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.FAST;
import static dev.geminirotator.okhttp.Pools.MODEL;
import static dev.geminirotator.okhttp.Pools.client;
import static dev.geminirotator.okhttp.Pools.generate;
import static dev.geminirotator.okhttp.Pools.json;
import static dev.geminirotator.okhttp.Pools.keyOf;
import static dev.geminirotator.okhttp.Pools.take;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.time.Instant;
import java.util.List;
import mockwebserver3.MockWebServer;
import okhttp3.OkHttpClient;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The interceptor path: a cooled key's snapshot says why, with Gemini's quota id, and until when. */
class KeyStateReasonsTest {

  private final FakeClock clock = FakeClock.standard(); // 2026-11-26T12:00Z, 04:00 Pacific
  private MockWebServer server;
  private GeminiKeyRotator rotator;

  @BeforeEach
  void startServer() throws Exception {
    server = new MockWebServer();
    server.start();
  }

  @AfterEach
  void stop() {
    server.close();
    if (rotator != null) rotator.close();
  }

  @Test
  void perDayAndPerMinuteCooldownsShowQuotaIdReasonAndStateUntil() throws Exception {
    rotator = GeminiKeyRotator.builder().clock(clock).keys(List.of(
        ApiKey.builder(Pools.secret(1)).id("k1").project("p1").build(),
        ApiKey.builder(Pools.secret(2)).id("k2").project("p2").build(),
        ApiKey.builder(Pools.secret(3)).id("k3").project("p3").build())).build();
    OkHttpClient client = client(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock)
        .policy(FAST).build());
    server.enqueue(json(429, Fixtures.geminiError("429-per-day")));
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    server.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(200);
    }

    String daily = keyOf(take(server));
    String minute = keyOf(take(server));
    KeySnapshot d = rotator.snapshot(daily).orElseThrow();
    String project = d.labels().get(ApiKey.PROJECT_LABEL);
    assertThat(d.state()).isEqualTo(KeyState.RATE_LIMITED);
    assertThat(d.reason()).isEqualTo("per-day quota of project " + project + " for " + MODEL
        + " (GenerateRequestsPerDayPerProjectPerModel-FreeTier) until 2026-11-27T08:00Z"
        + " (midnight Pacific)");
    assertThat(d.stateUntil()).isEqualTo(Instant.parse("2026-11-27T08:00:00Z"));
    assertThat(d.cooldownReasons()).containsEntry(MODEL, d.reason());

    KeySnapshot m = rotator.snapshot(minute).orElseThrow();
    assertThat(m.reason()).isEqualTo("per-minute quota of project "
        + m.labels().get(ApiKey.PROJECT_LABEL) + " for " + MODEL
        + " (GenerateRequestsPerMinutePerProjectPerModel-FreeTier) until 2026-11-26T12:00:37Z"
        + " (retry delay 37s)");
    assertThat(m.stateUntil()).isEqualTo(Instant.parse("2026-11-26T12:00:37Z"));
    assertThat(d.reason() + m.reason()).doesNotContain(Pools.secret(1))
        .doesNotContain(Pools.secret(2)).doesNotContain(Pools.secret(3));
  }
}
