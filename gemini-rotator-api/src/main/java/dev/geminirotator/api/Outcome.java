package dev.geminirotator.api;

import java.time.Duration;
import java.util.Objects;

/**
 * What happened to one attempt made with a leased key. A transport classifies the upstream
 * response (core has the Gemini classifier) and completes the {@link KeyLease} with it; the
 * rotator turns it into health, cooldown and state changes.
 *
 * <p>All implementations are immutable records.
 */
public sealed interface Outcome {

  /** The kind of an outcome, for metrics and switches. */
  enum Kind {
    SUCCESS, RATE_LIMITED, KEY_REJECTED, CLIENT_ERROR, UPSTREAM_ERROR, TRANSPORT_ERROR, CANCELLED
  }

  /** This outcome's kind. */
  Kind kind();

  /** Gemini answered 2xx. Raises the key's health. */
  static Outcome success() {
    return Success.INSTANCE;
  }

  /**
   * Gemini answered 429.
   *
   * @param retryDelay the delay Gemini asked for ({@code RetryInfo.retryDelay} or
   *     {@code Retry-After}), or {@code null} when it gave none
   * @param scope the quota window that was hit
   */
  static Outcome rateLimited(Duration retryDelay, QuotaScope scope) {
    return new RateLimited(retryDelay, scope);
  }

  /** Gemini rejected the credential itself (invalid, expired, suspended key). */
  static Outcome keyRejected(int status, String reason) {
    return new KeyRejected(status, reason);
  }

  /** The request was at fault (bad argument, unknown model, ...). No key is blamed. */
  static Outcome clientError(int status) {
    return new ClientError(status);
  }

  /** Gemini failed (500, 502, 503, 504). Counts against the circuit guard. */
  static Outcome upstreamError(int status, String reason) {
    return new UpstreamError(status, reason);
  }

  /** The exchange failed below HTTP: refused, reset, timed out. Counts against the guard. */
  static Outcome transportError(String reason) {
    return new TransportError(reason);
  }

  /** The caller abandoned the attempt. Nobody is blamed. */
  static Outcome cancelled() {
    return Cancelled.INSTANCE;
  }

  /** See {@link Outcome#success()}. */
  record Success() implements Outcome {
    static final Success INSTANCE = new Success();

    @Override
    public Kind kind() {
      return Kind.SUCCESS;
    }
  }

  /** See {@link Outcome#rateLimited(Duration, QuotaScope)}. */
  record RateLimited(Duration retryDelay, QuotaScope scope) implements Outcome {
    public RateLimited {
      Objects.requireNonNull(scope, "scope");
      if (retryDelay != null && retryDelay.isNegative()) {
        throw new IllegalArgumentException("retryDelay must not be negative but was " + retryDelay);
      }
    }

    @Override
    public Kind kind() {
      return Kind.RATE_LIMITED;
    }
  }

  /** See {@link Outcome#keyRejected(int, String)}. */
  record KeyRejected(int status, String reason) implements Outcome {
    @Override
    public Kind kind() {
      return Kind.KEY_REJECTED;
    }
  }

  /** See {@link Outcome#clientError(int)}. */
  record ClientError(int status) implements Outcome {
    @Override
    public Kind kind() {
      return Kind.CLIENT_ERROR;
    }
  }

  /** See {@link Outcome#upstreamError(int, String)}. */
  record UpstreamError(int status, String reason) implements Outcome {
    @Override
    public Kind kind() {
      return Kind.UPSTREAM_ERROR;
    }
  }

  /** See {@link Outcome#transportError(String)}. */
  record TransportError(String reason) implements Outcome {
    @Override
    public Kind kind() {
      return Kind.TRANSPORT_ERROR;
    }
  }

  /** See {@link Outcome#cancelled()}. */
  record Cancelled() implements Outcome {
    static final Cancelled INSTANCE = new Cancelled();

    @Override
    public Kind kind() {
      return Kind.CANCELLED;
    }
  }
}
