package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.KeyStateStores;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class StoreSharingTest {

  private static final RequestContext FLASH = RequestContext.forModel("gemini-2.5-flash");
  private final FakeClock clock = FakeClock.standard();
  private final MemoryKeyStateStore store = new MemoryKeyStateStore(clock);

  private GeminiKeyRotator rotator() {
    return GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(key("a"), key("b"), key("c"))).build();
  }

  private static ApiKey key(String id) {
    return ApiKey.builder("secret-" + id + "-0123456789").id(id).build();
  }

  @Test
  void aCooldownSeenByOneRotatorKeepsTheOthersOffTheKey() {
    GeminiKeyRotator one = rotator();
    GeminiKeyRotator two = rotator();
    one.acquire(FLASH.excluding("b").excluding("c"))
        .complete(Outcome.rateLimited(Duration.ofSeconds(40), QuotaScope.PER_MINUTE));
    assertThat(two.snapshot("a").orElseThrow().state()).isEqualTo(KeyState.RATE_LIMITED);
    for (int i = 0; i < 10; i++) {
      assertThat(two.acquire(FLASH).key().id()).isNotEqualTo("a");
    }
  }

  @Test
  void invalidDisabledAndRuntimeKeysSurviveARestartOnTheSameStore() {
    GeminiKeyRotator first = rotator();
    first.acquire(FLASH.excluding("a").excluding("c")).complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    first.acquire(FLASH.excluding("b").excluding("c"))
        .complete(Outcome.rateLimited(null, QuotaScope.PER_DAY));
    first.disable("c");
    first.addKey(key("d"));
    first.removeKey("a");
    first.close();

    GeminiKeyRotator second = rotator();
    assertThat(second.snapshot()).extracting(s -> s.id() + "=" + s.state())
        .containsExactly("b=INVALID", "c=DISABLED", "d=HEALTHY");
    assertThat(second.acquire(FLASH).key().id()).isEqualTo("d");
  }

  @Test
  void expiredCooldownsAreNotRestored() {
    GeminiKeyRotator first = rotator();
    first.acquire(FLASH.excluding("b").excluding("c"))
        .complete(Outcome.rateLimited(Duration.ofSeconds(5), QuotaScope.PER_MINUTE));
    clock.advance(Duration.ofSeconds(6));
    assertThat(store.load().cooldowns()).isEmpty();
    assertThat(rotator().snapshot("a").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void healthIsWrittenBehindAndRestored() {
    GeminiKeyRotator first = rotator();
    first.acquire(FLASH.excluding("b").excluding("c")).complete(Outcome.upstreamError(500, "INTERNAL"));
    first.close();
    assertThat(store.load().health()).containsEntry("a", 0.9);
    assertThat(rotator().snapshot("a").orElseThrow().health()).isEqualTo(0.9);
  }

  @Test
  void aFailingStoreNeverFailsARequest() {
    MemoryKeyStateStore backing = new MemoryKeyStateStore(clock);
    KeyStateStore broken = new KeyStateStore() {
      @Override
      public dev.geminirotator.api.spi.StoreSnapshot load() {
        throw new IllegalStateException("backend down");
      }

      @Override
      public StateChange apply(StateChange change) {
        throw new IllegalStateException("backend down");
      }

      @Override
      public dev.geminirotator.api.Subscription subscribe(
          java.util.function.Consumer<StateChange> listener) {
        return backing.subscribe(listener);
      }


      @Override
      public boolean isAvailable() {
        return false;
      }

      @Override
      public String describe() {
        return "broken:";
      }

      @Override
      public void close() {
      }
    };
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().clock(clock).store(broken)
        .keys(List.of(key("a"), key("b"))).build();
    rotator.acquire(FLASH.excluding("b")).complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    assertThat(rotator.snapshot("a").orElseThrow().state()).isEqualTo(KeyState.INVALID);
    assertThat(rotator.acquire(FLASH).key().id()).isEqualTo("b");
  }

  @Test
  void storesAreFoundByUriScheme() {
    try (KeyStateStore memory = KeyStateStores.open("memory:")) {
      assertThat(memory).isInstanceOf(MemoryKeyStateStore.class);
      assertThat(memory.describe()).isEqualTo("memory:");
    }
    assertThatThrownBy(() -> KeyStateStores.open("postgres://db/x"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("no storage provider for scheme 'postgres'; available: [memory]"
            + " (add the module that provides it to the classpath)");
    assertThatThrownBy(() -> KeyStateStores.open("no scheme here"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("malformed");
    assertThatThrownBy(() -> KeyStateStores.open("memory:extra"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("takes no options");
  }

  @Test
  void applyAnswersWhatStandsAndListenersHearIt() {
    List<StateChange> heard = new java.util.ArrayList<>();
    store.subscribe(heard::add);
    var later = new StateChange.Cooldown("p1", "flash", clock.instant().plusSeconds(60), false);
    var sooner = new StateChange.Cooldown("p1", "flash", clock.instant().plusSeconds(10), false);

    assertThat(store.apply(later)).isSameAs(later);
    assertThat(store.apply(sooner)).as("the later cooldown stands").isSameAs(later);
    assertThat(heard).containsExactly(later, later);
    assertThat(store.cooldowns()).containsExactly(later);
  }

  @Test
  void windowCountersAreSharedAndReset() {
    assertThat(countThisMinute("client:x")).isEqualTo(1);
    assertThat(countThisMinute("client:x")).isEqualTo(2);
    assertThat(countThisMinute("client:y")).isEqualTo(1);
    clock.advance(Duration.ofMinutes(1));
    assertThat(countThisMinute("client:x")).isEqualTo(1);
  }

  private long countThisMinute(String name) {
    long now = clock.millis();
    return store.counters().orElseThrow().addAndGet(name,
        java.time.Instant.ofEpochMilli(now - Math.floorMod(now, 60_000L)), Duration.ofMinutes(1), 1);
  }
}
