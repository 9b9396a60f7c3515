package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.testsupport.FakeClock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class SelectionStrategyTest {

  private final FakeClock clock = FakeClock.standard();
  private final RequestContext flash = RequestContext.forModel("gemini-2.5-flash");

  private GeminiKeyRotator rotator(Strategy strategy, ApiKey... keys) {
    return GeminiKeyRotator.builder().keys(List.of(keys)).strategy(strategy).clock(clock).build();
  }

  private static ApiKey key(String id, int weight) {
    return ApiKey.builder("secret-" + id + "-0123456789").id(id).weight(weight).build();
  }

  private static Map<String, Integer> pick(GeminiKeyRotator rotator, RequestContext ctx, int n) {
    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < n; i++) {
      KeyLease lease = rotator.acquire(ctx);
      counts.merge(lease.key().id(), 1, Integer::sum);
      lease.complete(Outcome.success());
    }
    return counts;
  }

  @Test
  void roundRobinVisitsEveryKeyInTurn() {
    GeminiKeyRotator rotator = rotator(Strategy.ROUND_ROBIN, key("a", 1), key("b", 1), key("c", 1));
    List<String> order = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      KeyLease lease = rotator.acquire(flash);
      order.add(lease.key().id());
      lease.complete(Outcome.success());
    }
    assertThat(order).containsExactly("a", "b", "c", "a", "b", "c");
  }

  @Test
  void weightedSelectionFollowsWeightsWithinTwoPercentOver100kPicks() {
    GeminiKeyRotator rotator = rotator(Strategy.WEIGHTED,
        key("w1", 1), key("w2", 2), key("w3", 3), key("w4", 4));
    Map<String, Integer> counts = pick(rotator, flash, 100_000);
    for (int w = 1; w <= 4; w++) {
      double expected = 100_000 * w / 10.0;
      assertThat((double) counts.get("w" + w)).as("picks of weight %d", w)
          .isCloseTo(expected, within(expected * 0.02));
    }
  }

  @Test
  void weightedSelectionFollowsUnevenWeightsInALargePool() {
    List<ApiKey> keys = new ArrayList<>();
    long total = 0;
    for (int i = 0; i < 200; i++) {
      int weight = 1 + (i * 7) % 10;
      keys.add(key("k" + i, weight));
      total += weight;
    }
    GeminiKeyRotator rotator = rotator(Strategy.WEIGHTED, keys.toArray(new ApiKey[0]));
    Map<String, Integer> counts = pick(rotator, flash, 100_000);
    for (ApiKey k : keys) {
      double expected = 100_000.0 * k.weight() / total;
      assertThat((double) counts.getOrDefault(k.id(), 0)).as(k.id())
          .isCloseTo(expected, within(Math.max(expected * 0.02, 3.0)));
    }
  }

  @Test
  void weightedSelectionInterleavesInsteadOfBunching() {
    GeminiKeyRotator rotator = rotator(Strategy.WEIGHTED, key("heavy", 3), key("light", 1));
    int longestRun = 0;
    int run = 0;
    for (int i = 0; i < 10_000; i++) {
      KeyLease lease = rotator.acquire(flash);
      run = lease.key().id().equals("heavy") ? run + 1 : 0;
      longestRun = Math.max(longestRun, run);
      lease.complete(Outcome.success());
    }
    // An unsmoothed weighted round-robin would serve "heavy" 3 times in a row every cycle at best
    // and a random pick would see runs of 20+; the low-discrepancy sequence stays short.
    assertThat(longestRun).isLessThanOrEqualTo(5);
  }

  @Test
  void powerOfTwoSpreadsLoadAcrossEqualKeys() {
    GeminiKeyRotator rotator = rotator(Strategy.POWER_OF_TWO,
        key("a", 1), key("b", 1), key("c", 1), key("d", 1));
    Map<String, Integer> counts = pick(rotator, flash, 40_000);
    assertThat(counts.values()).allSatisfy(c -> assertThat(c).isBetween(9_000, 11_000));
  }

  @Test
  void powerOfTwoAvoidsTheKeyWithMoreRequestsInFlight() {
    GeminiKeyRotator rotator = rotator(Strategy.POWER_OF_TWO, key("busy", 1), key("idle", 1));
    List<KeyLease> held = new ArrayList<>();
    // Pin 50 requests on "busy" by excluding "idle".
    for (int i = 0; i < 50; i++) held.add(rotator.acquire(flash.excluding("idle")));
    assertThat(held).allSatisfy(l -> assertThat(l.key().id()).isEqualTo("busy"));
    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < 1_000; i++) {
      KeyLease lease = rotator.acquire(flash);
      counts.merge(lease.key().id(), 1, Integer::sum);
      lease.complete(Outcome.success());
    }
    assertThat(counts.getOrDefault("idle", 0)).isGreaterThan(700);
    held.forEach(l -> l.complete(Outcome.success()));
  }

  @Test
  void powerOfTwoPrefersHealthierKeys() {
    GeminiKeyRotator rotator = rotator(Strategy.POWER_OF_TWO, key("flaky", 1), key("solid", 1));
    // Three upstream errors lower "flaky" without taking it out of rotation.
    for (int i = 0; i < 3; i++) {
      rotator.acquire(flash.excluding("solid")).complete(Outcome.upstreamError(500, "INTERNAL"));
    }
    assertThat(rotator.snapshot("flaky").orElseThrow().health()).isLessThan(0.8);
    Map<String, Integer> counts = pick(rotator, flash, 1_000);
    assertThat(counts.get("solid")).isGreaterThan(counts.getOrDefault("flaky", 0));
  }

  @ParameterizedTest
  @EnumSource(Strategy.class)
  void aKeyTheRequestAlreadyTriedIsNeverHandedOutAgain(Strategy strategy) {
    GeminiKeyRotator rotator = rotator(strategy, key("a", 1), key("b", 1), key("c", 1));
    for (int round = 0; round < 200; round++) {
      RequestContext ctx = flash;
      Set<String> seen = new HashSet<>();
      for (int attempt = 0; attempt < 3; attempt++) {
        KeyLease lease = rotator.acquire(ctx);
        assertThat(seen.add(lease.key().id())).as("attempt %d reused %s", attempt, lease.key().id())
            .isTrue();
        lease.complete(Outcome.upstreamError(503, "UNAVAILABLE"));
        ctx = ctx.excluding(lease.key().id());
      }
      RequestContext exhausted = ctx;
      assertThatThrownBy(() -> rotator.acquire(exhausted))
          .isInstanceOf(NoKeyAvailableException.class)
          .hasMessageContaining("3 already tried by this request");
    }
  }

  @ParameterizedTest
  @EnumSource(Strategy.class)
  void disabledAndInvalidKeysAreSkippedByEveryStrategy(Strategy strategy) {
    GeminiKeyRotator rotator = rotator(strategy, key("good", 1), key("off", 5), key("bad", 5));
    rotator.disable("off");
    rotator.acquire(flash.excluding("good").excluding("off"))
        .complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    Map<String, Integer> counts = pick(rotator, flash, 1_000);
    assertThat(counts).containsOnlyKeys("good");
  }

  @ParameterizedTest
  @EnumSource(Strategy.class)
  void everyStrategyFindsTheOneUsableKeyInALargePool(Strategy strategy) {
    List<ApiKey> keys = new ArrayList<>();
    for (int i = 0; i < 1_000; i++) keys.add(key("k" + i, 1));
    GeminiKeyRotator rotator = rotator(strategy, keys.toArray(new ApiKey[0]));
    for (int i = 0; i < 999; i++) rotator.disable("k" + i);
    for (int i = 0; i < 50; i++) {
      KeyLease lease = rotator.acquire(flash);
      assertThat(lease.key().id()).isEqualTo("k999");
      lease.complete(Outcome.success());
    }
  }
}
