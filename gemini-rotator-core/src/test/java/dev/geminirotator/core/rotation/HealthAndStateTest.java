package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.event.RotatorEvent;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.api.event.StateTransition;
import dev.geminirotator.api.event.StormEvent;
import dev.geminirotator.core.health.HealthPolicy;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;

class HealthAndStateTest {

  private static final RequestContext FLASH = RequestContext.forModel("gemini-2.5-flash");

  private final FakeClock clock = FakeClock.standard();
  private final List<RotatorEvent> events = new ArrayList<>();

  private GeminiKeyRotator rotator(int keys) {
    GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .keys(IntStream.range(0, keys).mapToObj(i -> key("k" + i)).toList())
        .clock(clock)
        .health(HealthPolicy.builder().jitter(0).build())
        .cooldowns(CooldownPolicy.builder().jitter(0).build())
        .build();
    rotator.addListener(new RotatorListener() {
      @Override
      public void onEvent(RotatorEvent event) {
        events.add(event);
      }
    });
    return rotator;
  }

  private static ApiKey key(String id) {
    return ApiKey.builder("secret-" + id + "-0123456789").id(id).build();
  }

  private static KeyLease only(GeminiKeyRotator rotator, String keyId) {
    RequestContext ctx = FLASH;
    for (KeySnapshot s : rotator.snapshot()) {
      if (!s.id().equals(keyId)) ctx = ctx.excluding(s.id());
    }
    KeyLease lease = rotator.acquire(ctx);
    assertThat(lease.key().id()).isEqualTo(keyId);
    return lease;
  }

  private static KeySnapshot snap(GeminiKeyRotator rotator, String id) {
    return rotator.snapshot(id).orElseThrow();
  }

  /** Upstream errors at alpha 0.1 take 1.0 under 0.5 on the 7th: 0.9^7 = 0.478. */
  private static void failUntilUnhealthy(GeminiKeyRotator rotator, String keyId) {
    for (int i = 0; i < 7; i++) {
      only(rotator, keyId).complete(Outcome.upstreamError(500, "INTERNAL"));
    }
  }

  @Test
  void upstreamErrorsLowerHealthUntilTheKeyLeavesRotation() {
    GeminiKeyRotator rotator = rotator(2);
    for (int i = 0; i < 6; i++) only(rotator, "k0").complete(Outcome.upstreamError(500, "INTERNAL"));
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
    assertThat(snap(rotator, "k0").health()).isCloseTo(Math.pow(0.9, 6), org.assertj.core.api.Assertions.within(1e-9));
    only(rotator, "k0").complete(Outcome.upstreamError(500, "INTERNAL"));

    KeySnapshot s = snap(rotator, "k0");
    assertThat(s.state()).isEqualTo(KeyState.UNHEALTHY);
    assertThat(s.stateUntil()).isEqualTo(clock.instant().plus(HealthPolicy.DEFAULT_COOLDOWN_BASE));
    assertThat(s.reason()).contains("health 0.48 fell under 0.50").contains("upstream 500 INTERNAL");
    assertThat(events).filteredOn(StateTransition.class::isInstance).singleElement()
        .isEqualTo(new StateTransition("k0", KeyState.HEALTHY, KeyState.UNHEALTHY, s.reason(),
            s.stateUntil(), clock.instant()));
    for (int i = 0; i < 10; i++) {
      KeyLease lease = rotator.acquire(FLASH);
      assertThat(lease.key().id()).isEqualTo("k1");
      lease.complete(Outcome.success());
    }
  }

  @Test
  void transportErrorsNeverLowerAKeysHealthSinceTheNetworkIsNotTheKeys() {
    GeminiKeyRotator rotator = rotator(2);
    for (String reason : List.of("connect refused (ConnectException)",
        "connect timeout (HttpConnectTimeoutException)", "unknown host (UnknownHostException)",
        "tls handshake failed (SSLHandshakeException)", "connection reset (SocketException)",
        "timeout (SocketTimeoutException)")) {
      for (int i = 0; i < 10; i++) only(rotator, "k0").complete(Outcome.transportError(reason));
    }

    KeySnapshot s = snap(rotator, "k0");
    assertThat(s.state()).isEqualTo(KeyState.HEALTHY);
    assertThat(s.health()).isEqualTo(1.0);
    assertThat(events).filteredOn(StateTransition.class::isInstance).isEmpty();
  }

  @Test
  void aTransportErrorOnATrialIsInconclusiveAndTheKeyIsTriedAgainAtOnce() {
    GeminiKeyRotator rotator = rotator(2);
    failUntilUnhealthy(rotator, "k0");
    clock.advance(HealthPolicy.DEFAULT_COOLDOWN_BASE);
    KeyLease trial = only(rotator, "k0");
    assertThat(trial.isTrial()).isTrue();
    trial.complete(Outcome.transportError("connect refused (ConnectException)"));

    KeyLease again = only(rotator, "k0");
    assertThat(again.isTrial()).isTrue();
    again.complete(Outcome.success());
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void successesRaiseHealthBackTowardsOne() {
    GeminiKeyRotator rotator = rotator(2);
    for (int i = 0; i < 3; i++) only(rotator, "k0").complete(Outcome.upstreamError(500, null));
    double low = snap(rotator, "k0").health();
    only(rotator, "k0").complete(Outcome.success());
    assertThat(snap(rotator, "k0").health()).isCloseTo(low + 0.1 * (1 - low),
        org.assertj.core.api.Assertions.within(1e-9));
  }

  @Test
  void unhealthyKeyGetsExactlyOneTrialAfterItsCooldownAndComesBackOnSuccess() {
    GeminiKeyRotator rotator = rotator(2);
    failUntilUnhealthy(rotator, "k0");
    clock.advance(HealthPolicy.DEFAULT_COOLDOWN_BASE);

    KeyLease trial = only(rotator, "k0");
    assertThat(trial.isTrial()).isTrue();
    // While the trial runs, nobody else gets the key.
    for (int i = 0; i < 10; i++) {
      KeyLease other = rotator.acquire(FLASH);
      assertThat(other.key().id()).isEqualTo("k1");
      assertThat(other.isTrial()).isFalse();
      other.complete(Outcome.success());
    }
    trial.complete(Outcome.success());

    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
    assertThat(snap(rotator, "k0").health()).isEqualTo(HealthPolicy.DEFAULT_RECOVERED_SCORE);
    assertThat(rotator.stats().trials()).isEqualTo(1);
    assertThat(events).filteredOn(StateTransition.class::isInstance)
        .extracting(e -> ((StateTransition) e).to())
        .containsExactly(KeyState.UNHEALTHY, KeyState.HEALTHY);
  }

  @Test
  void failedTrialDoublesTheCooldown() {
    GeminiKeyRotator rotator = rotator(2);
    failUntilUnhealthy(rotator, "k0");
    Duration base = HealthPolicy.DEFAULT_COOLDOWN_BASE;
    clock.advance(base);
    only(rotator, "k0").complete(Outcome.upstreamError(500, "INTERNAL"));

    KeySnapshot s = snap(rotator, "k0");
    assertThat(s.state()).isEqualTo(KeyState.UNHEALTHY);
    assertThat(s.stateUntil()).isEqualTo(clock.instant().plus(base.multipliedBy(2)));
    clock.advance(base.multipliedBy(2));
    only(rotator, "k0").complete(Outcome.upstreamError(502, null));
    assertThat(snap(rotator, "k0").stateUntil()).isEqualTo(clock.instant().plus(base.multipliedBy(4)));
    clock.advance(base.multipliedBy(4));
    only(rotator, "k0").complete(Outcome.success());
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void inconclusiveTrialLetsTheNextRequestTryAgain() {
    GeminiKeyRotator rotator = rotator(2);
    failUntilUnhealthy(rotator, "k0");
    clock.advance(HealthPolicy.DEFAULT_COOLDOWN_BASE);
    KeyLease first = only(rotator, "k0");
    first.complete(Outcome.clientError(400));
    KeyLease second = only(rotator, "k0");
    assertThat(second.isTrial()).isTrue();
    second.close(); // cancelled
    KeyLease third = only(rotator, "k0");
    assertThat(third.isTrial()).isTrue();
    third.complete(Outcome.success());
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void modelOverloadedNeverCountsAgainstTheKey() {
    GeminiKeyRotator rotator = rotator(2);
    for (int i = 0; i < 50; i++) only(rotator, "k0").complete(Outcome.upstreamError(503, "UNAVAILABLE"));
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
    assertThat(snap(rotator, "k0").health()).isEqualTo(1.0);
    assertThat(snap(rotator, "k0").failures()).isEqualTo(50);
  }

  @Test
  void rateLimitsAndClientErrorsLeaveHealthAlone() {
    GeminiKeyRotator rotator = rotator(2);
    for (int i = 0; i < 20; i++) only(rotator, "k0").complete(Outcome.clientError(400));
    only(rotator, "k0").complete(Outcome.rateLimited(Duration.ofSeconds(1), QuotaScope.PER_MINUTE));
    assertThat(snap(rotator, "k0").health()).isEqualTo(1.0);
    assertThat(snap(rotator, "k0").failures()).as("client errors are not the key's failures").isEqualTo(1);
  }

  @Test
  void rejectedKeyBecomesInvalidUntilReset() {
    GeminiKeyRotator rotator = rotator(5);
    only(rotator, "k2").complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    clock.advance(Duration.ofDays(3));
    KeySnapshot s = snap(rotator, "k2");
    assertThat(s.state()).isEqualTo(KeyState.INVALID);
    assertThat(s.reason()).isEqualTo("Gemini rejected the key (400 API_KEY_INVALID)");
    for (int i = 0; i < 20; i++) {
      KeyLease lease = rotator.acquire(FLASH);
      assertThat(lease.key().id()).isNotEqualTo("k2");
      lease.complete(Outcome.success());
    }
    rotator.reset("k2");
    assertThat(snap(rotator, "k2").state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void disabledKeyStaysDisabledThroughResetAndComesBackOnEnable() {
    GeminiKeyRotator rotator = rotator(2);
    assertThat(rotator.disable("k0")).isTrue();
    assertThat(rotator.reset("k0")).isTrue();
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.DISABLED);
    assertThat(rotator.enable("k0")).isTrue();
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
    assertThat(rotator.disable("nope")).isFalse();
  }

  @Test
  void rateLimitStormIsReportedAndInvalidatesNothing() {
    GeminiKeyRotator rotator = rotator(5);
    for (int i = 0; i < 5; i++) {
      only(rotator, "k" + i).complete(Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.UNKNOWN));
    }
    assertThat(rotator.stormActive(StormEvent.Kind.RATE_LIMIT)).isTrue();
    assertThat(events).filteredOn(StormEvent.class::isInstance).singleElement()
        .satisfies(e -> {
          StormEvent storm = (StormEvent) e;
          assertThat(storm.kind()).isEqualTo(StormEvent.Kind.RATE_LIMIT);
          assertThat(storm.started()).isTrue();
          assertThat(storm.affectedKeys()).isEqualTo(4); // 0.8 * 5 reached on the 4th
          assertThat(storm.poolSize()).isEqualTo(5);
        });
    assertThat(rotator.snapshot()).allSatisfy(s -> {
      assertThat(s.state()).isEqualTo(KeyState.RATE_LIMITED);
      assertThat(s.health()).isEqualTo(1.0);
    });
    assertThatThrownBy(() -> rotator.acquire(FLASH))
        .isInstanceOfSatisfying(NoKeyAvailableException.class, e -> assertThat(
            e.earliestAvailable()).contains(clock.instant().plusSeconds(30)));
    clock.advance(Duration.ofSeconds(30));
    KeyLease lease = rotator.acquire(FLASH);
    lease.complete(Outcome.success());
    assertThat(rotator.stormActive(StormEvent.Kind.RATE_LIMIT)).as("storm over once it recovers")
        .isFalse();
  }

  @Test
  void rejectionStormCoolsKeysInsteadOfInvalidatingThePool() {
    GeminiKeyRotator rotator = rotator(5);
    for (int i = 0; i < 5; i++) only(rotator, "k" + i).complete(Outcome.keyRejected(403, "PERMISSION_DENIED"));

    assertThat(rotator.stormActive(StormEvent.Kind.KEY_REJECTION)).isTrue();
    assertThat(rotator.snapshot()).extracting(KeySnapshot::state).containsOnly(KeyState.UNHEALTHY);
    assertThat(events).filteredOn(StormEvent.class::isInstance).hasSize(1);
    clock.advance(HealthPolicy.DEFAULT_COOLDOWN_BASE);
    KeyLease trial = rotator.acquire(FLASH);
    assertThat(trial.isTrial()).isTrue();
    trial.complete(Outcome.success());
    assertThat(rotator.snapshot(trial.key().id()).orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void aFewBadKeysAmongGoodOnesEndInvalid() {
    GeminiKeyRotator rotator = rotator(5);
    only(rotator, "k1").complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    only(rotator, "k3").complete(Outcome.keyRejected(403, "CONSUMER_SUSPENDED"));
    assertThat(rotator.stormActive(StormEvent.Kind.KEY_REJECTION)).isFalse();
    assertThat(rotator.snapshot()).extracting(KeySnapshot::id, KeySnapshot::state).containsExactly(
        org.assertj.core.groups.Tuple.tuple("k0", KeyState.HEALTHY),
        org.assertj.core.groups.Tuple.tuple("k1", KeyState.INVALID),
        org.assertj.core.groups.Tuple.tuple("k2", KeyState.HEALTHY),
        org.assertj.core.groups.Tuple.tuple("k3", KeyState.INVALID),
        org.assertj.core.groups.Tuple.tuple("k4", KeyState.HEALTHY));
  }

  @Test
  void leaseCompletesOnlyOnce() {
    GeminiKeyRotator rotator = rotator(1);
    KeyLease lease = rotator.acquire(FLASH);
    assertThat(lease.complete(Outcome.keyRejected(400, "API_KEY_INVALID"))).isTrue();
    assertThat(lease.complete(Outcome.success())).isFalse();
    lease.close();
    assertThat(lease.isCompleted()).isTrue();
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.INVALID);
    assertThat(snap(rotator, "k0").inFlight()).isZero();
    assertThat(rotator.stats().outcomes()).containsEntry(Outcome.Kind.KEY_REJECTED, 1L)
        .containsEntry(Outcome.Kind.SUCCESS, 0L).containsEntry(Outcome.Kind.CANCELLED, 0L);
  }

  @Test
  void listenerExceptionsNeverReachTheRequestAndUnsubscribeWorks() {
    GeminiKeyRotator rotator = rotator(2);
    List<RotatorEvent> seen = new ArrayList<>();
    rotator.addListener(new RotatorListener() {
      @Override
      public void onStateTransition(StateTransition event) {
        throw new IllegalStateException("boom");
      }
    });
    Subscription sub = rotator.addListener(new RotatorListener() {
      @Override
      public void onStateTransition(StateTransition event) {
        seen.add(event);
      }
    });
    only(rotator, "k0").complete(Outcome.keyRejected(401, "UNAUTHENTICATED"));
    assertThat(seen).hasSize(1);
    sub.close();
    only(rotator, "k1").complete(Outcome.keyRejected(401, "UNAUTHENTICATED"));
    assertThat(seen).hasSize(1);
  }

  @Test
  void removedKeyLeavesRotationWhileItsInFlightLeaseStillCompletes() {
    GeminiKeyRotator rotator = rotator(2);
    KeyLease held = only(rotator, "k0");
    assertThat(rotator.removeKey("k0")).isTrue();
    for (int i = 0; i < 5; i++) {
      KeyLease lease = rotator.acquire(FLASH);
      assertThat(lease.key().id()).isEqualTo("k1");
      lease.complete(Outcome.success());
    }
    assertThat(held.complete(Outcome.success())).isTrue();
    assertThat(rotator.snapshot()).extracting(KeySnapshot::id).containsExactly("k1");
    assertThat(rotator.removeKey("k0")).isFalse();
  }

  @Test
  void updateKeysAddsRemovesAndReweightsKeepingState() {
    GeminiKeyRotator rotator = rotator(3);
    only(rotator, "k1").complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    rotator.updateKeys(List.of(
        ApiKey.builder("secret-k1-0123456789").id("k1").weight(5).build(),
        key("k2"), key("k9")));
    assertThat(rotator.snapshot()).extracting(KeySnapshot::id).containsExactly("k1", "k2", "k9");
    assertThat(snap(rotator, "k1").weight()).isEqualTo(5);
    assertThat(snap(rotator, "k1").state()).as("state survives a reweight").isEqualTo(KeyState.INVALID);
  }

  @Test
  void aRejectionOfAReplacedSecretDoesNotInvalidateTheNewSecret() {
    GeminiKeyRotator rotator = rotator(2);
    KeyLease old = only(rotator, "k0");
    rotator.addKey(ApiKey.builder("secret-k0-rotated-0123456789").id("k0").build());
    old.complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
    assertThat(snap(rotator, "k0").inFlight()).isZero();
  }

  @Test
  void aRejectionDuringAReweightStillInvalidatesTheSameSecret() {
    GeminiKeyRotator rotator = rotator(2);
    KeyLease old = only(rotator, "k0");
    rotator.addKey(ApiKey.builder("secret-k0-0123456789").id("k0").weight(4).build());
    old.complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.INVALID);
    assertThat(snap(rotator, "k0").weight()).isEqualTo(4);
  }

  @Test
  void anOutcomeForARemovedKeyChangesNothing() {
    GeminiKeyRotator rotator = rotator(2);
    KeyLease old = only(rotator, "k0");
    rotator.removeKey("k0");
    old.complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    rotator.addKey(key("k0"));
    rotator.reconcile();
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void modelOverloadedOnATrialIsInconclusive() {
    GeminiKeyRotator rotator = rotator(2);
    failUntilUnhealthy(rotator, "k0");
    clock.advance(HealthPolicy.DEFAULT_COOLDOWN_BASE);
    only(rotator, "k0").complete(Outcome.upstreamError(503, "UNAVAILABLE"));
    KeyLease again = only(rotator, "k0");
    assertThat(again.isTrial()).isTrue();
    again.complete(Outcome.success());
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void aTrialThatIsNeverAnsweredDoesNotStrandTheKey() {
    GeminiKeyRotator rotator = rotator(2);
    failUntilUnhealthy(rotator, "k0");
    clock.advance(HealthPolicy.DEFAULT_COOLDOWN_BASE);
    KeyLease leaked = only(rotator, "k0"); // its body is never closed
    assertThat(leaked.isTrial()).isTrue();

    clock.advance(Duration.ofMinutes(9));
    assertThat(rotator.acquire(FLASH).key().id()).isEqualTo("k1");
    clock.advance(Duration.ofMinutes(1));
    KeyLease retake = only(rotator, "k0");
    assertThat(retake.isTrial()).isTrue();
    org.assertj.core.api.Assertions.assertThatThrownBy(() -> rotator.acquire(FLASH.excluding("k1")))
        .as("one retake at a time: the key is not handed out twice")
        .isInstanceOf(NoKeyAvailableException.class);
    retake.complete(Outcome.success());
    assertThat(snap(rotator, "k0").state()).isEqualTo(KeyState.HEALTHY);
  }
}
