package dev.geminirotator.okhttp;

import dev.geminirotator.api.CircuitOpenException;
import java.io.IOException;

/**
 * Thrown by {@link GeminiKeyInterceptor} with
 * {@link GeminiKeyInterceptor.CircuitOpenBehavior#THROW} when the circuit guard is open: the
 * upstream has been failing, so the call failed fast without touching the network. An
 * {@link IOException}, so that it reaches {@code Call.execute()} callers and
 * {@code Callback.onFailure}, carrying the guard's {@link CircuitOpenException} (with
 * {@link CircuitOpenException#retryAt()}) as its cause. Immutable once thrown.
 */
public final class CircuitOpenIOException extends IOException {
  private static final long serialVersionUID = 1L;

  public CircuitOpenIOException(CircuitOpenException cause) {
    super(cause.getMessage(), cause);
  }

  /** The guard's refusal, with {@link CircuitOpenException#retryAt()}. */
  @Override
  public synchronized CircuitOpenException getCause() {
    return (CircuitOpenException) super.getCause();
  }
}
