package dev.geminirotator.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The memory store's values ({@code putValue}/{@code getValue}/{@code removeValue}). */
class MemoryValuesTest {

  private final FakeClock clock = FakeClock.standard();
  private final MemoryKeyStateStore store = new MemoryKeyStateStore(clock);

  @Test
  void aValueIsKeptUntilItsTimeToLivePasses() {
    store.putValue("pin:file:files/a", "project-1", Duration.ofMinutes(5));

    clock.advance(Duration.ofMinutes(5).minusMillis(1));
    assertThat(store.getValue("pin:file:files/a")).isEqualTo("project-1");
    clock.advance(Duration.ofMillis(1));
    assertThat(store.getValue("pin:file:files/a")).isNull();
  }

  @Test
  void aRemovedValueIsGone() {
    store.putValue("pin:file:files/a", "project-1", Duration.ofHours(1));
    store.putValue("pin:file:files/b", "project-2", Duration.ofHours(1));

    store.removeValue("pin:file:files/a");
    store.removeValue("pin:file:files/never");

    assertThat(store.getValue("pin:file:files/a")).isNull();
    assertThat(store.getValue("pin:file:files/b")).isEqualTo("project-2");
  }

  @Test
  void aFullStoreDropsExpiredValuesToMakeRoomAndOtherwiseKeepsNothingNew() {
    for (int i = 0; i < MemoryKeyStateStore.MAX_VALUES; i++) {
      store.putValue("v" + i, "x", Duration.ofMinutes(i < 10 ? 1 : 60));
    }
    store.putValue("late", "x", Duration.ofHours(1));
    assertThat(store.getValue("late")).as("full, nothing expired").isNull();
    assertThat(store.getValue("v0")).isEqualTo("x");

    clock.advance(Duration.ofMinutes(2));
    store.putValue("late", "x", Duration.ofHours(1));
    assertThat(store.getValue("late")).as("room made by the expired ten").isEqualTo("x");
    assertThat(store.getValue("v10")).isEqualTo("x");
  }
}
