package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.health.HealthPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A storm of 429s (or a flapping key) on one key gives a bounded number of INFO lines, with the
 * count of lines held back, in the log format the proxy uses (logback). Driven on the rotator
 * with a fake clock, so the bound is exact and no test waits.
 */
class StateLogStormTest {

  private static final RequestContext FLASH = RequestContext.forModel("gemini-2.5-flash");
  private static final long INTERVAL_SECONDS = 30;

  private final FakeClock clock = FakeClock.standard();
  private final LogCapture logs = LogCapture.of(GeminiKeyRotator.class);
  private GeminiKeyRotator rotator;

  @AfterEach
  void stop() {
    logs.close();
    if (rotator != null) rotator.close();
  }

  private GeminiKeyRotator.Builder oneKey() {
    return GeminiKeyRotator.builder().clock(clock)
        .key(ApiKey.builder("AIzaSyTEST-storm-key-0000000000001").id("k1").project("p").build());
  }

  private List<String> lines(String containing) {
    return logs.messages().stream().filter(l -> l.contains(containing)).toList();
  }

  @Test
  void thousandConcurrent429sExtendingTheCooldownLogOneLine() {
    rotator = oneKey().build();
    List<KeyLease> inFlight = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) inFlight.add(rotator.acquire(FLASH));
    // Each answer comes 10 ms after the last and asks for 37 s: each moves the cooldown later.
    for (KeyLease lease : inFlight) {
      clock.advance(Duration.ofMillis(10));
      lease.complete(Outcome.rateLimited(Duration.ofSeconds(37), QuotaScope.PER_MINUTE,
          "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"));
    }

    assertThat(rotator.stats().cooldowns()).isEqualTo(1_000);
    assertThat(lines("cooldown started")).hasSize(1);
    assertThat(lines("cooldown started").get(0)).startsWith("INFO cooldown started: "
        + "per-minute quota of project p for gemini-2.5-flash"
        + " (GenerateRequestsPerMinutePerProjectPerModel-FreeTier)");

    clock.advance(Duration.ofSeconds(40));
    rotator.snapshot(); // sees the end
    assertThat(lines("cooldown ended")).singleElement().asString()
        .contains("(999 more cooldown starts not logged since the last such line)");
  }

  @Test
  void thousandCooldownsInARowLogAtMostTwoLinesPerInterval() {
    rotator = oneKey().build();
    int storm = 1_000;
    for (int i = 0; i < storm; i++) {
      rotator.acquire(FLASH).complete(Outcome.rateLimited(Duration.ZERO, QuotaScope.PER_MINUTE));
      clock.advance(Duration.ofSeconds(1)); // the 1 s minimum: the next request finds it over
      rotator.snapshot();
    }

    long seconds = storm; // the storm's length on the fake clock
    long perSubject = seconds / INTERVAL_SECONDS + 1;
    assertThat(rotator.stats().cooldowns()).isEqualTo(storm);
    assertThat(lines("cooldown started")).hasSizeLessThanOrEqualTo((int) perSubject);
    assertThat(lines("cooldown ended")).hasSizeLessThanOrEqualTo((int) perSubject);
    assertThat(lines("cooldown started")).anyMatch(l -> l.contains("more cooldown starts not logged"));
  }

  @Test
  void operatorDisableIsLoggedByTheInstanceThatDidItAndTheOnesThatLearnIt() {
    var store = new dev.geminirotator.core.store.MemoryKeyStateStore(clock);
    rotator = oneKey().store(store).build();
    try (GeminiKeyRotator other = oneKey().store(store).build()) {
      rotator.disable("k1");
      assertThat(other.snapshot("k1").orElseThrow().reason()).isEqualTo("disabled by an operator");
    }
    assertThat(lines("key k1 went")).containsExactlyInAnyOrder(
        "INFO key k1 went HEALTHY -> DISABLED: disabled by an operator",
        "INFO key k1 went HEALTHY -> DISABLED: disabled by an operator (learnt from the store)");
  }

  @Test
  void aKeyFlappingAThousandTimesLogsAtMostOneTransitionPerInterval() {
    rotator = oneKey().health(HealthPolicy.builder().alpha(0.9).threshold(0.5)
        .cooldownBase(Duration.ofSeconds(1)).cooldownMax(Duration.ofSeconds(1)).jitter(0)
        .recoveredScore(1.0).build()).build();
    int flaps = 1_000;
    for (int i = 0; i < flaps; i++) {
      rotator.acquire(FLASH).complete(Outcome.upstreamError(500, "INTERNAL")); // -> UNHEALTHY
      clock.advance(Duration.ofSeconds(1));
      KeyLease trial = rotator.acquire(FLASH);
      assertThat(trial.isTrial()).isTrue();
      trial.complete(Outcome.success()); // -> HEALTHY
    }

    List<String> transitions = lines("key k1 went");
    assertThat(transitions).hasSizeLessThanOrEqualTo((int) (flaps / INTERVAL_SECONDS + 1));
    assertThat(transitions.get(0)).isEqualTo("INFO key k1 went HEALTHY -> UNHEALTHY: health 0.10"
        + " fell under 0.50 after upstream 500 INTERNAL; until 2026-11-26T12:00:01Z");
    assertThat(transitions).anyMatch(l -> l.contains("more state changes of this key not logged"));
  }
}
