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
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;

/**
 * A rotator adopts the state {@link KeyStateStore#apply} answers for its change, so it agrees
 * with the store right after writing, without waiting for a callback or a reconcile. The stores
 * here hand changes to their subscribers only when the test says so, as a store shared over a
 * network does (the change travels by pub/sub), and never on the applying thread.
 */
class StoreAnswerTest {

  private static final String FLASH = "gemini-2.5-flash";
  private final FakeClock clock = FakeClock.standard();

  private static ApiKey key(String id) {
    return ApiKey.builder("secret-" + id + "-0123456789").id(id).build();
  }

  private static KeyLease only(GeminiKeyRotator rotator, String keyId) {
    RequestContext ctx = RequestContext.forModel(FLASH);
    for (KeySnapshot s : rotator.snapshot()) {
      if (!s.id().equals(keyId)) ctx = ctx.excluding(s.id());
    }
    return rotator.acquire(ctx);
  }

  private GeminiKeyRotator rotator(KeyStateStore store, java.time.Clock clock) {
    return GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(key("k0"), key("k1"))).build();
  }

  /**
   * Merges like the memory store, answers what stands, and delivers changes to subscribers only
   * on {@link #deliver()}: later, and on the caller's thread, never from {@link #apply}. With
   * {@code newestStatusStands}, a status older ({@code at}) than the one held loses, as in a
   * backend that orders writers by time: apply then answers the one held.
   */
  static final class LaggingStore implements KeyStateStore {
    final MemoryKeyStateStore backing;
    final boolean newestStatusStands;
    private final List<StateChange> pending = new ArrayList<>();
    private final List<Consumer<StateChange>> listeners = new CopyOnWriteArrayList<>();

    LaggingStore(FakeClock clock, boolean newestStatusStands) {
      this.backing = new MemoryKeyStateStore(clock);
      this.newestStatusStands = newestStatusStands;
    }

    @Override
    public StoreSnapshot load() {
      return backing.load();
    }

    @Override
    public synchronized StateChange apply(StateChange change) {
      if (newestStatusStands && change instanceof StateChange.KeyStatus s) {
        StateChange.KeyStatus held = backing.statuses().get(s.keyId());
        if (held != null && held.at().isAfter(s.at())) return held;
      }
      StateChange standing = backing.apply(change);
      if (!(change instanceof StateChange.Health)) pending.add(standing);
      return standing;
    }

    /** Hands every change taken so far to every subscriber, in the order they were taken. */
    void deliver() {
      List<StateChange> batch;
      synchronized (this) {
        batch = new ArrayList<>(pending);
        pending.clear();
      }
      for (StateChange change : batch) {
        for (Consumer<StateChange> listener : listeners) listener.accept(change);
      }
    }

    @Override
    public Subscription subscribe(Consumer<StateChange> listener) {
      listeners.add(listener);
      return () -> listeners.remove(listener);
    }

    @Override
    public boolean isAvailable() {
      return true;
    }

    @Override
    public String describe() {
      return "lagging:";
    }

    @Override
    public void close() {
    }
  }

  @Test
  void aWriterAdoptsTheLaterCooldownAnotherRotatorAlreadySet() {
    LaggingStore store = new LaggingStore(clock, false);
    GeminiKeyRotator one = rotator(store, clock);
    GeminiKeyRotator two = rotator(store, clock);
    Instant later = clock.instant().plusSeconds(60);
    two.acquire(RequestContext.forModel(FLASH).excluding("k1"))
        .complete(Outcome.rateLimited(Duration.ofSeconds(60), QuotaScope.PER_MINUTE));
    // one has not heard of it yet, and meets a 429 asking for a shorter wait
    assertThat(one.snapshot("k0").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);

    only(one, "k0").complete(Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE));

    assertThat(store.backing.cooldowns()).extracting(StateChange.Cooldown::until)
        .containsExactly(later);
    assertThat(one.snapshot("k0").orElseThrow().cooldowns())
        .as("the writer holds what the store holds, before any delivery")
        .containsExactly(java.util.Map.entry(FLASH, later));
    store.deliver();
    assertThat(one.snapshot("k0").orElseThrow().cooldowns())
        .containsExactly(java.util.Map.entry(FLASH, later));
    assertThat(two.snapshot("k0").orElseThrow().cooldowns())
        .containsExactly(java.util.Map.entry(FLASH, later));
  }

  @Test
  void aWriterAdoptsTheNewerStatusTheStoreSaysStands() {
    LaggingStore store = new LaggingStore(clock, true);
    // one's host runs five seconds behind two's
    FakeClock behind = FakeClock.at(clock.instant().minusSeconds(5));
    GeminiKeyRotator one = rotator(store, behind);
    GeminiKeyRotator two = rotator(store, clock);
    two.disable("k0");
    assertThat(one.snapshot("k0").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);

    only(one, "k0").complete(Outcome.keyRejected(400, "API_KEY_INVALID"));

    assertThat(store.backing.statuses().get("k0").state()).isEqualTo(KeyState.DISABLED);
    assertThat(one.snapshot("k0").orElseThrow().state())
        .as("the writer holds what the store holds, before any delivery")
        .isEqualTo(KeyState.DISABLED);
    store.deliver();
    assertThat(one.snapshot("k0").orElseThrow().state()).isEqualTo(KeyState.DISABLED);
    assertThat(two.snapshot("k0").orElseThrow().state()).isEqualTo(KeyState.DISABLED);
  }
}
