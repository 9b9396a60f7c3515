package dev.geminirotator.core.health;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.core.internal.Backoff;
import dev.geminirotator.core.rotation.CooldownPolicy;
import dev.geminirotator.core.rotation.StormPolicy;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class PolicyValidationTest {

  @Test
  void healthPolicyNamesTheFieldAndTheBadValue() {
    assertThatThrownBy(() -> HealthPolicy.builder().alpha(0))
        .hasMessage("alpha must be > 0.0 and <= 1.0 but was 0.0");
    assertThatThrownBy(() -> HealthPolicy.builder().threshold(1.5))
        .hasMessage("threshold must be >= 0.0 and <= 1.0 but was 1.5");
    assertThatThrownBy(() -> HealthPolicy.builder().cooldownBase(Duration.ZERO))
        .hasMessage("cooldown-base must be > 0 but was 0s");
    assertThatThrownBy(() -> HealthPolicy.builder().threshold(0.8).recoveredScore(0.6).build())
        .hasMessage("recovered-score (0.6) must be >= threshold (0.8), or a recovered key would"
            + " leave at once");
    assertThatThrownBy(() -> HealthPolicy.builder().cooldownBase(Duration.ofMinutes(20)).build())
        .hasMessage("cooldown-base (20m) must not be greater than cooldown-max (10m)");
  }

  @Test
  void cooldownAndStormPoliciesNameTheFieldAndTheBadValue() {
    assertThatThrownBy(() -> CooldownPolicy.builder().minimum(Duration.ofSeconds(-1)))
        .hasMessage("minimum must be >= 0 but was -1s");
    assertThatThrownBy(() -> CooldownPolicy.builder().backoffBase(Duration.ofMinutes(6)).build())
        .hasMessage("backoff-base (6m) must not be greater than backoff-max (5m)");
    assertThatThrownBy(() -> StormPolicy.builder().minKeys(1))
        .hasMessage("min-keys must be >= 2 but was 1");
    assertThatThrownBy(() -> StormPolicy.builder().fraction(0))
        .hasMessage("fraction must be >= 0.01 and <= 1.0 but was 0.0");
  }

  @Test
  void backoffDoublesAndCapsAndJitterOnlyShortens() {
    Duration base = Duration.ofSeconds(1);
    Duration max = Duration.ofSeconds(30);
    assertThat(Backoff.exponential(base, max, 0, 0, 0.5)).isEqualTo(Duration.ofSeconds(1));
    assertThat(Backoff.exponential(base, max, 3, 0, 0.5)).isEqualTo(Duration.ofSeconds(8));
    assertThat(Backoff.exponential(base, max, 10, 0, 0.5)).isEqualTo(max);
    assertThat(Backoff.exponential(base, max, 200, 0, 0.5)).isEqualTo(max);
    assertThat(Backoff.exponential(base, max, 3, 0.5, 0.5)).isEqualTo(Duration.ofSeconds(6));
  }
}
