package dev.geminirotator.core.guard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.geminirotator.api.CircuitGuard.State;
import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ResilientCircuitGuardTest {

  private static final Duration WAIT = Duration.ofSeconds(10);
  private static final Duration JUST_PAST_WAIT = WAIT.plusMillis(1);
  private static final String PRO = "gemini-2.5-pro";
  private static final String FLASH = "gemini-2.5-flash";

  private final FakeClock clock = FakeClock.standard();

  /** Judges from 4 calls in a window of 10; opens at 50% failures; 3 trial calls. */
  private static BreakerPolicy.Builder policy() {
    return BreakerPolicy.builder().minimumCalls(4).slidingWindowSize(10)
        .failureRateThreshold(50.0).waitInOpen(WAIT).permittedCallsInHalfOpen(3);
  }

  private ResilientCircuitGuard guard(BreakerPolicy policy) {
    return ResilientCircuitGuard.builder().policy(policy).clock(clock).build();
  }

  private static void call(ResilientCircuitGuard guard, String model, Outcome outcome) {
    guard.acquirePermission(model);
    guard.onOutcome(model, outcome, Duration.ofMillis(120));
  }

  private static Outcome upstream503() {
    return Outcome.upstreamError(503, "UNAVAILABLE");
  }

  /** Opens the breaker of a model and returns when it opened. */
  private Instant open(ResilientCircuitGuard guard, String model) {
    for (int i = 0; i < 4; i++) call(guard, model, upstream503());
    assertThat(guard.state(model)).isEqualTo(State.OPEN);
    return clock.instant();
  }

  @Test
  void opensOnceUpstreamErrorsReachTheFailureRateThreshold() {
    ResilientCircuitGuard guard = guard(policy().build());

    call(guard, null, Outcome.success());
    call(guard, null, Outcome.success());
    call(guard, null, upstream503());
    assertThat(guard.state(null)).as("3 calls: too few to judge").isEqualTo(State.CLOSED);

    call(guard, null, Outcome.transportError("connection reset"));

    assertThat(guard.state(null)).as("2 of 4 failed = 50%").isEqualTo(State.OPEN);
  }

  @Test
  void staysClosedWhileFailuresStayUnderTheThreshold() {
    ResilientCircuitGuard guard = guard(policy().build());

    for (int i = 0; i < 30; i++) {
      call(guard, null, Outcome.success());
      call(guard, null, Outcome.success());
      call(guard, null, Outcome.upstreamError(500, "INTERNAL"));
    }

    assertThat(guard.state(null)).isEqualTo(State.CLOSED);
  }

  @Test
  void neverOpensOnAFloodOfRateLimitsClientErrorsKeyRejectionsOrCancellations() {
    ResilientCircuitGuard guard = guard(policy().build());

    for (int i = 0; i < 1_000; i++) {
      call(guard, PRO, Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE));
      call(guard, PRO, Outcome.rateLimited(null, QuotaScope.PER_DAY));
      call(guard, PRO, Outcome.clientError(400));
      call(guard, PRO, Outcome.clientError(404));
      call(guard, PRO, Outcome.keyRejected(400, "API_KEY_INVALID"));
      call(guard, PRO, Outcome.keyRejected(403, "PERMISSION_DENIED"));
      call(guard, PRO, Outcome.cancelled());
    }

    assertThat(guard.state(PRO)).isEqualTo(State.CLOSED);
  }

  @Test
  void rateLimitsAreNotRecordedAsSuccessesEither() {
    ResilientCircuitGuard guard = guard(policy().build());
    for (int i = 0; i < 500; i++) {
      call(guard, null, Outcome.rateLimited(null, QuotaScope.UNKNOWN));
    }

    // Had the 429s counted as successes, 2 errors in 504 calls would be far under 50%.
    call(guard, null, Outcome.success());
    call(guard, null, Outcome.success());
    call(guard, null, upstream503());
    call(guard, null, upstream503());

    assertThat(guard.state(null)).isEqualTo(State.OPEN);
  }

  @Test
  void openBreakerFailsFastWithRetryAtOpenTimePlusWaitInOpen() {
    ResilientCircuitGuard guard = guard(policy().build());
    Instant openedAt = open(guard, PRO);

    clock.advance(Duration.ofSeconds(3));
    CircuitOpenException e =
        catchThrowableOfType(CircuitOpenException.class, () -> guard.acquirePermission(PRO));

    assertThat(e.retryAt()).isEqualTo(openedAt.plus(WAIT));
    assertThat(e.scope()).isEqualTo("*");
    assertThat(e.getMessage()).isEqualTo(
        "upstream circuit open for all models: failing fast until 2026-11-26T12:00:10Z");
    assertThat(e.getStackTrace()).isEmpty();
  }

  @Test
  void staysOpenUntilTheClockIsPastRetryAt() {
    ResilientCircuitGuard guard = guard(policy().build());
    Instant openedAt = open(guard, null);

    clock.set(openedAt.plus(WAIT));
    assertThat(catchThrowableOfType(CircuitOpenException.class,
        () -> guard.acquirePermission(null)).retryAt()).isEqualTo(openedAt.plus(WAIT));

    clock.advance(Duration.ofMillis(1));
    assertThatCode(() -> guard.acquirePermission(null)).doesNotThrowAnyException();
    assertThat(guard.state(null)).isEqualTo(State.HALF_OPEN);
  }

  @Test
  void stateStaysOpenAfterTheWaitUntilACallHalfOpensIt() {
    ResilientCircuitGuard guard = guard(policy().build());
    open(guard, null);

    clock.advance(Duration.ofMinutes(5));

    assertThat(guard.state(null)).isEqualTo(State.OPEN);
    guard.acquirePermission(null);
    assertThat(guard.state(null)).isEqualTo(State.HALF_OPEN);
  }

  @Test
  void halfOpenLetsExactlyThePermittedTrialCallsThroughThenClosesWhenTheySucceed() {
    ResilientCircuitGuard guard = guard(policy().build());
    open(guard, null);
    clock.advance(JUST_PAST_WAIT);

    guard.acquirePermission(null);
    guard.acquirePermission(null);
    guard.acquirePermission(null);
    assertThat(guard.state(null)).isEqualTo(State.HALF_OPEN);
    CircuitOpenException refused =
        catchThrowableOfType(CircuitOpenException.class, () -> guard.acquirePermission(null));
    assertThat(refused.retryAt()).as("trials in flight: ask again shortly")
        .isEqualTo(clock.instant().plusSeconds(1));

    guard.onOutcome(null, Outcome.success(), Duration.ofMillis(80));
    guard.onOutcome(null, Outcome.success(), Duration.ofMillis(80));
    assertThat(guard.state(null)).isEqualTo(State.HALF_OPEN);
    guard.onOutcome(null, Outcome.success(), Duration.ofMillis(80));

    assertThat(guard.state(null)).isEqualTo(State.CLOSED);
    assertThatCode(() -> guard.acquirePermission(null)).doesNotThrowAnyException();
  }

  @Test
  void halfOpenReopensWhenTrialCallsFail() {
    ResilientCircuitGuard guard = guard(policy().build());
    open(guard, null);
    clock.advance(JUST_PAST_WAIT);

    call(guard, null, upstream503());
    call(guard, null, Outcome.transportError("timeout"));
    call(guard, null, Outcome.success());
    Instant reopenedAt = clock.instant();

    assertThat(guard.state(null)).as("2 of 3 trials failed").isEqualTo(State.OPEN);
    clock.advance(Duration.ofSeconds(1));
    assertThat(catchThrowableOfType(CircuitOpenException.class,
        () -> guard.acquirePermission(null)).retryAt()).isEqualTo(reopenedAt.plus(WAIT));
  }

  @Test
  void aTrialThatEndsInARateLimitHandsItsSlotToAnotherTrial() {
    ResilientCircuitGuard guard = guard(policy().build());
    open(guard, null);
    clock.advance(JUST_PAST_WAIT);
    guard.acquirePermission(null);
    guard.acquirePermission(null);
    guard.acquirePermission(null);

    guard.onOutcome(null, Outcome.rateLimited(null, QuotaScope.PER_MINUTE), Duration.ZERO);

    assertThatCode(() -> guard.acquirePermission(null)).doesNotThrowAnyException();
    assertThat(catchThrowableOfType(CircuitOpenException.class,
        () -> guard.acquirePermission(null))).isNotNull();
  }

  @Test
  void concurrentCallersGetExactlyThePermittedTrialCalls() throws Exception {
    ResilientCircuitGuard guard = guard(policy().permittedCallsInHalfOpen(5).build());
    open(guard, null);
    clock.advance(JUST_PAST_WAIT);

    int threads = 16;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<Integer>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        results.add(pool.submit(() -> {
          start.await();
          int permitted = 0;
          for (int i = 0; i < 200; i++) {
            try {
              guard.acquirePermission(null);
              permitted++;
            } catch (CircuitOpenException e) {
              // expected for all but the trial calls
            }
          }
          return permitted;
        }));
      }
      start.countDown();
      int total = 0;
      for (Future<Integer> f : results) total += f.get(30, TimeUnit.SECONDS);
      assertThat(total).isEqualTo(5);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void oneBreakerPerModelKeepsModelsApart() {
    ResilientCircuitGuard guard = guard(policy().perModel(true).build());

    Instant openedAt = open(guard, PRO);

    assertThat(guard.state(FLASH)).isEqualTo(State.CLOSED);
    assertThat(guard.state(null)).isEqualTo(State.CLOSED);
    assertThatCode(() -> guard.acquirePermission(FLASH)).doesNotThrowAnyException();
    assertThatCode(() -> guard.acquirePermission(null)).doesNotThrowAnyException();
    CircuitOpenException e =
        catchThrowableOfType(CircuitOpenException.class, () -> guard.acquirePermission(PRO));
    assertThat(e.scope()).isEqualTo(PRO);
    assertThat(e.retryAt()).isEqualTo(openedAt.plus(WAIT));
    assertThat(e.getMessage()).contains("model " + PRO);
    assertThat(guard.scopes()).containsExactly("*", FLASH, PRO);
  }

  @Test
  void oneBreakerForTheUpstreamOpensForEveryModel() {
    ResilientCircuitGuard guard = guard(policy().build());

    open(guard, PRO);

    assertThat(guard.state(FLASH)).isEqualTo(State.OPEN);
    assertThat(guard.scopeOf(FLASH)).isEqualTo("*");
    assertThat(catchThrowableOfType(CircuitOpenException.class,
        () -> guard.acquirePermission(FLASH)).scope()).isEqualTo("*");
    assertThat(guard.scopes()).containsExactly("*");
  }

  @Test
  void modelsBeyondTheCapShareTheUpstreamWideBreaker() {
    ResilientCircuitGuard guard = guard(policy().perModel(true).maxModelBreakers(2).build());
    call(guard, PRO, Outcome.success());
    call(guard, FLASH, Outcome.success());

    for (int i = 0; i < 1_000; i++) {
      call(guard, "made-up-model-" + i, Outcome.success());
    }

    assertThat(guard.scopes()).containsExactly("*", FLASH, PRO);
    assertThat(guard.scopeOf("made-up-model-7")).isEqualTo("*");
    assertThat(guard.scopeOf(PRO)).isEqualTo(PRO);

    // the shared window holds 10 successes: 5 errors make 50%
    for (int i = 0; i < 5; i++) call(guard, "another-model", upstream503());
    assertThat(guard.state("yet-another-model")).isEqualTo(State.OPEN);
    assertThat(guard.state(null)).isEqualTo(State.OPEN);
    assertThat(guard.state(PRO)).isEqualTo(State.CLOSED);
    assertThat(catchThrowableOfType(CircuitOpenException.class,
        () -> guard.acquirePermission("another-model")).scope()).isEqualTo("*");
  }

  @Test
  void overlongModelNamesShareTheUpstreamWideBreaker() {
    ResilientCircuitGuard guard = guard(policy().perModel(true).build());

    call(guard, "m".repeat(ResilientCircuitGuard.MAX_MODEL_NAME_LENGTH + 1), Outcome.success());

    assertThat(guard.scopes()).containsExactly("*");
  }

  @Test
  void askingTheStateOfAnUnknownModelCreatesNoBreaker() {
    ResilientCircuitGuard guard = guard(policy().perModel(true).build());

    assertThat(guard.state("never-called")).isEqualTo(State.CLOSED);

    assertThat(guard.scopes()).containsExactly("*");
  }

  @Test
  void listenersFollowEveryStateChange() {
    List<BreakerTransition> seen = new CopyOnWriteArrayList<>();
    ResilientCircuitGuard guard = ResilientCircuitGuard.builder()
        .policy(policy().perModel(true).build()).clock(clock).listener(seen::add).build();

    Instant openedAt = open(guard, PRO);
    clock.advance(JUST_PAST_WAIT);
    Instant halfOpenedAt = clock.instant();
    for (int i = 0; i < 3; i++) call(guard, PRO, Outcome.success());

    assertThat(seen).containsExactly(
        new BreakerTransition(PRO, State.CLOSED, State.OPEN, openedAt.plus(WAIT), 100f, openedAt),
        new BreakerTransition(PRO, State.OPEN, State.HALF_OPEN, null, -1f, halfOpenedAt),
        new BreakerTransition(PRO, State.HALF_OPEN, State.CLOSED, null, -1f, halfOpenedAt));
  }

  @Test
  void aFailingListenerNeverReachesTheCallerAndAClosedSubscriptionStopsEvents() {
    ResilientCircuitGuard guard = guard(policy().build());
    List<BreakerTransition> seen = new ArrayList<>();
    guard.addListener(t -> {
      throw new IllegalStateException("listener bug");
    });
    Subscription subscription = guard.addListener(seen::add);

    open(guard, null);
    subscription.close();
    guard.reset();

    assertThat(seen).extracting(BreakerTransition::to).containsExactly(State.OPEN);
    assertThat(guard.state(null)).isEqualTo(State.CLOSED);
  }

  @Test
  void resetClosesEveryBreaker() {
    ResilientCircuitGuard guard = guard(policy().perModel(true).build());
    open(guard, PRO);
    open(guard, FLASH);

    guard.reset();

    assertThat(guard.state(PRO)).isEqualTo(State.CLOSED);
    assertThat(guard.state(FLASH)).isEqualTo(State.CLOSED);
    assertThatCode(() -> guard.acquirePermission(PRO)).doesNotThrowAnyException();
  }

  @Test
  void aDisabledGuardNeverRefuses() {
    ResilientCircuitGuard guard = guard(policy().enabled(false).build());

    for (int i = 0; i < 100; i++) call(guard, PRO, upstream503());

    assertThat(guard.state(PRO)).isEqualTo(State.CLOSED);
  }

  @Test
  void longCallsAreNotTreatedAsFailures() {
    ResilientCircuitGuard guard = guard(policy().build());

    for (int i = 0; i < 20; i++) {
      guard.acquirePermission(null);
      guard.onOutcome(null, Outcome.success(), Duration.ofHours(2));
    }

    assertThat(guard.state(null)).isEqualTo(State.CLOSED);
  }

  @Test
  void epochChangesWithEveryStateChangeAndResetEvenBackToTheSameState() {
    ResilientCircuitGuard guard = guard(policy().build());
    java.util.Set<Long> seen = new java.util.HashSet<>();
    long closed = guard.epoch(null);
    seen.add(closed);
    call(guard, null, Outcome.cancelled());
    assertThat(guard.epoch(null)).as("a call is no state change").isEqualTo(closed);

    open(guard, null);
    assertThat(seen.add(guard.epoch(null))).as("open").isTrue();
    clock.advance(JUST_PAST_WAIT);
    guard.acquirePermission(null);
    assertThat(seen.add(guard.epoch(null))).as("half-open").isTrue();
    guard.onOutcome(null, upstream503(), Duration.ofMillis(1));
    for (int i = 0; i < 2; i++) call(guard, null, upstream503());
    assertThat(guard.state(null)).isEqualTo(State.OPEN);
    assertThat(seen.add(guard.epoch(null))).as("open again").isTrue();
    guard.reset();
    assertThat(seen.add(guard.epoch(null))).as("closed by reset").isTrue();
    guard.reset();
    assertThat(seen.add(guard.epoch(null))).as("reset while closed: a new window").isTrue();
  }
}
