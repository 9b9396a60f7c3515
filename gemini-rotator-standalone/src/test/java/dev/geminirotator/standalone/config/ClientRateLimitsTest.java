package dev.geminirotator.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The local per-client limits (memory store, or a shared store that is down): a fixed number of
 * requests per one-minute window per client, and a refused client is told the whole seconds until
 * its window refreshes. Time is a fake nano ticker, never slept through.
 */
class ClientRateLimitsTest {

  /** An arbitrary, large starting point: windows are reckoned from each limiter, not from 0. */
  private final AtomicLong nanos = new AtomicLong(987_654_321_000L);

  private ClientRateLimits limits(int requestsPerMinute) {
    return new ClientRateLimits(requestsPerMinute, null, Clock.systemUTC(), nanos::get);
  }

  private void advance(Duration d) {
    nanos.addAndGet(d.toNanos());
  }

  @Test
  void aRefusedClientIsToldTheSecondsUntilItsWindowRefreshes() {
    ClientRateLimits limits = limits(2);
    assertThat(limits.shared()).isFalse();
    assertThat(limits.tryAcquire("a")).isEqualTo(-1);
    assertThat(limits.tryAcquire("a")).isEqualTo(-1);
    assertThat(limits.tryAcquire("a")).as("at the window's start").isEqualTo(60);

    advance(Duration.ofMillis(45_500));
    assertThat(limits.tryAcquire("a")).as("14.5 s left, rounded up").isEqualTo(15);
    advance(Duration.ofMillis(14_499));
    assertThat(limits.tryAcquire("a")).as("1 ms left").isEqualTo(1);

    advance(Duration.ofMillis(1));
    assertThat(limits.tryAcquire("a")).as("the next window").isEqualTo(-1);
    assertThat(limits.tryAcquire("a")).isEqualTo(-1);
    assertThat(limits.tryAcquire("a")).isEqualTo(60);
  }

  @Test
  void eachClientsWindowsStartWithItsFirstRequest() {
    ClientRateLimits limits = limits(1);
    assertThat(limits.tryAcquire("early")).isEqualTo(-1);
    advance(Duration.ofSeconds(20));
    assertThat(limits.tryAcquire("late")).isEqualTo(-1);

    assertThat(limits.tryAcquire("early")).isEqualTo(40);
    assertThat(limits.tryAcquire("late")).isEqualTo(60);

    advance(Duration.ofSeconds(40));
    assertThat(limits.tryAcquire("early")).isEqualTo(-1);
    assertThat(limits.tryAcquire("late")).isEqualTo(20);
    advance(Duration.ofMinutes(5));
    assertThat(limits.tryAcquire("late")).as("five windows on, still aligned").isEqualTo(-1);
    assertThat(limits.tryAcquire("late")).isEqualTo(20);
  }

  @Test
  void noLimitAdmitsEveryRequest() {
    ClientRateLimits limits = limits(0);
    for (int i = 0; i < 1_000; i++) assertThat(limits.tryAcquire("a")).isEqualTo(-1);
  }
}
