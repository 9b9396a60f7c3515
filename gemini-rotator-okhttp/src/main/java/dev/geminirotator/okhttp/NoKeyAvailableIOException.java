package dev.geminirotator.okhttp;

import dev.geminirotator.api.NoKeyAvailableException;
import java.io.IOException;

/**
 * Thrown by {@link GeminiKeyInterceptor} with
 * {@link GeminiKeyInterceptor.NoKeyBehavior#THROW} when no key in the pool can take a request and
 * none was tried: an {@link IOException}, so that it reaches {@code Call.execute()} callers and
 * {@code Callback.onFailure}, carrying the rotator's {@link NoKeyAvailableException} (when a key
 * frees up, how many keys are in which state) as its cause. The message never names a secret.
 * Immutable once thrown.
 */
public final class NoKeyAvailableIOException extends IOException {
  private static final long serialVersionUID = 1L;

  public NoKeyAvailableIOException(NoKeyAvailableException cause) {
    super(cause.getMessage(), cause);
  }

  /** The rotator's refusal, with {@link NoKeyAvailableException#earliestAvailable()}. */
  @Override
  public synchronized NoKeyAvailableException getCause() {
    return (NoKeyAvailableException) super.getCause();
  }
}
