package dev.geminirotator.testsupport;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * The one polling helper of the test suites: waits for a real signal (a condition, an assertion,
 * a value) up to a deadline, and fails with a message naming what was awaited. Tests wait with it
 * instead of sleeping before an expectation; the deadline is generous ({@link #DEFAULT_DEADLINE})
 * because it only costs time when the test fails, and a loaded 2-core CI machine must never turn
 * a slow pass into a failure. Polls every millisecond at first, then every 20 ms.
 *
 * <p>A condition that throws ends the wait with that exception (it is not retried), except
 * {@link #untilAsserted}, which retries an {@link AssertionError} and reports the last one when
 * the deadline passes. An interrupt ends the wait with an {@link AssertionError} and keeps the
 * thread's interrupt flag. Stateless and thread-safe.
 */
public final class Eventually {

  /** How long a wait lasts when no deadline is given. */
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(30);

  private Eventually() {
  }

  /** An assertion that may throw anything; retried while it throws {@link AssertionError}. */
  @FunctionalInterface
  public interface Assertion {
    void check() throws Exception;
  }

  /**
   * Waits until {@code condition} holds, up to {@link #DEFAULT_DEADLINE}.
   *
   * @param what what is awaited, for the failure message (e.g. "the second instance drops k1")
   * @return how long it took
   * @throws AssertionError when the deadline passes first
   */
  public static Duration until(String what, BooleanSupplier condition) {
    return until(DEFAULT_DEADLINE, what, condition);
  }

  /**
   * Waits until {@code condition} holds, up to {@code deadline}.
   *
   * @return how long it took
   * @throws AssertionError when the deadline passes first
   */
  public static Duration until(Duration deadline, String what, BooleanSupplier condition) {
    long start = System.nanoTime();
    long end = start + deadline.toNanos();
    while (true) {
      if (condition.getAsBoolean()) return Duration.ofNanos(System.nanoTime() - start);
      long now = System.nanoTime();
      if (now - end > 0) {
        throw new AssertionError("timed out after " + describe(deadline) + " waiting for: "
            + what);
      }
      pause(start, now, what);
    }
  }

  /**
   * Runs {@code assertion} until it passes, up to {@link #DEFAULT_DEADLINE}; when the deadline
   * passes, fails with the last {@link AssertionError} as the cause.
   */
  public static void untilAsserted(String what, Assertion assertion) {
    untilAsserted(DEFAULT_DEADLINE, what, assertion);
  }

  /** Runs {@code assertion} until it passes, up to {@code deadline}. */
  public static void untilAsserted(Duration deadline, String what, Assertion assertion) {
    long start = System.nanoTime();
    long end = start + deadline.toNanos();
    while (true) {
      AssertionError last;
      try {
        assertion.check();
        return;
      } catch (AssertionError e) {
        last = e;
      } catch (RuntimeException e) {
        throw e;
      } catch (Exception e) {
        throw new AssertionError("while waiting for: " + what, e);
      }
      long now = System.nanoTime();
      if (now - end > 0) {
        AssertionError timeout = new AssertionError("timed out after " + describe(deadline)
            + " waiting for: " + what + "; last failure: " + last.getMessage(), last);
        throw timeout;
      }
      pause(start, now, what);
    }
  }

  /**
   * Polls {@code supplier} until {@code accept} takes its value, up to {@link #DEFAULT_DEADLINE},
   * and returns that value; on timeout the message shows the last value seen.
   */
  public static <T> T value(String what, Supplier<T> supplier, Predicate<? super T> accept) {
    return value(DEFAULT_DEADLINE, what, supplier, accept);
  }

  /** Polls {@code supplier} until {@code accept} takes its value, up to {@code deadline}. */
  public static <T> T value(Duration deadline, String what, Supplier<T> supplier,
      Predicate<? super T> accept) {
    long start = System.nanoTime();
    long end = start + deadline.toNanos();
    while (true) {
      T v = supplier.get();
      if (accept.test(v)) return v;
      long now = System.nanoTime();
      if (now - end > 0) {
        throw new AssertionError("timed out after " + describe(deadline) + " waiting for: "
            + what + "; last value: " + v);
      }
      pause(start, now, what);
    }
  }

  private static void pause(long start, long now, String what) {
    // 1 ms while the wait is young (a signal usually comes fast), then up to 20 ms
    long millis = Math.min(20, 1 + (now - start) / 10_000_000L);
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted while waiting for: " + what, e);
    }
  }

  private static String describe(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }
}
