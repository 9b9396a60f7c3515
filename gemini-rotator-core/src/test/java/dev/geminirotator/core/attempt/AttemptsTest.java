package dev.geminirotator.core.attempt;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

class AttemptsTest {

  private static final String MODEL = "gemini-2.5-flash";
  private static final Outcome SUCCESS = Outcome.success();
  private static final Outcome RATE_LIMITED =
      Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE);
  private static final Outcome KEY_REJECTED = Outcome.keyRejected(400, "API_KEY_INVALID");
  private static final Outcome UNAVAILABLE = Outcome.upstreamError(503, "UNAVAILABLE");
  private static final Outcome REFUSED =
      Outcome.transportError("connect refused (ConnectException)");

  private static ApiKey key(String id, String project) {
    return ApiKey.builder("AIzaSyTEST-" + id + "-000000000000000000").id(id).project(project)
        .build();
  }

  private static final ApiKey A1 = key("a1", "project-a");
  private static final ApiKey A2 = key("a2", "project-a");
  private static final ApiKey B1 = key("b1", "project-b");

  /**
   * A guard that grants every permission and remembers what each was answered with: the breaker
   * rule is about what reaches the guard, so the test reads exactly that.
   */
  private static final class RecordingGuard implements CircuitGuard {
    int permissions;
    final List<Outcome.Kind> reports = new ArrayList<>();

    @Override
    public void acquirePermission(String model) {
      permissions++;
    }

    @Override
    public void onOutcome(String model, Outcome outcome, Duration elapsed) {
      reports.add(outcome.kind());
    }

    @Override
    public State state(String model) {
      return State.CLOSED;
    }

    /** What the breaker counts: successes and upstream or transport errors. */
    List<Outcome.Kind> recorded() {
      return reports.stream().filter(k -> k == Outcome.Kind.SUCCESS
          || k == Outcome.Kind.UPSTREAM_ERROR || k == Outcome.Kind.TRANSPORT_ERROR).toList();
    }
  }

  private final RecordingGuard guard = new RecordingGuard();

  /** One attempt: permission, then its outcome. */
  private static Decision attempt(Attempts attempts, ApiKey key, Outcome outcome) {
    attempts.acquirePermission();
    return attempts.completed(key, outcome, Duration.ofMillis(5));
  }

  @Nested
  class Budget {

    @Test
    void keysOwnFailuresMoveOnAtOnceAndDoNotSpendMaxAttempts() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      for (int i = 0; i < 10; i++) {
        assertThat(attempt(attempts, A1, i % 2 == 0 ? RATE_LIMITED : KEY_REJECTED))
            .isEqualTo(Decision.retryNow());
      }
      // The whole upstream budget (4) is still there.
      for (int i = 0; i < 3; i++) {
        assertThat(attempt(attempts, A1, UNAVAILABLE).kind())
            .isEqualTo(Decision.Kind.RETRY_AFTER);
      }
      assertThat(attempt(attempts, A1, UNAVAILABLE)).isEqualTo(Decision.returnResult());
      assertThat(attempts.made()).isEqualTo(14);
      assertThat(attempts.upstreamFailures()).isEqualTo(4);
    }

    @Test
    void aRequestNeverMakesMoreThanTheHardLimitOfAttempts() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      for (int i = 1; i < AttemptPolicy.MAX_ATTEMPTS_PER_REQUEST; i++) {
        assertThat(attempt(attempts, A1, KEY_REJECTED)).isEqualTo(Decision.retryNow());
      }
      assertThat(attempt(attempts, A1, KEY_REJECTED)).isEqualTo(Decision.returnResult());
      assertThat(attempts.made()).isEqualTo(AttemptPolicy.MAX_ATTEMPTS_PER_REQUEST);
    }

    @Test
    void aBodyThatCannotBeReplayedGetsExactlyOneAttempt() {
      for (Outcome outcome : List.of(RATE_LIMITED, KEY_REJECTED, UNAVAILABLE, REFUSED)) {
        Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, false);
        assertThat(attempt(attempts, A1, outcome)).isEqualTo(Decision.returnResult());
      }
    }

    @Test
    void aClientErrorGoesToTheClientAtOnceEvenAfterKeysOwnFailures() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      attempt(attempts, A1, RATE_LIMITED);
      assertThat(attempt(attempts, B1, Outcome.clientError(400)))
          .isEqualTo(Decision.returnResult());
      assertThat(attempts.answerFromPool()).isFalse();
    }

    @Test
    void oneMaxAttemptStillMovesPastARateLimitedKey() {
      AttemptPolicy one = AttemptPolicy.builder().maxAttempts(1).build();
      Attempts attempts = one.newAttempts(guard, MODEL, true);
      assertThat(attempt(attempts, A1, RATE_LIMITED)).isEqualTo(Decision.retryNow());
      assertThat(attempt(attempts, B1, UNAVAILABLE)).isEqualTo(Decision.returnResult());
    }

    @Test
    void upstreamRetriesAreOffWhenConfiguredSo() {
      AttemptPolicy off = AttemptPolicy.builder().retryUpstreamErrors(false).build();
      Attempts attempts = off.newAttempts(guard, MODEL, true);
      assertThat(attempt(attempts, A1, KEY_REJECTED)).isEqualTo(Decision.retryNow());
      assertThat(attempt(attempts, B1, REFUSED)).isEqualTo(Decision.returnResult());
    }

    @Test
    void backoffGrowsWithUpstreamErrorsNotWithKeysOwnFailures() {
      AttemptPolicy exact = AttemptPolicy.builder().jitter(0).build();
      Attempts attempts = exact.newAttempts(guard, MODEL, true);
      attempt(attempts, A1, RATE_LIMITED);
      attempt(attempts, A2, KEY_REJECTED);
      assertThat(attempt(attempts, B1, UNAVAILABLE).delay()).isEqualTo(Duration.ofMillis(200));
      assertThat(attempt(attempts, key("c", "c"), REFUSED).delay())
          .isEqualTo(Duration.ofMillis(400));
    }

    @Test
    void thePoolAnswersOnlyAfterAKeysOwnFailure() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      assertThat(attempts.answerFromPool()).isFalse();
      attempt(attempts, A1, KEY_REJECTED);
      assertThat(attempts.answerFromPool()).isTrue();
      attempt(attempts, B1, UNAVAILABLE);
      assertThat(attempts.answerFromPool()).isFalse();
      attempt(attempts, A2, RATE_LIMITED);
      assertThat(attempts.answerFromPool()).isTrue();
    }
  }

  @Nested
  class BreakerRule {

    @Test
    void aFailedAttemptAnotherKeyRecoveredIsHandedBackAndTheRequestIsOneSuccess() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      attempt(attempts, A1, UNAVAILABLE);
      attempt(attempts, B1, REFUSED);
      attempt(attempts, key("c", "c"), SUCCESS);
      attempts.finish(false);

      assertThat(guard.recorded()).containsExactly(Outcome.Kind.SUCCESS);
      assertThat(guard.reports).hasSize(guard.permissions);
    }

    @Test
    void aRequestWhoseEveryAttemptFailedUpstreamIsOneFailure() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      attempt(attempts, A1, UNAVAILABLE);
      attempt(attempts, A2, UNAVAILABLE);
      attempts.finish(false);

      assertThat(guard.recorded()).containsExactly(Outcome.Kind.UPSTREAM_ERROR);
      assertThat(guard.reports).hasSize(guard.permissions);
    }

    @Test
    void anUpstreamErrorOfOneProjectIsNotRecordedWhenGeminiAnsweredAnotherAttempt() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      attempt(attempts, A1, UNAVAILABLE);
      attempt(attempts, B1, RATE_LIMITED);
      attempts.acquirePermission();
      attempts.handBack(); // no key left
      attempts.finish(false);

      assertThat(guard.recorded()).isEmpty();
      assertThat(guard.reports).hasSize(guard.permissions);
    }

    @Test
    void upstreamErrorsFromTwoProjectsAreOneFailureEvenIfGeminiAnsweredAnotherAttempt() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      attempt(attempts, A1, UNAVAILABLE);
      attempt(attempts, key("c", "project-c"), RATE_LIMITED);
      attempt(attempts, B1, REFUSED);
      attempts.finish(false);

      assertThat(guard.recorded()).containsExactly(Outcome.Kind.TRANSPORT_ERROR);
      assertThat(guard.reports).hasSize(guard.permissions);
    }

    @Test
    void aRequestTheCallerLeftIsNotRecorded() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      attempt(attempts, A1, UNAVAILABLE);
      attempts.finish(true);

      assertThat(guard.recorded()).isEmpty();
      assertThat(guard.reports).hasSize(guard.permissions);
    }

    @Test
    void keysOwnFailuresAndClientErrorsAreNeverRecorded() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      attempt(attempts, A1, RATE_LIMITED);
      attempt(attempts, A2, KEY_REJECTED);
      attempt(attempts, B1, Outcome.clientError(404));
      attempts.finish(false);

      assertThat(guard.recorded()).isEmpty();
      assertThat(guard.reports).hasSize(guard.permissions);
    }

    @Test
    void aStreamedSuccessCountsOnceWhenItsHeadersArriveAndFailuresBeforeItAreHandedBack() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      attempt(attempts, A1, UNAVAILABLE);
      attempts.acquirePermission();
      attempts.served(Duration.ofMillis(40)); // 2xx headers; the body streams on
      assertThat(guard.recorded()).containsExactly(Outcome.Kind.SUCCESS);
      attempts.finish(false);
      attempts.record(B1, SUCCESS, Duration.ofSeconds(3)); // the body ended

      assertThat(guard.recorded()).containsExactly(Outcome.Kind.SUCCESS);
      assertThat(guard.reports).hasSize(guard.permissions);
    }

    @Test
    void aStreamCutAfterItsHeadersIsNeverABreakerFailure() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      attempts.acquirePermission();
      attempts.served(Duration.ofMillis(40));
      attempts.record(A1, REFUSED, Duration.ofSeconds(30)); // the body broke off mid-stream
      attempts.finish(false);

      assertThat(guard.recorded()).containsExactly(Outcome.Kind.SUCCESS);
      assertThat(guard.reports).hasSize(guard.permissions);
    }

    @Test
    void finishingTwiceReportsNothingMore() {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(guard, MODEL, true);
      attempt(attempts, A1, UNAVAILABLE);
      attempts.finish(false);
      attempts.finish(false);
      assertThat(guard.reports).hasSize(1);
    }
  }

  @Nested
  class WithTheRealBreaker {

    private final FakeClock clock = FakeClock.standard();
    private final ResilientCircuitGuard breaker = ResilientCircuitGuard.builder()
        .policy(BreakerPolicy.defaults()).clock(clock).build();
    private final List<ApiKey> keys = List.of(key("k1", "p1"), key("k2", "p2"), key("k3", "p3"));

    /** One request, round-robin from {@code first}; key k1 always answers {@code k1Says}. */
    private Outcome.Kind request(int first, Outcome k1Says, Outcome othersSay) {
      Attempts attempts = AttemptPolicy.defaults().newAttempts(breaker, MODEL, true);
      Outcome.Kind answer = null;
      for (int i = 0; i < keys.size(); i++) {
        ApiKey key = keys.get((first + i) % keys.size());
        attempts.acquirePermission();
        Outcome outcome = key.id().equals("k1") ? k1Says : othersSay;
        answer = outcome.kind();
        if (!attempts.completed(key, outcome, Duration.ofMillis(3)).retries()) break;
      }
      attempts.finish(false);
      return answer;
    }

    @Test
    void oneKeyAlwaysAnswering503NeverOpensTheBreakerWhileOtherKeysServe() {
      int minimum = BreakerPolicy.DEFAULT_MINIMUM_CALLS;
      for (int r = 0; r < minimum * 10; r++) {
        assertThat(request(r, UNAVAILABLE, SUCCESS)).isEqualTo(Outcome.Kind.SUCCESS);
      }
      assertThat(breaker.state(MODEL)).isEqualTo(CircuitGuard.State.CLOSED);
    }

    @Test
    void theWholeUpstreamAnswering503OpensTheBreaker() {
      for (int r = 0; r < BreakerPolicy.DEFAULT_MINIMUM_CALLS; r++) {
        request(r, UNAVAILABLE, UNAVAILABLE);
      }
      assertThat(breaker.state(MODEL)).isEqualTo(CircuitGuard.State.OPEN);
    }

    @Test
    void theBreakerHalfOpensAndClosesAgainWithRequestsThatHandEveryPermissionBack() {
      for (int r = 0; r < BreakerPolicy.DEFAULT_MINIMUM_CALLS; r++) {
        request(r, UNAVAILABLE, UNAVAILABLE);
      }
      clock.advance(BreakerPolicy.DEFAULT_WAIT_IN_OPEN.plusSeconds(1));
      // Trials that fail on one key and succeed on the next: each request's extra permission goes
      // back, so the three trial permissions are enough to close it.
      for (int r = 0; r < BreakerPolicy.DEFAULT_PERMITTED_CALLS_IN_HALF_OPEN; r++) {
        assertThat(request(0, UNAVAILABLE, SUCCESS)).isEqualTo(Outcome.Kind.SUCCESS);
      }
      assertThat(breaker.state(MODEL)).isEqualTo(CircuitGuard.State.CLOSED);
    }
  }

  /**
   * Review finding (issue 15): a request that took its permission while the breaker was closed
   * and ended after it opened and half-opened was counted as half-open trial evidence.
   */
  @Nested
  class StalePermissions {

    private final FakeClock clock = FakeClock.standard();
    /**
     * Two failed requests open it; two trial calls, both needed to decide (resilience4j's
     * half-open window needs min(minimum-calls, trials) answers).
     */
    private final BreakerPolicy policy = BreakerPolicy.builder().minimumCalls(2)
        .slidingWindowSize(10).failureRateThreshold(50).permittedCallsInHalfOpen(2).build();
    private final ResilientCircuitGuard breaker = ResilientCircuitGuard.builder().policy(policy)
        .clock(clock).build();

    private Attempts newRequest() {
      return AttemptPolicy.defaults().newAttempts(breaker, MODEL, true);
    }

    /** Two requests the upstream failed. */
    private void open() {
      for (int i = 0; i < 2; i++) {
        Attempts opener = newRequest();
        opener.acquirePermission();
        opener.completed(A1, UNAVAILABLE, Duration.ofSeconds(1));
        opener.finish(false);
      }
    }

    @ParameterizedTest
    @EnumSource(value = Outcome.Kind.class,
        names = {"UPSTREAM_ERROR", "SUCCESS", "CLIENT_ERROR"})
    void aRequestThatTookItsPermissionWhileClosedAndEndsWhileHalfOpenIsNoTrialEvidence(
        Outcome.Kind staleEnd) {
      Attempts stale = newRequest();
      stale.acquirePermission(); // closed
      assertThat(stale.completed(A1, UNAVAILABLE, Duration.ofSeconds(30)).kind())
          .isEqualTo(Decision.Kind.RETRY_AFTER); // in its backoff now

      open();
      assertThat(breaker.state(MODEL)).isEqualTo(CircuitGuard.State.OPEN);
      clock.advance(policy.waitInOpen().plusSeconds(1));
      Attempts trial = newRequest();
      trial.acquirePermission(); // half-opens: one of the two trial permissions
      assertThat(breaker.state(MODEL)).isEqualTo(CircuitGuard.State.HALF_OPEN);

      // The stale request's late retry and end.
      stale.acquirePermission();
      switch (staleEnd) {
        case UPSTREAM_ERROR -> stale.completed(B1, UNAVAILABLE, Duration.ofSeconds(30));
        case SUCCESS -> stale.completed(B1, SUCCESS, Duration.ofSeconds(1));
        default -> stale.completed(B1, Outcome.clientError(400), Duration.ofSeconds(1));
      }
      stale.finish(false);
      assertThat(breaker.state(MODEL)).isEqualTo(CircuitGuard.State.HALF_OPEN);

      // The trial permissions are as many as before: one left, then none.
      Attempts trial2 = newRequest();
      trial2.acquirePermission();
      assertThatThrownBy(newRequest()::acquirePermission)
          .as("a third trial while two are out")
          .isInstanceOf(CircuitOpenException.class);

      // One trial's answer decides nothing yet: the stale outcome was not one of the two.
      trial.completed(A2, SUCCESS, Duration.ofSeconds(1));
      assertThat(breaker.state(MODEL)).isEqualTo(CircuitGuard.State.HALF_OPEN);
      trial2.completed(A2, SUCCESS, Duration.ofSeconds(1));
      assertThat(breaker.state(MODEL)).isEqualTo(CircuitGuard.State.CLOSED);
    }

    @Test
    void aTrialsOwnOutcomeStillDecidesWhenTheBreakerDidNotChangeMeanwhile() {
      open();
      clock.advance(policy.waitInOpen().plusSeconds(1));
      Attempts first = newRequest();
      first.acquirePermission(); // the permission that half-opened it
      Attempts second = newRequest();
      second.acquirePermission();

      first.completed(A1, UNAVAILABLE, Duration.ofSeconds(1));
      first.completed(B1, UNAVAILABLE, Duration.ofSeconds(1)); // two projects: the upstream
      first.finish(false);
      second.completed(A2, UNAVAILABLE, Duration.ofSeconds(1));
      second.finish(false);

      assertThat(breaker.state(MODEL)).as("both trials failed").isEqualTo(CircuitGuard.State.OPEN);
    }
  }
}
