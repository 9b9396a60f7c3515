package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/** Requests limited to one project, one key, or away from some projects (resource affinity). */
class ProjectConstraintTest {

  private static final RequestContext FLASH = RequestContext.forModel("gemini-2.5-flash");

  private final FakeClock clock = FakeClock.standard();

  /** Six keys in three projects, two per project: a1, a2 in pa; b1, b2 in pb; c1, c2 in pc. */
  private GeminiKeyRotator rotator(Strategy strategy) {
    List<ApiKey> keys = new ArrayList<>();
    for (String p : List.of("a", "b", "c")) {
      for (int i = 1; i <= 2; i++) {
        keys.add(ApiKey.builder("secret-" + p + i + "-0123456789").id(p + i).project("p" + p)
            .build());
      }
    }
    return GeminiKeyRotator.builder().keys(keys).clock(clock).strategy(strategy)
        .cooldowns(CooldownPolicy.builder().jitter(0).build()).build();
  }

  private static Map<String, Integer> served(GeminiKeyRotator rotator, RequestContext ctx,
      int picks) {
    Map<String, Integer> counts = new HashMap<>();
    for (int i = 0; i < picks; i++) {
      KeyLease lease = rotator.acquire(ctx);
      counts.merge(lease.key().id(), 1, Integer::sum);
      lease.complete(Outcome.success());
    }
    return counts;
  }

  @ParameterizedTest
  @EnumSource(Strategy.class)
  void aRequestInOneProjectGetsOnlyThatProjectsKeysAndBothOfThem(Strategy strategy) {
    GeminiKeyRotator rotator = rotator(strategy);

    Map<String, Integer> counts = served(rotator, FLASH.inProject("pb"), 200);

    assertThat(counts).containsOnlyKeys("b1", "b2");
    assertThat(counts.get("b1")).isBetween(60, 140);
  }

  @ParameterizedTest
  @EnumSource(Strategy.class)
  void aRequestForOneKeyGetsThatKeyOrNone(Strategy strategy) {
    GeminiKeyRotator rotator = rotator(strategy);

    assertThat(served(rotator, FLASH.onlyKey("c2"), 20)).containsOnlyKeys("c2");
    assertThatThrownBy(() -> rotator.acquire(FLASH.onlyKey("c2").excluding("c2")))
        .isInstanceOf(NoKeyAvailableException.class);
    assertThatThrownBy(() -> rotator.acquire(FLASH.onlyKey("gone")))
        .isInstanceOf(NoKeyAvailableException.class);
  }

  @ParameterizedTest
  @EnumSource(Strategy.class)
  void skippedProjectsAreNeverServedAndTheRestAre(Strategy strategy) {
    GeminiKeyRotator rotator = rotator(strategy);

    Map<String, Integer> counts = served(rotator, FLASH.skippingProject("pa").skippingProject("pc"),
        100);

    assertThat(counts).containsOnlyKeys("b1", "b2");
    assertThatThrownBy(() -> rotator.acquire(FLASH.skippingProject("pa").skippingProject("pb")
        .skippingProject("pc"))).isInstanceOf(NoKeyAvailableException.class);
  }

  @ParameterizedTest
  @EnumSource(Strategy.class)
  void aCoolingProjectAnswersWithItsOwnEarliestTimeNotThePools(Strategy strategy) {
    GeminiKeyRotator rotator = rotator(strategy);
    KeyLease lease = rotator.acquire(FLASH.inProject("pb"));
    lease.complete(Outcome.rateLimited(Duration.ofSeconds(40), QuotaScope.PER_MINUTE));

    // The project's cooldown is shared by both its keys; the other projects are free now.
    assertThatThrownBy(() -> rotator.acquire(FLASH.inProject("pb")))
        .isInstanceOfSatisfying(NoKeyAvailableException.class, e -> assertThat(
            e.earliestAvailable()).contains(clock.instant().plusSeconds(40)));
    assertThat(served(rotator, FLASH, 50)).doesNotContainKeys("b1", "b2");
  }

  @ParameterizedTest
  @EnumSource(Strategy.class)
  void aProjectWithNoKeyInThePoolGetsNoKey(Strategy strategy) {
    GeminiKeyRotator rotator = rotator(strategy);

    assertThatThrownBy(() -> rotator.acquire(FLASH.inProject("elsewhere")))
        .isInstanceOfSatisfying(NoKeyAvailableException.class,
            e -> assertThat(e.earliestAvailable()).isEmpty());
  }
}
