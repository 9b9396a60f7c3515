package dev.geminirotator.api.spi;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** The SPI's merge rules, which every store applies. */
class StoreStateTest {

  private static final Instant NOW = Instant.parse("2026-12-07T12:00:00Z");
  private final StoreState state = new StoreState();

  @Test
  void aCooldownThatEndsBeforeTheOneStandingLosesAndTheStandingOneIsReturned() {
    var later = new StateChange.Cooldown("p1", "flash", NOW.plusSeconds(60), false);
    var sooner = new StateChange.Cooldown("p1", "flash", NOW.plusSeconds(10), false);

    assertThat(state.apply(later)).isSameAs(later);
    assertThat(state.apply(sooner)).as("what stands").isSameAs(later);
    assertThat(state.cooldown("p1", "flash")).isSameAs(later);

    var longer = new StateChange.Cooldown("p1", "flash", NOW.plusSeconds(90), false);
    assertThat(state.apply(longer)).isSameAs(longer);
    var otherModel = new StateChange.Cooldown("p1", "pro", NOW.plusSeconds(5), false);
    assertThat(state.apply(otherModel)).as("another scope").isSameAs(otherModel);
  }

  @Test
  void aClearedCooldownRemovesItWhateverItsInstant() {
    state.apply(new StateChange.Cooldown("p1", "flash", NOW.plusSeconds(60), false));
    var clear = new StateChange.Cooldown("p1", "flash", Instant.EPOCH, true);

    assertThat(state.apply(clear)).isSameAs(clear);
    assertThat(state.cooldown("p1", "flash")).isNull();
    assertThat(state.snapshot(NOW).cooldowns()).isEmpty();
  }

  @Test
  void theLastStatusStandsAndHealthyWithNoHistoryIsNotKept() {
    state.apply(new StateChange.KeyStatus("k1", KeyState.INVALID, null, "rejected", NOW));
    var unhealthy = new StateChange.KeyStatus("k1", KeyState.UNHEALTHY, NOW.plusSeconds(30),
        "5xx", NOW.plusSeconds(1));
    assertThat(state.apply(unhealthy)).isSameAs(unhealthy);
    assertThat(state.status("k1")).isSameAs(unhealthy);

    state.apply(new StateChange.KeyStatus("k1", KeyState.HEALTHY, null, null, NOW));
    assertThat(state.status("k1")).isNull();
    assertThat(state.snapshot(NOW).statuses()).isEmpty();
  }

  @Test
  void aRemovedKeyLosesItsStatusAndHealthAndAReAddedOneIsNoLongerRemoved() {
    ApiKey key = ApiKey.builder("AIzaSyExampleExampleExampleExample00001").id("k1").build();
    state.apply(new StateChange.KeyAdded(key));
    state.apply(new StateChange.KeyStatus("k1", KeyState.DISABLED, null, "admin", NOW));
    state.apply(new StateChange.Health("k1", 0.4));

    state.apply(new StateChange.KeyRemoved("k1"));
    StoreSnapshot removed = state.snapshot(NOW);
    assertThat(removed.addedKeys()).isEmpty();
    assertThat(removed.removedKeyIds()).containsExactly("k1");
    assertThat(removed.statuses()).isEmpty();
    assertThat(removed.health()).isEmpty();

    state.apply(new StateChange.KeyAdded(key));
    StoreSnapshot back = state.snapshot(NOW);
    assertThat(back.addedKeys()).containsExactly(key);
    assertThat(back.removedKeyIds()).isEmpty();
  }

  @Test
  void aSnapshotLeavesOutAndForgetsCooldownsThatHaveEnded() {
    state.apply(new StateChange.Cooldown("p1", "flash", NOW.plusSeconds(10), false));
    state.apply(new StateChange.Cooldown("p2", "flash", NOW, false));
    state.apply(new StateChange.Breaker("upstream", "OPEN", NOW.plusSeconds(5)));

    StoreSnapshot snapshot = state.snapshot(NOW);
    assertThat(snapshot.cooldowns()).extracting(StateChange.Cooldown::project)
        .containsExactly("p1");
    assertThat(snapshot.breakers()).containsOnlyKeys("upstream");
    assertThat(state.cooldown("p2", "flash")).as("forgotten").isNull();

    state.clear();
    assertThat(state.snapshot(NOW)).isEqualTo(StoreSnapshot.EMPTY);
  }
}
