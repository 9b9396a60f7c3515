package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import dev.geminirotator.api.ApiKey;
import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Both ways weighted selection reads a pool: the spelled-out cycle and the alias table. */
class PoolTest {

  private static KeySlot[] slots(int n, java.util.function.IntUnaryOperator weight) {
    KeySlot[] slots = new KeySlot[n];
    for (int i = 0; i < n; i++) {
      ApiKey key = ApiKey.builder("secret-" + i + "-0123456789").id("k" + i)
          .weight(weight.applyAsInt(i)).build();
      slots[i] = new KeySlot(key, new ProjectState(key.project()), null);
    }
    return slots;
  }

  @Test
  void theCycleHoldsEachKeyExactlyWeightTimesSpreadOut() {
    Pool pool = new Pool(slots(4, i -> i + 1)); // weights 1, 2, 3, 4
    assertThat(pool.schedule).hasSize(10);
    Map<String, Integer> counts = new HashMap<>();
    for (KeySlot slot : pool.schedule) counts.merge(slot.id, 1, Integer::sum);
    assertThat(counts).containsEntry("k0", 1).containsEntry("k1", 2).containsEntry("k2", 3)
        .containsEntry("k3", 4);
    int longestRun = 1;
    for (int i = 1, run = 1; i < pool.schedule.length; i++) {
      run = pool.schedule[i] == pool.schedule[i - 1] ? run + 1 : 1;
      longestRun = Math.max(longestRun, run);
    }
    assertThat(longestRun).as("no key twice in a row").isEqualTo(1);
  }

  @Test
  void weightsTooLargeToSpellOutFallBackToTheAliasTableWithinTwoPercent() {
    // 2,200 keys of weight 1,000 and 1 alternately: a cycle of 1,101,100 is over the limit.
    Pool pool = new Pool(slots(2_200, i -> i % 2 == 0 ? 1_000 : 1));
    assertThat(pool.schedule).isNull();
    long heavy = 0;
    int picks = 1_000_000;
    for (long k = 0; k < picks; k++) {
      if (pool.weightedIndex(k * 0x9E3779B97F4A7C15L) % 2 == 0) heavy++;
    }
    assertThat((double) heavy / picks).isCloseTo(1000.0 / 1001.0, within(0.02 * 1000.0 / 1001.0));
    Map<Integer, Integer> perKey = new HashMap<>();
    for (long k = 0; k < picks; k++) perKey.merge(pool.weightedIndex(k * 0x9E3779B97F4A7C15L), 1, Integer::sum);
    double expectedHeavy = picks * 1000.0 / 1_101_100;
    for (int i = 0; i < 2_200; i += 2) {
      assertThat((double) perKey.getOrDefault(i, 0)).as("k" + i)
          .isCloseTo(expectedHeavy, within(expectedHeavy * 0.02));
    }
  }
}
