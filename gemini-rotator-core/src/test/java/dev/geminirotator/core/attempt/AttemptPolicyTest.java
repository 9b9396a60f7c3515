package dev.geminirotator.core.attempt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatIllegalArgumentException;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import java.time.Duration;
import java.util.stream.Stream;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

@SuppressWarnings("deprecation") // decide(...) keeps its old meaning for callers with a loop of their own
class AttemptPolicyTest {

  private static final Outcome SUCCESS = Outcome.success();
  private static final Outcome CLIENT_ERROR = Outcome.clientError(400);
  private static final Outcome CANCELLED = Outcome.cancelled();
  private static final Outcome RATE_LIMITED =
      Outcome.rateLimited(Duration.ofSeconds(37), QuotaScope.PER_MINUTE);
  private static final Outcome PER_DAY = Outcome.rateLimited(null, QuotaScope.PER_DAY);
  private static final Outcome KEY_REJECTED = Outcome.keyRejected(400, "API_KEY_INVALID");
  private static final Outcome UPSTREAM_ERROR = Outcome.upstreamError(503, "UNAVAILABLE");
  private static final Outcome TRANSPORT_ERROR =
      Outcome.transportError("timeout (SocketTimeoutException)");

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
  class Decisions {

    static Stream<Arguments> finalOutcomes() {
      return Stream.of(Arguments.of(SUCCESS), Arguments.of(CLIENT_ERROR), Arguments.of(CANCELLED));
    }

    @ParameterizedTest
    @MethodSource("finalOutcomes")
    void successClientErrorAndCancellationAreReturnedAtOnce(Outcome outcome) {
      for (int attempt = 1; attempt <= 5; attempt++) {
        assertThat(policy.decide(attempt, outcome, true)).isSameAs(Decision.returnResult());
        assertThat(policy.decide(attempt, outcome, false)).isSameAs(Decision.returnResult());
      }
    }

    static Stream<Arguments> keyOutcomes() {
      return Stream.of(Arguments.of(RATE_LIMITED), Arguments.of(PER_DAY),
          Arguments.of(KEY_REJECTED));
    }

    @ParameterizedTest
    @MethodSource("keyOutcomes")
    void rateLimitAndRejectionAreRetriedAtOnceOnAnotherKey(Outcome outcome) {
      assertThat(policy.decide(1, outcome, true)).isSameAs(Decision.retryNow());
      assertThat(policy.decide(2, outcome, true)).isSameAs(Decision.retryNow());
      assertThat(policy.decide(3, outcome, true)).isSameAs(Decision.retryNow());
    }

    @ParameterizedTest
    @MethodSource("keyOutcomes")
    void rateLimitAndRejectionAreReturnedOnTheLastAttempt(Outcome outcome) {
      assertThat(policy.decide(4, outcome, true)).isSameAs(Decision.returnResult());
      assertThat(policy.decide(5, outcome, true)).isSameAs(Decision.returnResult());
    }

    @ParameterizedTest
    @MethodSource("keyOutcomes")
    void rateLimitAndRejectionOfAOneShotBodyAreReturned(Outcome outcome) {
      assertThat(policy.decide(1, outcome, false)).isSameAs(Decision.returnResult());
    }

    static Stream<Arguments> upstreamOutcomes() {
      return Stream.of(Arguments.of(UPSTREAM_ERROR), Arguments.of(TRANSPORT_ERROR));
    }

    @ParameterizedTest
    @MethodSource("upstreamOutcomes")
    void upstreamAndTransportErrorsAreRetriedAfterBackoff(Outcome outcome) {
      for (int attempt = 1; attempt <= 3; attempt++) {
        Decision decision = policy.decide(attempt, outcome, true);
        Duration full = Duration.ofMillis(200L << (attempt - 1));
        assertThat(decision.kind()).isEqualTo(Decision.Kind.RETRY_AFTER);
        assertThat(decision.retries()).isTrue();
        assertThat(decision.delay()).isBetween(full.multipliedBy(8).dividedBy(10), full);
      }
    }

    @ParameterizedTest
    @MethodSource("upstreamOutcomes")
    void upstreamAndTransportErrorsAreReturnedOnTheLastAttempt(Outcome outcome) {
      assertThat(policy.decide(4, outcome, true)).isSameAs(Decision.returnResult());
    }

    @ParameterizedTest
    @MethodSource("upstreamOutcomes")
    void upstreamAndTransportErrorsOfAOneShotBodyAreReturned(Outcome outcome) {
      assertThat(policy.decide(1, outcome, false)).isSameAs(Decision.returnResult());
    }

    @ParameterizedTest
    @MethodSource("upstreamOutcomes")
    void upstreamErrorsAreReturnedWhenTheirRetryIsOff(Outcome outcome) {
      AttemptPolicy noUpstreamRetry = AttemptPolicy.builder().retryUpstreamErrors(false).build();
      assertThat(noUpstreamRetry.decide(1, outcome, true)).isSameAs(Decision.returnResult());
      assertThat(noUpstreamRetry.decide(1, RATE_LIMITED, true)).isSameAs(Decision.retryNow());
      assertThat(noUpstreamRetry.decide(1, KEY_REJECTED, true)).isSameAs(Decision.retryNow());
    }

    @Test
    void oneAttemptNeverRetries() {
      AttemptPolicy once = AttemptPolicy.builder().maxAttempts(1).build();
      for (Outcome outcome : new Outcome[] {SUCCESS, CLIENT_ERROR, CANCELLED, RATE_LIMITED,
          KEY_REJECTED, UPSTREAM_ERROR, TRANSPORT_ERROR}) {
        assertThat(once.decide(1, outcome, true)).as("%s", outcome)
            .isSameAs(Decision.returnResult());
      }
    }

    @Test
    void theLimitCountsTheFirstAttempt() {
      AttemptPolicy twice = AttemptPolicy.builder().maxAttempts(2).build();
      assertThat(twice.decide(1, RATE_LIMITED, true)).isSameAs(Decision.retryNow());
      assertThat(twice.decide(2, RATE_LIMITED, true)).isSameAs(Decision.returnResult());
      assertThat(twice.decide(1, UPSTREAM_ERROR, true).kind())
          .isEqualTo(Decision.Kind.RETRY_AFTER);
      assertThat(twice.decide(2, UPSTREAM_ERROR, true)).isSameAs(Decision.returnResult());
    }

    @Test
    void twentyAttemptsRetryUntilTheTwentieth() {
      AttemptPolicy many = AttemptPolicy.builder().maxAttempts(20).build();
      assertThat(many.decide(19, KEY_REJECTED, true)).isSameAs(Decision.retryNow());
      assertThat(many.decide(20, KEY_REJECTED, true)).isSameAs(Decision.returnResult());
      assertThat(many.decide(19, TRANSPORT_ERROR, true).delay())
          .isBetween(Duration.ofMillis(1600), Duration.ofSeconds(2));
    }

    @Test
    void noKeyAvailableEndsTheRequest() {
      assertThat(policy.onNoKeyAvailable(0)).isSameAs(Decision.returnResult());
      assertThat(policy.onNoKeyAvailable(1)).isSameAs(Decision.returnResult());
      assertThat(policy.onNoKeyAvailable(3)).isSameAs(Decision.returnResult());
    }

    @Test
    void attemptsAreCountedFromOne() {
      assertThatIllegalArgumentException().isThrownBy(() -> policy.decide(0, SUCCESS, true))
          .withMessage("attempt must be >= 1 but was 0");
      assertThatIllegalArgumentException().isThrownBy(() -> policy.onNoKeyAvailable(-1))
          .withMessage("attempts-made must be >= 0 but was -1");
      assertThatNullPointerException().isThrownBy(() -> policy.decide(1, null, true))
          .withMessage("outcome");
    }
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
      assertThat(exact.decide(2, UPSTREAM_ERROR, true))
          .isEqualTo(Decision.retryAfter(Duration.ofMillis(400)));
    }

    @Test
    void configuredBaseAndMaxAreUsed() {
      AttemptPolicy custom = AttemptPolicy.builder().backoffBase(Duration.ofMillis(50))
          .backoffMax(Duration.ofMillis(120)).jitter(0.0).maxAttempts(10).build();
      assertThat(custom.decide(1, TRANSPORT_ERROR, true).delay()).isEqualTo(Duration.ofMillis(50));
      assertThat(custom.decide(2, TRANSPORT_ERROR, true).delay()).isEqualTo(Duration.ofMillis(100));
      assertThat(custom.decide(3, TRANSPORT_ERROR, true).delay()).isEqualTo(Duration.ofMillis(120));
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
