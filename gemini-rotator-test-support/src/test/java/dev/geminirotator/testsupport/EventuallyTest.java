package dev.geminirotator.testsupport;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class EventuallyTest {

  @Test
  void waitsForAConditionAnotherThreadMakesTrue() throws Exception {
    CountDownLatch go = new CountDownLatch(1);
    Thread t = new Thread(() -> {
      try {
        go.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    t.start();
    go.countDown();
    Eventually.until("the thread ends", () -> !t.isAlive());
    assertThat(t.isAlive()).isFalse();
  }

  @Test
  void aConditionThatNeverHoldsFailsNamingWhatWasAwaited() {
    assertThatThrownBy(() -> Eventually.until(Duration.ofMillis(50), "the moon turns blue",
        () -> false))
        .isInstanceOf(AssertionError.class)
        .hasMessage("timed out after 50 ms waiting for: the moon turns blue");
  }

  @Test
  void untilAssertedRetriesAndReportsTheLastFailure() {
    AtomicInteger calls = new AtomicInteger();
    Eventually.untilAsserted("third call", () -> assertThat(calls.incrementAndGet()).isEqualTo(3));
    assertThat(calls.get()).isEqualTo(3);
    assertThatThrownBy(() -> Eventually.untilAsserted(Duration.ofMillis(30), "never",
        () -> assertThat("x").isEqualTo("y")))
        .hasMessageStartingWith("timed out after 30 ms waiting for: never; last failure:")
        .hasCauseInstanceOf(AssertionError.class);
  }

  @Test
  void valueReturnsTheFirstAcceptedValueAndShowsTheLastOneOnTimeout() {
    AtomicInteger n = new AtomicInteger();
    assertThat(Eventually.value("n reaches 5", n::incrementAndGet, v -> v >= 5)).isEqualTo(5);
    assertThatThrownBy(() -> Eventually.value(Duration.ofMillis(20), "negative", () -> 7,
        v -> v < 0)).hasMessageEndingWith("; last value: 7");
  }

  @Test
  void anExceptionFromTheConditionEndsTheWait() {
    assertThatThrownBy(() -> Eventually.until("boom", () -> {
      throw new IllegalStateException("broken probe");
    })).isInstanceOf(IllegalStateException.class).hasMessage("broken probe");
  }
}
