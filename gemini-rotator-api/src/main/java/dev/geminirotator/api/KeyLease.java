package dev.geminirotator.api;

/**
 * The right to use one key for one attempt. Obtained from {@link KeyRotator#acquire}; completed
 * with the attempt's {@link Outcome} exactly once.
 *
 * <p>Only the first completion counts: later calls return {@code false} and change nothing, so a
 * transport may complete from both a body-close callback and an error path without
 * double-counting. {@link #close()} completes an uncompleted lease as
 * {@link Outcome#cancelled() cancelled}. Thread-safe.
 */
public interface KeyLease extends AutoCloseable {

  /** The key to send. */
  ApiKey key();

  /** Whether this attempt is the single trial that decides if an unhealthy key comes back. */
  boolean isTrial();

  /**
   * Reports the attempt's outcome.
   *
   * @return {@code true} if this call completed the lease, {@code false} if it was already done
   */
  boolean complete(Outcome outcome);

  /** Whether the lease has been completed. */
  boolean isCompleted();

  /** Completes the lease as cancelled unless it was completed already. */
  @Override
  default void close() {
    complete(Outcome.cancelled());
  }
}
