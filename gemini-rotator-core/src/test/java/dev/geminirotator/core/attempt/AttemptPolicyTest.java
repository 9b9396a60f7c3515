package dev.geminirotator.core.attempt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import java.time.Duration;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AttemptPolicyTest {

  private final AttemptPolicy policy = AttemptPolicy.defaults();

  @Test
  void defaultsAreTheDocumentedConstants() {
    assertThat(policy.maxAttempts()).isEqualTo(4);
    assertThat(policy.backoffBase()).isEqualTo(Duration.ofMillis(200));
    assertThat(policy.backoffMax()).isEqualTo(Duration.ofSeconds(2));
    assertThat(policy.jitter()).isEqualTo(0.2);
    assertThat(policy.retryUpstreamErrors()).isTrue();
    assertThat(policy.toString()).isEqualTo("AttemptPolicy{maxAttempts=4, backoffBase=200ms, "
        + "backoffMax=2s, jitter=0.2, retryUpstreamErrors=true}");
  }

  @Nested
  class BackoffDelays {

    @Test
    void backoffDoublesFromTheBase() {
      assertThat(policy.backoff(1, 0.0)).isEqualTo(Duration.ofMillis(200));
      assertThat(policy.backoff(2, 0.0)).isEqualTo(Duration.ofMillis(400));
      assertThat(policy.backoff(3, 0.0)).isEqualTo(Duration.ofMillis(800));
      assertThat(policy.backoff(4, 0.0)).isEqualTo(Duration.ofMillis(1600));
    }

    @Test
    void backoffStopsAtTheMaximum() {
      assertThat(policy.backoff(5, 0.0)).isEqualTo(Duration.ofSeconds(2));
      assertThat(policy.backoff(20, 0.0)).isEqualTo(Duration.ofSeconds(2));
      assertThat(policy.backoff(Integer.MAX_VALUE, 0.0)).isEqualTo(Duration.ofSeconds(2));
    }

    @Test
    void jitterTakesAtMostItsShareOffTheBackoff() {
      assertThat(policy.backoff(1, 0.5)).isEqualTo(Duration.ofMillis(180));
      assertThat(policy.backoff(5, 0.5)).isEqualTo(Duration.ofMillis(1800));
      assertThat(policy.backoff(1, Math.nextDown(1.0)))
          .isGreaterThan(Duration.ofMillis(160)).isLessThan(Duration.ofMillis(161));
    }

    @Test
    void noJitterMeansExactBackoff() {
      AttemptPolicy exact = AttemptPolicy.builder().jitter(0.0).build();
      assertThat(exact.backoff(2, 0.7)).isEqualTo(Duration.ofMillis(400));
    }

    @Test
    void configuredBaseAndMaxAreUsed() {
      AttemptPolicy custom = AttemptPolicy.builder().backoffBase(Duration.ofMillis(50))
          .backoffMax(Duration.ofMillis(120)).jitter(0.0).maxAttempts(10).build();
      assertThat(custom.backoff(1, 0.5)).isEqualTo(Duration.ofMillis(50));
      assertThat(custom.backoff(2, 0.5)).isEqualTo(Duration.ofMillis(100));
      assertThat(custom.backoff(3, 0.5)).isEqualTo(Duration.ofMillis(120));
    }
  }

  @Nested
  class Validation {

    @ParameterizedTest
    @ValueSource(ints = {0, -1, 21})
    void maxAttemptsOutOfRangeIsRefused(int value) {
      assertThatIllegalArgumentException()
          .isThrownBy(() -> AttemptPolicy.builder().maxAttempts(value))
          .withMessage("max-attempts must be >= 1 and <= 20 but was " + value);
    }

    @Test
    void nonPositiveBackoffIsRefused() {
      assertThatIllegalArgumentException()
          .isThrownBy(() -> AttemptPolicy.builder().backoffBase(Duration.ZERO))
          .withMessage("backoff-base must be > 0 but was 0s");
      assertThatIllegalArgumentException()
          .isThrownBy(() -> AttemptPolicy.builder().backoffMax(Duration.ofSeconds(-1)))
          .withMessage("backoff-max must be > 0 but was -1s");
      assertThatNullPointerException()
          .isThrownBy(() -> AttemptPolicy.builder().backoffBase(null))
          .withMessage("backoff-base");
    }

    @ParameterizedTest
    @ValueSource(doubles = {-0.1, 1.5, Double.NaN})
    void jitterOutOfRangeIsRefused(double value) {
      assertThatIllegalArgumentException()
          .isThrownBy(() -> AttemptPolicy.builder().jitter(value))
          .withMessage("jitter must be >= 0.0 and <= 1.0 but was " + value);
    }

    @Test
    void baseAboveMaxIsRefusedAtBuild() {
      assertThatIllegalArgumentException()
          .isThrownBy(() -> AttemptPolicy.builder().backoffBase(Duration.ofSeconds(3)).build())
          .withMessage("backoff-base (3s) must not be greater than backoff-max (2s)");
    }

    @Test
    void builtPolicyRoundTripsThroughItsBuilder() {
      AttemptPolicy custom = AttemptPolicy.builder().maxAttempts(7)
          .backoffBase(Duration.ofMillis(10)).backoffMax(Duration.ofMillis(90)).jitter(0.5)
          .retryUpstreamErrors(false).build();
      assertThat(custom.toBuilder().build().toString()).isEqualTo(custom.toString())
          .isEqualTo("AttemptPolicy{maxAttempts=7, backoffBase=10ms, backoffMax=90ms, "
              + "jitter=0.5, retryUpstreamErrors=false}");
    }
  }

  @Nested
  class DecisionValues {

    @Test
    void returnAndRetryNowAreSharedAndWaitForNothing() {
      assertThat(Decision.returnResult()).isSameAs(Decision.returnResult());
      assertThat(Decision.returnResult().kind()).isEqualTo(Decision.Kind.RETURN);
      assertThat(Decision.returnResult().delay()).isEqualTo(Duration.ZERO);
      assertThat(Decision.returnResult().retries()).isFalse();
      assertThat(Decision.retryNow().kind()).isEqualTo(Decision.Kind.RETRY_NOW);
      assertThat(Decision.retryNow().delay()).isEqualTo(Duration.ZERO);
      assertThat(Decision.retryNow().retries()).isTrue();
    }

    @Test
    void retryAfterCarriesItsDelay() {
      Decision decision = Decision.retryAfter(Duration.ofMillis(250));
      assertThat(decision.kind()).isEqualTo(Decision.Kind.RETRY_AFTER);
      assertThat(decision.delay()).isEqualTo(Duration.ofMillis(250));
      assertThat(decision).isEqualTo(Decision.retryAfter(Duration.ofMillis(250)))
          .hasSameHashCodeAs(Decision.retryAfter(Duration.ofMillis(250)))
          .isNotEqualTo(Decision.retryAfter(Duration.ofMillis(251)));
      assertThat(decision).hasToString("RETRY_AFTER(250ms)");
      assertThat(Decision.retryNow()).hasToString("RETRY_NOW");
    }

    @Test
    void retryAfterNothingIsRetryNow() {
      assertThat(Decision.retryAfter(Duration.ZERO)).isSameAs(Decision.retryNow());
    }

    @Test
    void retryAfterANegativeDelayIsRefused() {
      assertThatIllegalArgumentException()
          .isThrownBy(() -> Decision.retryAfter(Duration.ofMillis(-1)))
          .withMessage("delay must be >= 0 but was -1ms");
    }
  }
}
