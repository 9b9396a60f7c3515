package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.core.health.HealthPolicy;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/** Regressions from review: the store and the rotators sharing it must agree on the latest state. */
class StoreConsistencyTest {

  private static final RequestContext FLASH = RequestContext.forModel("gemini-2.5-flash");
  private final FakeClock clock = FakeClock.standard();

  private static ApiKey key(String id) {
    return ApiKey.builder("secret-" + id + "-0123456789").id(id).build();
  }

  private static KeyLease only(GeminiKeyRotator rotator, String keyId) {
    RequestContext ctx = FLASH;
    for (KeySnapshot s : rotator.snapshot()) {
      if (!s.id().equals(keyId)) ctx = ctx.excluding(s.id());
    }
    return rotator.acquire(ctx);
  }

  /**
   * Delegates to a memory store; can hold the first UNHEALTHY write, or the first cooldown before
   * or after the store took it, or stop delivering to this store's subscribers (which makes it a
   * store that never hands a rotator its own changes back).
   */
  static final class ControlledStore implements KeyStateStore {
    final MemoryKeyStateStore backing;
    final CountDownLatch holding = new CountDownLatch(1);
    final CountDownLatch release = new CountDownLatch(1);
    volatile boolean holdFirstUnhealthy;
    volatile boolean holdFirstCooldown;
    volatile boolean holdFirstCooldownAfterTaking;
    volatile boolean deliver = true;

    ControlledStore(FakeClock clock) {
      backing = new MemoryKeyStateStore(clock);
    }

    @Override
    public StoreSnapshot load() {
      return backing.load();
    }

    @Override
    public StateChange apply(StateChange change) {
      if (holdFirstUnhealthy && change instanceof StateChange.KeyStatus s
          && s.state() == KeyState.UNHEALTHY) {
        holdFirstUnhealthy = false;
        hold();
      }
      if (holdFirstCooldown && change instanceof StateChange.Cooldown c && !c.cleared()) {
        holdFirstCooldown = false;
        hold();
      }
      StateChange standing = backing.apply(change);
      if (holdFirstCooldownAfterTaking && change instanceof StateChange.Cooldown c
          && !c.cleared()) {
        holdFirstCooldownAfterTaking = false;
        hold();
      }
      return standing;
    }

    private void hold() {
      holding.countDown();
      try {
        release.await(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    @Override
    public Subscription subscribe(Consumer<StateChange> listener) {
      return backing.subscribe(change -> {
        if (deliver) listener.accept(change);
      });
    }


    @Override
    public boolean isAvailable() {
      return true;
    }

    @Override
    public String describe() {
      return "controlled:";
    }

    @Override
    public void close() {
    }
  }

  @Test
  void aSlowWriterNeverPutsAnOlderStatusOverANewerOne() throws Exception {
    ControlledStore store = new ControlledStore(clock);
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(key("k0"), key("k1"))).build();
    for (int i = 0; i < 6; i++) only(rotator, "k0").complete(Outcome.upstreamError(500, "INTERNAL"));
    store.holdFirstUnhealthy = true;

    Thread unhealthy = new Thread(() ->
        only(rotator, "k0").complete(Outcome.upstreamError(500, "INTERNAL")));
    unhealthy.start();
    assertThat(store.holding.await(10, TimeUnit.SECONDS)).isTrue();
    // While the UNHEALTHY write is stuck, an operator resets the key and it is then rejected.
    Thread invalid = new Thread(() -> {
      rotator.reset("k0");
      only(rotator, "k0").complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    });
    invalid.start();
    // Release the stuck write once the rejection is done, or is itself waiting to write.
    Eventually.until("the rejection is applied or waits to write",
        () -> rotator.snapshot("k0").orElseThrow().state() == KeyState.INVALID
            || invalid.getState() == Thread.State.BLOCKED);
    store.release.countDown();
    unhealthy.join(10_000);
    invalid.join(10_000);

    assertThat(rotator.snapshot("k0").orElseThrow().state()).isEqualTo(KeyState.INVALID);
    assertThat(store.backing.statuses().get("k0").state()).isEqualTo(KeyState.INVALID);
  }

  @Test
  void aResetRacingASlowCooldownWriteEndsAsTheStoreDoes() throws Exception {
    // A 429 cools the key's project here, and its write to the store is slow; meanwhile an
    // operator resets the key. The rotator writes one project's cooldowns one at a time, each
    // with the store's answer, so the reset's clear waits for the slow write and lands after it,
    // here as in the store (and every other instance).
    ControlledStore store = new ControlledStore(clock);
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(key("k0"), key("k1"))).build();
    store.holdFirstCooldown = true;
    assertEndsAsTheStore(store, rotator);
  }

  @Test
  void aStoreThatNeverHandsChangesBackStillLeavesTheRotatorInItsOrder() throws Exception {
    // The same race with a store that never hands a rotator its own changes back, so nothing
    // but the answers can order them here. Were the reset's clear to overtake the slow write in
    // the store, this rotator would adopt the clear first and then skip the cooldown's answer as
    // already seen, or adopt it over the clear: either way, out of the store's order.
    ControlledStore store = new ControlledStore(clock);
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(key("k0"), key("k1"))).build();
    store.deliver = false;
    store.holdFirstCooldown = true;
    assertEndsAsTheStore(store, rotator);
  }

  @Test
  void anotherRotatorsChangeDeliveredDuringAWriteIsNotUndoneByTheWritesAnswer() throws Exception {
    // The store takes this rotator's cooldown (and hands it to both rotators); before its answer
    // comes back, the other rotator's reset clears it in the store and hands the clear to this
    // one. The answer to the earlier write must not put the cooldown back here.
    ControlledStore store = new ControlledStore(clock);
    GeminiKeyRotator writer = GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(key("k0"), key("k1"))).build();
    GeminiKeyRotator other = GeminiKeyRotator.builder().clock(clock).store(store.backing)
        .keys(List.of(key("k0"), key("k1"))).build();
    store.holdFirstCooldownAfterTaking = true;
    Thread limited = new Thread(() -> only(writer, "k0")
        .complete(Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE)));
    limited.start();
    assertThat(store.holding.await(10, TimeUnit.SECONDS)).isTrue();
    assertThat(other.snapshot("k0").orElseThrow().cooldowns()).hasSize(1);

    other.reset("k0");
    assertThat(writer.snapshot("k0").orElseThrow().cooldowns()).isEmpty();
    store.release.countDown();
    limited.join(10_000);

    assertThat(store.backing.cooldowns()).isEmpty();
    assertThat(writer.snapshot("k0").orElseThrow().cooldowns()).isEmpty();
  }

  private void assertEndsAsTheStore(ControlledStore store, GeminiKeyRotator rotator)
      throws Exception {
    Thread limited = new Thread(() -> only(rotator, "k0")
        .complete(Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE)));
    limited.start();
    assertThat(store.holding.await(10, TimeUnit.SECONDS)).isTrue();
    Thread reset = new Thread(() -> rotator.reset("k0"));
    reset.start();
    Eventually.until("the reset is done or waits to write",
        () -> !reset.isAlive() || reset.getState() == Thread.State.BLOCKED);
    store.release.countDown();
    limited.join(10_000);
    reset.join(10_000);

    assertThat(store.backing.cooldowns()).as("the clear came last").isEmpty();
    assertThat(rotator.snapshot("k0").orElseThrow().cooldowns()).isEmpty();
    assertThat(rotator.snapshot("k0").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void aRecoveryLearnedFromAnotherRotatorBringsHealthBackToo() {
    MemoryKeyStateStore store = new MemoryKeyStateStore(clock);
    GeminiKeyRotator a = GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(key("k0"), key("k1"))).build();
    GeminiKeyRotator b = GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(key("k0"), key("k1"))).build();
    for (int i = 0; i < 7; i++) only(b, "k0").complete(Outcome.upstreamError(500, "INTERNAL"));
    assertThat(a.snapshot("k0").orElseThrow().state()).isEqualTo(KeyState.UNHEALTHY);

    a.reset("k0");

    KeySnapshot seenByB = b.snapshot("k0").orElseThrow();
    assertThat(seenByB.state()).isEqualTo(KeyState.HEALTHY);
    assertThat(seenByB.health()).isGreaterThanOrEqualTo(HealthPolicy.DEFAULT_RECOVERED_SCORE);
    only(b, "k0").complete(Outcome.upstreamError(500, "INTERNAL"));
    assertThat(a.snapshot("k0").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void reconcileKeepsLiveHealthInsteadOfTheStoredCopy() {
    MemoryKeyStateStore store = new MemoryKeyStateStore(clock);
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(key("k0"), key("k1"))).build();
    only(rotator, "k0").complete(Outcome.keyRejected(401, "UNAUTHENTICATED"));
    rotator.reset("k0");
    for (int i = 0; i < 3; i++) only(rotator, "k0").complete(Outcome.upstreamError(500, "INTERNAL"));
    double live = rotator.snapshot("k0").orElseThrow().health();
    assertThat(live).isLessThan(1.0);
    rotator.reconcile();
    assertThat(rotator.snapshot("k0").orElseThrow().health()).isEqualTo(live);
  }

  @Test
  void aNewSecretForAnInvalidKeyStartsHealthy() {
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().clock(clock)
        .keys(List.of(key("k0"), key("k1"))).build();
    only(rotator, "k0").complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    rotator.addKey(ApiKey.builder("secret-k0-renewed-0123456789").id("k0").build());
    assertThat(rotator.snapshot("k0").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void reconcileRepairsARecoveryWhoseMessageWasMissed() {
    ControlledStore store = new ControlledStore(clock);
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(key("k0"), key("k1"))).build();
    only(rotator, "k0").complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    store.deliver = false; // the next message is lost on its way to this rotator
    store.backing.apply(new StateChange.KeyStatus("k0", KeyState.HEALTHY, null, "reset elsewhere",
        clock.instant()));

    rotator.reconcile();
    assertThat(rotator.snapshot("k0").orElseThrow().state()).as("within the grace period")
        .isEqualTo(KeyState.INVALID);
    clock.advance(Duration.ofSeconds(11));
    rotator.reconcile();
    assertThat(rotator.snapshot("k0").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
  }
}
