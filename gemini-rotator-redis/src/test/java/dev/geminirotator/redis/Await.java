package dev.geminirotator.redis;

import java.time.Duration;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/** Deadline polls for tests: wait for a condition, never sleep-then-assert. */
final class Await {

  private Await() {
  }

  /** Polls every millisecond until the condition holds; returns how long it took, or fails. */
  static Duration until(Duration deadline, String what, BooleanSupplier condition) {
    long start = System.nanoTime();
    long end = start + deadline.toNanos();
    while (true) {
      if (condition.getAsBoolean()) return Duration.ofNanos(System.nanoTime() - start);
      if (System.nanoTime() > end) {
        throw new AssertionError("not within " + deadline.toMillis() + " ms: " + what);
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted while waiting for " + what);
      }
    }
  }

  /** Polls until the supplier returns a value that passes; returns it. */
  static <T> T value(Duration deadline, String what, Supplier<T> supplier,
      java.util.function.Predicate<T> accept) {
    Object[] holder = new Object[1];
    until(deadline, what, () -> {
      T v = supplier.get();
      holder[0] = v;
      return accept.test(v);
    });
    @SuppressWarnings("unchecked")
    T v = (T) holder[0];
    return v;
  }
}
