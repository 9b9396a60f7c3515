package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.event.CooldownStarted;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.health.HealthPolicy;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Every key state and cooldown carries a reason an operator understands, and an end time. */
class KeyStateReasonsTest {

  private static final String FLASH = "gemini-2.5-flash";
  private static final GeminiClassifier CLASSIFIER = GeminiClassifier.defaults();

  /** 09:00 Pacific (PST, UTC-8): the next daily reset is 2026-12-08T08:00Z. */
  private final FakeClock clock = FakeClock.at(Instant.parse("2026-12-07T17:00:00Z"));
  private final List<GeminiKeyRotator> rotators = new CopyOnWriteArrayList<>();

  @AfterEach
  void close() {
    rotators.forEach(GeminiKeyRotator::close);
  }

  private GeminiKeyRotator rotator(ApiKey... keys) {
    return track(GeminiKeyRotator.builder().keys(List.of(keys)).clock(clock)
        .cooldowns(CooldownPolicy.builder().jitter(0).build()));
  }

  private GeminiKeyRotator track(GeminiKeyRotator.Builder builder) {
    GeminiKeyRotator rotator = builder.build();
    rotators.add(rotator);
    return rotator;
  }

  private static ApiKey key(String id, String project) {
    ApiKey.Builder b = ApiKey.builder("AIzaSyREASONS-secret-" + id + "-0123456789").id(id);
    return (project == null ? b : b.project(project)).build();
  }

  private static Outcome fixture429(String name) {
    return CLASSIFIER.classify(429, null, Fixtures.geminiError(name));
  }

  private static void complete(GeminiKeyRotator rotator, String model, Outcome outcome) {
    KeyLease lease = rotator.acquire(RequestContext.forModel(model));
    lease.complete(outcome);
  }

  @Test
  void perDayCooldownNamesQuotaIdAndEndsAtMidnightPacific() {
    GeminiKeyRotator rotator = rotator(key("k1", "p"));
    complete(rotator, FLASH, fixture429("429-per-day"));

    KeySnapshot k = rotator.snapshot("k1").orElseThrow();
    String expected = "per-day quota of project p for gemini-2.5-flash"
        + " (GenerateRequestsPerDayPerProjectPerModel-FreeTier) until 2026-12-08T08:00Z"
        + " (midnight Pacific)";
    assertThat(k.state()).isEqualTo(KeyState.RATE_LIMITED);
    assertThat(k.reason()).isEqualTo(expected);
    assertThat(k.stateUntil()).isEqualTo(Instant.parse("2026-12-08T08:00:00Z"));
    assertThat(k.cooldowns()).containsEntry(FLASH, Instant.parse("2026-12-08T08:00:00Z"));
    assertThat(k.cooldownReasons()).containsEntry(FLASH, expected);
  }

  @Test
  void perMinuteCooldownNamesQuotaIdAndTheRetryDelay() {
    GeminiKeyRotator rotator = rotator(key("k1", "p"));
    complete(rotator, FLASH, fixture429("429-per-minute"));

    KeySnapshot k = rotator.snapshot("k1").orElseThrow();
    assertThat(k.reason()).isEqualTo("per-minute quota of project p for gemini-2.5-flash"
        + " (GenerateRequestsPerMinutePerProjectPerModel-FreeTier) until 2026-12-07T17:00:37Z"
        + " (retry delay 37s)");
    assertThat(k.stateUntil()).isEqualTo(Instant.parse("2026-12-07T17:00:37Z"));
  }

  @Test
  void bareRateLimitOfAKeyWithoutProjectSaysItBacksOff() {
    GeminiKeyRotator rotator = rotator(key("k1", null));
    complete(rotator, FLASH, fixture429("429-bare"));

    assertThat(rotator.snapshot("k1").orElseThrow().reason()).isEqualTo(
        "rate limit of key k1 for gemini-2.5-flash until 2026-12-07T17:00:10Z"
            + " (backoff 10s: no retry delay given)");
  }

  @Test
  void stateUntilAndReasonFollowTheCooldownThatEndsLast() {
    GeminiKeyRotator rotator = rotator(key("k1", "p"));
    complete(rotator, FLASH, fixture429("429-per-minute"));
    complete(rotator, "gemini-2.5-pro", fixture429("429-per-day"));
    clock.advance(Duration.ofSeconds(1));
    complete(rotator, "gemini-2.5-lite", Outcome.rateLimited(Duration.ofSeconds(5),
        QuotaScope.PER_MINUTE));

    KeySnapshot k = rotator.snapshot("k1").orElseThrow();
    assertThat(k.stateUntil()).isEqualTo(Instant.parse("2026-12-08T08:00:00Z"));
    assertThat(k.reason()).startsWith("per-day quota of project p for gemini-2.5-pro");
    assertThat(k.cooldownReasons()).containsOnlyKeys(FLASH, "gemini-2.5-pro", "gemini-2.5-lite");
    assertThat(k.cooldownReasons().get("gemini-2.5-lite")).isEqualTo(
        "per-minute quota of project p for gemini-2.5-lite until 2026-12-07T17:00:06Z"
            + " (retry delay 5s)");
  }

  @Test
  void endedCooldownLeavesNoReasonBehind() {
    GeminiKeyRotator rotator = rotator(key("k1", "p"));
    complete(rotator, FLASH, fixture429("429-per-minute"));
    clock.advance(Duration.ofSeconds(37));

    KeySnapshot k = rotator.snapshot("k1").orElseThrow();
    assertThat(k.state()).isEqualTo(KeyState.HEALTHY);
    assertThat(k.reason()).isNull();
    assertThat(k.stateUntil()).isNull();
    assertThat(k.cooldownReasons()).isEmpty();
  }

  @Test
  void minimumAndMaximumThatMoveTheEndAreNamed() {
    GeminiKeyRotator rotator = rotator(key("k1", "p"), key("k2", "q"));
    complete(rotator, FLASH, Outcome.rateLimited(Duration.ZERO, QuotaScope.PER_MINUTE));
    complete(rotator, FLASH, Outcome.rateLimited(Duration.ofDays(3), QuotaScope.UNKNOWN));

    assertThat(rotator.snapshot("k1").orElseThrow().reason())
        .endsWith("until 2026-12-07T17:00:01Z (retry delay 0s, raised to the 1s minimum)");
    assertThat(rotator.snapshot("k2").orElseThrow().reason())
        .endsWith("until 2026-12-08T18:00Z (retry delay 3d, cut to the 25h maximum)");
  }

  @Test
  void modelNameFromTheClientCannotBreakAReasonIntoLines() {
    GeminiKeyRotator rotator = rotator(key("k1", "p"));
    complete(rotator, "gemini\nINFO key k2 went INVALID -> HEALTHY\r\u001b[0m" + "x".repeat(300),
        Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE));

    String reason = rotator.snapshot("k1").orElseThrow().reason();
    assertThat(reason).startsWith("per-minute quota of project p for gemini?INFO?key?k2?went?")
        .doesNotContain("\n").doesNotContain("\r").doesNotContain("\u001b")
        .hasSizeLessThan(250);
  }

  @Test
  void cooldownEventCarriesQuotaIdAndReason() {
    List<CooldownStarted> events = new CopyOnWriteArrayList<>();
    GeminiKeyRotator rotator = track(GeminiKeyRotator.builder().key(key("k1", "p")).clock(clock)
        .listener(new RotatorListener() {
          @Override
          public void onCooldown(CooldownStarted e) {
            events.add(e);
          }
        }));
    complete(rotator, FLASH, fixture429("429-per-day"));

    assertThat(events).hasSize(1);
    assertThat(events.get(0).quotaId())
        .isEqualTo("GenerateRequestsPerDayPerProjectPerModel-FreeTier");
    assertThat(events.get(0).reason())
        .isEqualTo(rotator.snapshot("k1").orElseThrow().reason());
  }

  @Test
  void cooldownLearntFromAnotherInstanceSaysSo() {
    MemoryKeyStateStore store = new MemoryKeyStateStore(clock);
    GeminiKeyRotator one = track(GeminiKeyRotator.builder().key(key("k1", "p")).clock(clock)
        .store(store));
    GeminiKeyRotator two = track(GeminiKeyRotator.builder().key(key("k1", "p")).clock(clock)
        .store(store));
    complete(one, FLASH, fixture429("429-per-day"));

    KeySnapshot k = two.snapshot("k1").orElseThrow();
    assertThat(k.state()).isEqualTo(KeyState.RATE_LIMITED);
    assertThat(k.stateUntil()).isEqualTo(Instant.parse("2026-12-08T08:00:00Z"));
    assertThat(k.reason()).isEqualTo("rate limit of project p for gemini-2.5-flash until"
        + " 2026-12-08T08:00Z (learnt from another instance)");
    // The instance that met the 429 keeps Gemini's words.
    assertThat(one.snapshot("k1").orElseThrow().reason()).startsWith("per-day quota");
  }

  @Test
  void disabledKeyHasTheOperatorAsReasonAndEnablingClearsIt() {
    GeminiKeyRotator rotator = rotator(key("k1", "p"));
    rotator.disable("k1");
    KeySnapshot disabled = rotator.snapshot("k1").orElseThrow();
    assertThat(disabled.state()).isEqualTo(KeyState.DISABLED);
    assertThat(disabled.reason()).isEqualTo("disabled by an operator");
    assertThat(disabled.stateUntil()).isNull();

    rotator.enable("k1");
    KeySnapshot enabled = rotator.snapshot("k1").orElseThrow();
    assertThat(enabled.state()).isEqualTo(KeyState.HEALTHY);
    assertThat(enabled.reason()).isNull();
  }

  @Test
  void invalidAndUnhealthyKeysCarryTheirReasons() {
    GeminiKeyRotator rotator = track(GeminiKeyRotator.builder().key(key("k1", "p"))
        .key(key("k2", "q")).clock(clock)
        .health(HealthPolicy.builder().threshold(0.95).recoveredScore(1.0).build()));
    rotator.acquire(RequestContext.forModel(FLASH).excluding("k2"))
        .complete(CLASSIFIER.classify(400, null, Fixtures.geminiError("400-api-key-invalid")));
    rotator.acquire(RequestContext.forModel(FLASH).excluding("k1"))
        .complete(Outcome.upstreamError(500, "INTERNAL"));

    KeySnapshot invalid = rotator.snapshot("k1").orElseThrow();
    assertThat(invalid.state()).isEqualTo(KeyState.INVALID);
    assertThat(invalid.reason()).isEqualTo("Gemini rejected the key (400 API_KEY_INVALID)");
    assertThat(invalid.stateUntil()).isNull();
    KeySnapshot unhealthy = rotator.snapshot("k2").orElseThrow();
    assertThat(unhealthy.state()).isEqualTo(KeyState.UNHEALTHY);
    assertThat(unhealthy.reason()).contains("after upstream 500 INTERNAL");
    assertThat(unhealthy.stateUntil()).isAfter(clock.instant());
  }
}
