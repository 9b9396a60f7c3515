package dev.geminirotator.core.store;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.spi.SharedValues;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The memory store's values ({@code values()}: put, get, remove). */
class MemoryValuesTest {

  private final FakeClock clock = FakeClock.standard();
  private final MemoryKeyStateStore store = new MemoryKeyStateStore(clock);
  private final SharedValues values = store.values().orElseThrow();

  @Test
  void aValueIsKeptUntilItsTimeToLivePasses() {
    values.put("pin:file:files/a", "project-1", Duration.ofMinutes(5));

    clock.advance(Duration.ofMinutes(5).minusMillis(1));
    assertThat(values.get("pin:file:files/a")).isEqualTo("project-1");
    clock.advance(Duration.ofMillis(1));
    assertThat(values.get("pin:file:files/a")).isNull();
  }

  @Test
  void aRemovedValueIsGone() {
    values.put("pin:file:files/a", "project-1", Duration.ofHours(1));
    values.put("pin:file:files/b", "project-2", Duration.ofHours(1));

    values.remove("pin:file:files/a");
    values.remove("pin:file:files/never");

    assertThat(values.get("pin:file:files/a")).isNull();
    assertThat(values.get("pin:file:files/b")).isEqualTo("project-2");
  }

  @Test
  void aFullStoreDropsExpiredValuesToMakeRoomAndOtherwiseKeepsNothingNew() {
    for (int i = 0; i < MemoryKeyStateStore.MAX_VALUES; i++) {
      values.put("v" + i, "x", Duration.ofMinutes(i < 10 ? 1 : 60));
    }
    values.put("late", "x", Duration.ofHours(1));
    assertThat(values.get("late")).as("full, nothing expired").isNull();
    assertThat(values.get("v0")).isEqualTo("x");

    clock.advance(Duration.ofMinutes(2));
    values.put("late", "x", Duration.ofHours(1));
    assertThat(values.get("late")).as("room made by the expired ten").isEqualTo("x");
    assertThat(values.get("v10")).isEqualTo("x");
  }
}
