package dev.geminirotator.core.internal.exchange;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.internal.GeminiErrors;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RetryAdviceTest {

  static final String MODEL = "gemini-2.5-flash";
  private final FakeClock clock = FakeClock.standard();
  private GeminiKeyRotator rotator;

  @AfterEach
  void close() {
    if (rotator != null) rotator.close();
  }

  private GeminiKeyRotator rotator(int keys) {
    GeminiKeyRotator.Builder b = GeminiKeyRotator.builder().clock(clock);
    for (int i = 1; i <= keys; i++) b.key(ApiKey.of("k" + i, "AIzaAdviceSecret" + i + "xx"));
    rotator = b.build();
    return rotator;
  }

  private void rateLimit(String keyId, Duration delay) {
    RequestContext only = RequestContext.forModel(MODEL);
    for (KeySnapshot k : rotator.snapshot()) {
      if (!k.id().equals(keyId)) only = only.excluding(k.id());
    }
    var lease = rotator.acquire(only);
    assertThat(lease.key().id()).isEqualTo(keyId);
    lease.complete(Outcome.rateLimited(delay, QuotaScope.PER_MINUTE));
  }

  @Test
  void thePoolFreesUpWhenItsEarliestCoolingKeyDoes() {
    rotator(2);
    rateLimit("k1", Duration.ofSeconds(40));
    rateLimit("k2", Duration.ofSeconds(12));
    clock.advance(Duration.ofMillis(2_500)); // 9.5 s left on k2: rounds up to 10

    RetryAdvice advice = RetryAdvice.of(rotator, CircuitGuard.disabled(), MODEL, clock);

    assertThat(advice.operatorNeeded()).isFalse();
    assertThat(advice.seconds()).isEqualTo(10);
    assertThat(advice.noKeyStatus()).isEqualTo(429);
    // Another model is not cooling: a key serves it now, which still says at least 1 s.
    assertThat(RetryAdvice.of(rotator, null, "gemini-2.5-pro", clock).seconds()).isEqualTo(1);
  }

  @Test
  void keysThatNeedAnOperatorNeverFreeUpByThemselves() {
    rotator(2);
    rotator.disable("k1");
    var lease = rotator.acquire(RequestContext.forModel(MODEL));
    lease.complete(Outcome.keyRejected(400, "API_KEY_INVALID"));

    RetryAdvice advice = RetryAdvice.of(rotator, CircuitGuard.disabled(), MODEL, clock);

    assertThat(rotator.earliestAvailable(MODEL)).isEmpty();
    assertThat(advice.operatorNeeded()).isTrue();
    assertThat(advice.seconds()).isEqualTo(-1);
    assertThat(advice.noKeyStatus()).isEqualTo(503);
    assertThat(advice.forUpstream(429, name -> null)).isEqualTo(-1);
  }

  @Test
  void anOpenBreakerHoldsThePoolBackUntilItLetsCallsThrough() {
    rotator(1);
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder().clock(clock)
        .policy(BreakerPolicy.builder().minimumCalls(2).slidingWindowSize(2)
            .waitInOpen(Duration.ofSeconds(30)).build()).build();
    assertThat(guard.openUntil(MODEL)).isEmpty();
    for (int i = 0; i < 2; i++) {
      guard.acquirePermission(MODEL);
      guard.onOutcome(MODEL, Outcome.upstreamError(503, "UNAVAILABLE"), Duration.ZERO);
    }
    clock.advance(Duration.ofSeconds(4));

    assertThat(guard.openUntil(MODEL)).contains(clock.instant().plusSeconds(26));
    assertThat(RetryAdvice.of(rotator, guard, MODEL, clock).seconds()).isEqualTo(26);
  }

  @Test
  void aPassedOn429TakesThePoolsTimeAndA503TheLaterOfBoth() {
    rotator(1);
    rateLimit("k1", Duration.ofSeconds(20));
    RetryAdvice advice = RetryAdvice.of(rotator, null, MODEL, clock);
    Map<String, String> upstream = Map.of("Retry-After", "300");

    assertThat(advice.forUpstream(429, upstream::get)).isEqualTo(20);
    assertThat(advice.forUpstream(503, upstream::get)).isEqualTo(300);
    assertThat(advice.forUpstream(503, name -> null)).isEqualTo(20);
    assertThat(advice.forUpstream(500, upstream::get)).isEqualTo(-1);
    // Another rotator's own answer keeps its own Retry-After.
    Map<String, String> rotatorMade = Map.of(GeminiClassifier.ROTATOR_ANSWER_HEADER, "no-key",
        "Retry-After", "9");
    assertThat(advice.forUpstream(429, rotatorMade::get)).isEqualTo(-1);
  }

  @Test
  void retryAfterReadsSecondsAndHttpDates() {
    assertThat(RetryAdvice.parseRetryAfter("7", clock)).isEqualTo(7);
    assertThat(RetryAdvice.parseRetryAfter("0", clock)).isEqualTo(1);
    assertThat(RetryAdvice.parseRetryAfter(
        java.time.format.DateTimeFormatter.RFC_1123_DATE_TIME.format(
            clock.instant().plusSeconds(90).atZone(java.time.ZoneOffset.UTC)), clock))
        .isEqualTo(90);
    assertThat(RetryAdvice.parseRetryAfter("soon", clock)).isEqualTo(-1);
    assertThat(RetryAdvice.parseRetryAfter(null, clock)).isEqualTo(-1);
  }

  @Test
  void theDefaultEarliestAvailableReadsSnapshots() {
    Instant now = clock.instant();
    KeyRotator fromSnapshots = new SnapshotsOnly(List.of(
        snapshot("a", dev.geminirotator.api.KeyState.INVALID, Map.of(), null),
        snapshot("b", dev.geminirotator.api.KeyState.RATE_LIMITED,
            Map.of(MODEL, now.plusSeconds(50)), null),
        snapshot("c", dev.geminirotator.api.KeyState.UNHEALTHY, Map.of(), now.plusSeconds(20))));

    assertThat(fromSnapshots.earliestAvailable(MODEL)).contains(now.plusSeconds(20));
    assertThat(new SnapshotsOnly(List.of(snapshot("a", dev.geminirotator.api.KeyState.DISABLED,
        Map.of(), null))).earliestAvailable(MODEL)).isEmpty();
  }

  @Test
  void theDefaultEarliestAvailableForAContextCountsOnlyTheKeysItAdmits() {
    Instant now = clock.instant();
    KeyRotator fromSnapshots = new SnapshotsOnly(List.of(
        new KeySnapshot("a", "AIza…a", 1, Map.of("project", "pa"),
            dev.geminirotator.api.KeyState.HEALTHY, 1.0, 0, Map.of(), null, null, 0, 0),
        new KeySnapshot("b", "AIza…b", 1, Map.of("project", "pb"),
            dev.geminirotator.api.KeyState.RATE_LIMITED, 1.0, 0,
            Map.of(MODEL, now.plusSeconds(50)), null, null, 0, 0),
        snapshot("c", dev.geminirotator.api.KeyState.RATE_LIMITED,
            Map.of(MODEL, now.plusSeconds(70)), null)));
    RequestContext request = RequestContext.forModel(MODEL);

    assertThat(fromSnapshots.earliestAvailable(request)).contains(Instant.EPOCH);
    assertThat(fromSnapshots.earliestAvailable(request.inProject("pb")))
        .contains(now.plusSeconds(50));
    assertThat(fromSnapshots.earliestAvailable(request.onlyKey("c")))
        .as("a key without a project label is its own project").contains(now.plusSeconds(70));
    assertThat(fromSnapshots.earliestAvailable(request.inProject("pz"))).isEmpty();
    assertThat(RetryAdvice.of(fromSnapshots, null, request.inProject("pb"), clock).seconds())
        .isEqualTo(50);
  }

  @Test
  void geminiShapedErrorsCarryErrorInfoAndRetryInfo() throws Exception {
    JsonNode error = new ObjectMapper().readTree(GeminiErrors.body(429, "no key", "no-key-available",
        Map.of("requestId", "r-1"), 12)).get("error");

    assertThat(error.get("code").asInt()).isEqualTo(429);
    assertThat(error.get("status").asText()).isEqualTo("RESOURCE_EXHAUSTED");
    assertThat(error.at("/details/0/@type").asText())
        .isEqualTo("type.googleapis.com/google.rpc.ErrorInfo");
    assertThat(error.at("/details/0/reason").asText()).isEqualTo("NO_KEY_AVAILABLE");
    assertThat(error.at("/details/0/domain").asText()).isEqualTo("gemini-rotator");
    assertThat(error.at("/details/0/metadata/requestId").asText()).isEqualTo("r-1");
    assertThat(error.at("/details/1/retryDelay").asText()).isEqualTo("12s");
    // Such an answer, seen by a rotator downstream, is nobody's key's fault.
    GeminiClassifier classifier = GeminiClassifier.builder().clock(clock).build();
    assertThat(classifier.classify(429,
        n -> n.equalsIgnoreCase(GeminiClassifier.ROTATOR_ANSWER_HEADER) ? "no-key" : null,
        error.toString()).kind()).isEqualTo(Outcome.Kind.CLIENT_ERROR);
    assertThat(classifier.classify(429, n -> null, error.toString()).kind())
        .isEqualTo(Outcome.Kind.RATE_LIMITED);
  }

  private static KeySnapshot snapshot(String id, dev.geminirotator.api.KeyState state,
      Map<String, Instant> cooldowns, Instant until) {
    return new KeySnapshot(id, "AIza…" + id, 1, Map.of(), state, 1.0, 0, cooldowns, until, null,
        0, 0);
  }

  /** A rotator that only has snapshots: the interface's default answers. */
  private record SnapshotsOnly(List<KeySnapshot> keys) implements KeyRotator {
    @Override public dev.geminirotator.api.KeyLease acquire(RequestContext context) {
      throw new UnsupportedOperationException();
    }
    @Override public void addKey(ApiKey key) { }
    @Override public boolean removeKey(String keyId) { return false; }
    @Override public boolean disable(String keyId) { return false; }
    @Override public boolean enable(String keyId) { return false; }
    @Override public boolean reset(String keyId) { return false; }
    @Override public List<KeySnapshot> snapshot() { return keys; }
    @Override public Optional<KeySnapshot> snapshot(String keyId) { return Optional.empty(); }
    @Override public dev.geminirotator.api.RotatorStats stats() {
      throw new UnsupportedOperationException();
    }
    @Override public dev.geminirotator.api.Subscription addListener(
        dev.geminirotator.api.event.RotatorListener listener) {
      return () -> { };
    }
    @Override public void close() { }
  }
}
