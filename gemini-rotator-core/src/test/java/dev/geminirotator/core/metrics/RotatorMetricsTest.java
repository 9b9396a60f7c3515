package dev.geminirotator.core.metrics;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.RotatorStats;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class RotatorMetricsTest {

  private static final String[] SECRETS = {
      "AIzaSyTEST-secret-value-0001", "AIzaSyTEST-secret-value-0002",
      "AIzaSyTEST-secret-value-0003", "AIzaSyTEST-secret-value-0004"};
  private static final String MODEL = "gemini-2.5-flash";
  private static final Duration PAST_CACHE = Duration.ofMillis(1_001);

  private final FakeClock clock = FakeClock.standard();
  private final MeterRegistry registry = new SimpleMeterRegistry();
  private final GeminiKeyRotator rotator =
      GeminiKeyRotator.builder().secrets(SECRETS).clock(clock).build();

  @AfterEach
  void closeRotator() {
    rotator.close();
  }

  private RotatorMetrics bind(RotatorMetrics.Builder builder) {
    RotatorMetrics metrics = builder.clock(clock).build();
    metrics.bindTo(registry);
    return metrics;
  }

  private double keys(String state) {
    return registry.get("gemini.rotator.keys").tag("state", state).gauge().value();
  }

  private double counter(String name) {
    return registry.get(name).functionCounter().count();
  }

  private double outcomes(String outcome) {
    return registry.get("gemini.rotator.outcomes").tag("outcome", outcome).functionCounter()
        .count();
  }

  private double transitions(String from, String to) {
    return registry.get("gemini.rotator.state.transitions").tag("from", from).tag("to", to)
        .counter().count();
  }

  private String idOf(String secret) {
    return ApiKey.of(secret).id();
  }

  private void attempt(Outcome outcome) {
    try (KeyLease lease = rotator.acquire(RequestContext.forModel(MODEL))) {
      lease.complete(outcome);
    }
  }

  @Test
  void everyMeterIsRegisteredWithItsTags() {
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder().clock(clock).build();
    bind(RotatorMetrics.builder(rotator).guard(guard, "*", MODEL));

    for (String state : List.of("healthy", "rate_limited", "unhealthy", "invalid", "disabled")) {
      assertThat(registry.find("gemini.rotator.keys").tag("state", state).gauge()).isNotNull();
    }
    for (String secret : SECRETS) {
      assertThat(registry.get("gemini.rotator.key.health").tag("key", idOf(secret)).gauge()
          .value()).isEqualTo(1.0);
    }
    for (String outcome : List.of("success", "rate_limited", "key_rejected", "client_error",
        "upstream_error", "transport_error", "cancelled")) {
      assertThat(outcomes(outcome)).isZero();
    }
    assertThat(counter("gemini.rotator.acquisitions")).isZero();
    assertThat(counter("gemini.rotator.no.key.available")).isZero();
    assertThat(counter("gemini.rotator.cooldowns")).isZero();
    assertThat(counter("gemini.rotator.trials")).isZero();
    assertThat(registry.get("gemini.rotator.breaker.state").tag("scope", "*").gauge().value())
        .isZero();
    assertThat(registry.get("gemini.rotator.breaker.state").tag("scope", MODEL).gauge().value())
        .isZero();
    assertThat(keys("healthy")).isEqualTo(4);
    assertThat(keys("invalid")).isZero();
  }

  @Test
  void countersMoveWithAcquisitionsAndEveryOutcome() {
    bind(RotatorMetrics.builder(rotator));

    attempt(Outcome.success());
    attempt(Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE));
    attempt(Outcome.keyRejected(400, "API_KEY_INVALID"));
    attempt(Outcome.clientError(404));
    attempt(Outcome.upstreamError(500, "INTERNAL"));
    attempt(Outcome.transportError("connection reset"));
    attempt(Outcome.cancelled());
    RequestContext everyKeyTried = RequestContext.forModel(MODEL);
    for (String secret : SECRETS) everyKeyTried = everyKeyTried.excluding(idOf(secret));
    RequestContext exhausted = everyKeyTried;
    assertThatThrownBy(() -> rotator.acquire(exhausted))
        .isInstanceOf(NoKeyAvailableException.class);
    clock.advance(PAST_CACHE);

    assertThat(counter("gemini.rotator.acquisitions")).isEqualTo(7);
    assertThat(counter("gemini.rotator.no.key.available")).isEqualTo(1);
    assertThat(counter("gemini.rotator.cooldowns")).isEqualTo(1);
    for (String outcome : List.of("success", "rate_limited", "key_rejected", "client_error",
        "upstream_error", "transport_error", "cancelled")) {
      assertThat(outcomes(outcome)).as(outcome).isEqualTo(1);
    }
  }

  @Test
  void countersAreReadOncePerCacheWindow() {
    bind(RotatorMetrics.builder(rotator));
    assertThat(outcomes("success")).isZero();

    attempt(Outcome.success());

    assertThat(outcomes("success")).as("still the cached reading").isZero();
    clock.advance(PAST_CACHE);
    assertThat(outcomes("success")).isEqualTo(1);
  }

  @Test
  void aKeyGoingInvalidMovesTheStateGaugeAndTheTransitionCounterAtOnce() {
    bind(RotatorMetrics.builder(rotator));
    assertThat(keys("invalid")).isZero();

    attempt(Outcome.keyRejected(400, "API_KEY_INVALID"));

    assertThat(keys("invalid")).isEqualTo(1);
    assertThat(keys("healthy")).isEqualTo(3);
    assertThat(transitions("healthy", "invalid")).isEqualTo(1);
  }

  @Test
  void rateLimitedAndDisabledKeysAreCountedByState() {
    bind(RotatorMetrics.builder(rotator));
    attempt(Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE));
    rotator.disable(idOf(SECRETS[1]));

    assertThat(keys("rate_limited")).isEqualTo(1);
    assertThat(keys("disabled")).isEqualTo(1);
    assertThat(keys("healthy")).isEqualTo(2);
    assertThat(transitions("healthy", "disabled")).isEqualTo(1);

    clock.advance(Duration.ofSeconds(31));
    assertThat(keys("rate_limited")).as("the cooldown ran out, no event needed").isZero();
    assertThat(keys("healthy")).isEqualTo(3);
  }

  @Test
  void trialsAndUnhealthyKeysAreCounted() {
    GeminiKeyRotator single = GeminiKeyRotator.builder().secrets(SECRETS[0]).clock(clock).build();
    try (RotatorMetrics metrics = RotatorMetrics.builder(single).clock(clock).build()) {
      metrics.bindTo(registry);
      for (int i = 0; i < 7; i++) { // health 0.9^7 < 0.5
        try (KeyLease lease = single.acquire(RequestContext.anyModel())) {
          lease.complete(Outcome.upstreamError(500, "INTERNAL"));
        }
      }
      assertThat(keys("unhealthy")).isEqualTo(1);
      assertThat(transitions("healthy", "unhealthy")).isEqualTo(1);

      clock.advance(Duration.ofSeconds(16));
      try (KeyLease trial = single.acquire(RequestContext.anyModel())) {
        assertThat(trial.isTrial()).isTrue();
        trial.complete(Outcome.success());
      }

      assertThat(counter("gemini.rotator.trials")).isEqualTo(1);
      assertThat(keys("healthy")).isEqualTo(1);
      assertThat(transitions("unhealthy", "healthy")).isEqualTo(1);
      assertThat(registry.get("gemini.rotator.key.health").tag("key", idOf(SECRETS[0])).gauge()
          .value()).isEqualTo(0.75);
    } finally {
      single.close();
    }
  }

  @Test
  void keysAddedAndRemovedAtRunTimeGainAndLoseTheirHealthGauge() {
    bind(RotatorMetrics.builder(rotator));
    ApiKey added = ApiKey.builder("AIzaSyTEST-secret-value-0005").id("late-key").build();

    rotator.addKey(added);

    assertThat(registry.get("gemini.rotator.key.health").tag("key", "late-key").gauge().value())
        .isEqualTo(1.0);
    assertThat(keys("healthy")).isEqualTo(5);

    rotator.removeKey("late-key");
    rotator.removeKey(idOf(SECRETS[0]));

    assertThat(registry.find("gemini.rotator.key.health").tag("key", "late-key").gauge())
        .isNull();
    assertThat(registry.find("gemini.rotator.key.health").tag("key", idOf(SECRETS[0])).gauge())
        .isNull();
    assertThat(registry.find("gemini.rotator.key.health").gauges()).hasSize(3);
    assertThat(keys("healthy")).isEqualTo(3);
  }

  @Test
  void perKeyMetersCanBeTurnedOffForHugePools() {
    bind(RotatorMetrics.builder(rotator).perKeyMeters(false));

    rotator.addKey(ApiKey.of("AIzaSyTEST-secret-value-0005"));

    assertThat(registry.find("gemini.rotator.key.health").meters()).isEmpty();
    assertThat(keys("healthy")).isEqualTo(5);
  }

  @Test
  void noMeterNameOrTagEverHoldsAKeySecret() {
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder()
        .policy(BreakerPolicy.builder().perModel(true).build()).clock(clock).build();
    bind(RotatorMetrics.builder(rotator).guard(guard, "*", MODEL));
    rotator.addKey(ApiKey.of("AIzaSyTEST-secret-value-0005"));
    attempt(Outcome.keyRejected(401, "UNAUTHENTICATED"));
    attempt(Outcome.rateLimited(null, QuotaScope.UNKNOWN));
    attempt(Outcome.success());

    List<String> secrets = new ArrayList<>(List.of(SECRETS));
    secrets.add("AIzaSyTEST-secret-value-0005");
    assertThat(registry.getMeters()).isNotEmpty();
    for (Meter meter : registry.getMeters()) {
      Meter.Id id = meter.getId();
      StringBuilder text = new StringBuilder(id.getName()).append(' ')
          .append(id.getDescription());
      for (Tag tag : id.getTagsAsIterable()) {
        text.append(' ').append(tag.getKey()).append('=').append(tag.getValue());
      }
      for (String secret : secrets) {
        assertThat(text.toString()).doesNotContain(secret).doesNotContain("secret-value");
      }
    }
  }

  @Test
  void breakerStateGaugeFollowsTheGuard() {
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder().clock(clock)
        .policy(BreakerPolicy.builder().minimumCalls(2).slidingWindowSize(2).build()).build();
    bind(RotatorMetrics.builder(rotator).guard(guard));
    double before = registry.get("gemini.rotator.breaker.state").tag("scope", "*").gauge().value();

    for (int i = 0; i < 2; i++) {
      guard.acquirePermission(MODEL);
      guard.onOutcome(MODEL, Outcome.upstreamError(503, "UNAVAILABLE"), Duration.ZERO);
    }
    double open = registry.get("gemini.rotator.breaker.state").tag("scope", "*").gauge().value();
    clock.advance(BreakerPolicy.DEFAULT_WAIT_IN_OPEN.plusMillis(1));
    guard.acquirePermission(MODEL);
    double halfOpen =
        registry.get("gemini.rotator.breaker.state").tag("scope", "*").gauge().value();

    assertThat(List.of(before, open, halfOpen)).containsExactly(0.0, 2.0, 1.0);
  }

  @Test
  void breakerTransitionsAreCountedByScopeFromAndTo() {
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder().clock(clock)
        .policy(BreakerPolicy.builder().minimumCalls(2).slidingWindowSize(2)
            .permittedCallsInHalfOpen(1).build()).build();
    bind(RotatorMetrics.builder(rotator).guard(guard));
    for (int i = 0; i < 2; i++) {
      guard.acquirePermission(MODEL);
      guard.onOutcome(MODEL, Outcome.upstreamError(503, "UNAVAILABLE"), Duration.ZERO);
    }
    clock.advance(BreakerPolicy.DEFAULT_WAIT_IN_OPEN.plusMillis(1));
    guard.acquirePermission(MODEL); // half-open: the trial fails and opens it again
    guard.onOutcome(MODEL, Outcome.upstreamError(503, "UNAVAILABLE"), Duration.ZERO);
    clock.advance(Duration.ofMinutes(10)); // the wait grows after a failed trial
    guard.acquirePermission(MODEL); // half-open again: the trial succeeds
    guard.onOutcome(MODEL, Outcome.success(), Duration.ZERO);
    guard.acquirePermission(MODEL);
    guard.onOutcome(MODEL, Outcome.success(), Duration.ZERO);

    assertThat(registry.get("gemini.rotator.breaker.transitions").tag("scope", "*")
        .tag("from", "closed").tag("to", "open").counter().count()).isEqualTo(1.0);
    assertThat(registry.get("gemini.rotator.breaker.transitions").tag("scope", "*")
        .tag("from", "open").tag("to", "half_open").counter().count()).isEqualTo(2.0);
    assertThat(registry.get("gemini.rotator.breaker.transitions").tag("scope", "*")
        .tag("from", "half_open").tag("to", "open").counter().count()).isEqualTo(1.0);
    assertThat(registry.get("gemini.rotator.breaker.transitions").tag("scope", "*")
        .tag("from", "half_open").tag("to", "closed").counter().count()).isEqualTo(1.0);
  }

  @Test
  void perModelBreakersGetAGaugeOnceTheyChangeState() {
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder().clock(clock)
        .policy(BreakerPolicy.builder().perModel(true).minimumCalls(2).slidingWindowSize(2)
            .build()).build();
    bind(RotatorMetrics.builder(rotator).guard(guard));

    for (int i = 0; i < 2; i++) {
      guard.acquirePermission("gemini-2.5-pro");
      guard.onOutcome("gemini-2.5-pro", Outcome.transportError("timeout"), Duration.ZERO);
    }

    assertThat(registry.get("gemini.rotator.breaker.state").tag("scope", "gemini-2.5-pro")
        .gauge().value()).isEqualTo(2.0);
    assertThat(registry.get("gemini.rotator.breaker.state").tag("scope", "*").gauge().value())
        .isZero();
  }

  @Test
  void breakerScopesPastTheCapShareTheOtherScopeAndEveryTransitionIsCounted() {
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder().clock(clock)
        .policy(BreakerPolicy.builder().perModel(true).minimumCalls(2).slidingWindowSize(2)
            .build()).build();
    bind(RotatorMetrics.builder(rotator).guard(guard).maxBreakerScopes(3));

    for (int m = 0; m < 10; m++) { // ten client-chosen model names, each breaker opens
      String model = "model-" + m;
      for (int i = 0; i < 2; i++) {
        guard.acquirePermission(model);
        guard.onOutcome(model, Outcome.transportError("timeout"), Duration.ZERO);
      }
      assertThat(guard.state(model)).isEqualTo(CircuitGuard.State.OPEN);
    }

    assertThat(registry.find("gemini.rotator.breaker.state").gauges()).extracting(
        g -> g.getId().getTag("scope")).containsExactlyInAnyOrder("*", "model-0", "model-1");
    assertThat(registry.find("gemini.rotator.breaker.transitions").counters()).extracting(
        c -> c.getId().getTag("scope")).containsExactlyInAnyOrder("model-0", "model-1", "other");
    assertThat(registry.get("gemini.rotator.breaker.transitions").tag("scope", "other")
        .tag("from", "closed").tag("to", "open").counter().count()).isEqualTo(8.0);
  }

  @Test
  void aBreakerScopeCapBelowOneIsRefused() {
    assertThatThrownBy(() -> RotatorMetrics.builder(rotator).maxBreakerScopes(0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("max-breaker-scopes must be >= 1 but was 0");
  }

  @Test
  void aScrapeReadsOneSnapshotForAllGauges() {
    CountingRotator counting = new CountingRotator(rotator);
    RotatorMetrics metrics = RotatorMetrics.builder(counting).clock(clock).build();
    metrics.bindTo(registry);
    counting.snapshots.set(0);
    counting.stats.set(0);

    scrape();
    assertThat(counting.snapshots).hasValue(1);
    assertThat(counting.stats).hasValue(1);

    scrape();
    assertThat(counting.snapshots).as("within the cache window").hasValue(1);

    clock.advance(PAST_CACHE);
    scrape();
    assertThat(counting.snapshots).hasValue(2);
    assertThat(counting.stats).hasValue(2);

    rotator.disable(idOf(SECRETS[2]));
    scrape();
    assertThat(counting.snapshots).as("a state change drops the cached snapshot").hasValue(3);
    assertThat(keys("disabled")).isEqualTo(1);
  }

  private void scrape() {
    for (Meter meter : registry.getMeters()) meter.measure().forEach(m -> m.getValue());
  }

  @Test
  void commonTagsGoOnEveryMeterAndSeveralRegistriesCanBeBound() {
    MeterRegistry other = new SimpleMeterRegistry();
    RotatorMetrics metrics = bind(RotatorMetrics.builder(rotator).tags(Tags.of("pool", "main")));
    metrics.bindTo(other);
    metrics.bindTo(registry); // again: no duplicates

    attempt(Outcome.keyRejected(403, "PERMISSION_DENIED"));

    for (MeterRegistry r : List.of(registry, other)) {
      assertThat(r.getMeters()).allSatisfy(m -> assertThat(m.getId().getTag("pool"))
          .isEqualTo("main"));
      assertThat(r.get("gemini.rotator.state.transitions").tag("to", "invalid").counter().count())
          .isEqualTo(1);
    }
  }

  @Test
  void closeRemovesEveryMeterAndStopsFollowingTheRotator() {
    RotatorMetrics metrics = bind(RotatorMetrics.builder(rotator));
    attempt(Outcome.keyRejected(400, "API_KEY_INVALID"));
    assertThat(registry.getMeters()).isNotEmpty();

    metrics.close();
    rotator.addKey(ApiKey.of("AIzaSyTEST-secret-value-0005"));
    attempt(Outcome.keyRejected(400, "API_KEY_INVALID"));

    assertThat(registry.getMeters()).isEmpty();
    assertThatThrownBy(() -> metrics.bindTo(registry)).isInstanceOf(IllegalStateException.class);
  }

  @Test
  void blankScopesAreRefused() {
    assertThatThrownBy(() -> RotatorMetrics.builder(rotator)
        .guard(ResilientCircuitGuard.builder().build(), "*", " "))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("breaker scopes must not be blank but were [*,  ]");
    assertThatThrownBy(() -> RotatorMetrics.builder(rotator).cacheFor(Duration.ofSeconds(-1)))
        .hasMessage("cache-for must be >= 0 but was -1s");
  }

  /** Counts the reads metrics make of a rotator. */
  private static final class CountingRotator implements KeyRotator {
    final KeyRotator delegate;
    final AtomicInteger snapshots = new AtomicInteger();
    final AtomicInteger stats = new AtomicInteger();

    CountingRotator(KeyRotator delegate) {
      this.delegate = delegate;
    }

    @Override
    public KeyLease acquire(RequestContext context) {
      return delegate.acquire(context);
    }

    @Override
    public void addKey(ApiKey key) {
      delegate.addKey(key);
    }

    @Override
    public boolean removeKey(String keyId) {
      return delegate.removeKey(keyId);
    }

    @Override
    public boolean disable(String keyId) {
      return delegate.disable(keyId);
    }

    @Override
    public boolean enable(String keyId) {
      return delegate.enable(keyId);
    }

    @Override
    public boolean reset(String keyId) {
      return delegate.reset(keyId);
    }

    @Override
    public List<KeySnapshot> snapshot() {
      snapshots.incrementAndGet();
      return delegate.snapshot();
    }

    @Override
    public Optional<KeySnapshot> snapshot(String keyId) {
      return delegate.snapshot(keyId);
    }

    @Override
    public RotatorStats stats() {
      stats.incrementAndGet();
      return delegate.stats();
    }

    @Override
    public Subscription addListener(RotatorListener listener) {
      return delegate.addListener(listener);
    }

    @Override
    public void close() {
      delegate.close();
    }
  }
}
