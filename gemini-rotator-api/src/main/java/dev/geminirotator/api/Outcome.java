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
    /** {@link Outcome#success()} */
    SUCCESS,
    /** {@link Outcome.RateLimited} */
    RATE_LIMITED,
    /** {@link Outcome.KeyRejected} */
    KEY_REJECTED,
    /** {@link Outcome.ClientError} */
    CLIENT_ERROR,
    /** {@link Outcome.UpstreamError} */
    UPSTREAM_ERROR,
    /** {@link Outcome.TransportError} */
    TRANSPORT_ERROR,
    /** {@link Outcome#cancelled()} */
    CANCELLED
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
    return new RateLimited(retryDelay, scope, null);
  }

  /**
   * Gemini answered 429 and named the quota it hit.
   *
   * @param retryDelay as for {@link #rateLimited(Duration, QuotaScope)}
   * @param scope the quota window that was hit
   * @param quotaId the {@code QuotaFailure} violation's {@code quotaId}, e.g.
   *     {@code GenerateRequestsPerDayPerProjectPerModel-FreeTier}, or {@code null}; kept only when
   *     it looks like one (see {@link RateLimited})
   */
  static Outcome rateLimited(Duration retryDelay, QuotaScope scope, String quotaId) {
    return new RateLimited(retryDelay, scope, quotaId);
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

  /**
   * See {@link Outcome#rateLimited(Duration, QuotaScope, String)}. The quota id comes from the
   * upstream's body and ends up in reasons and log lines, so it is kept only when it has the shape
   * of one: at most {@value #MAX_QUOTA_ID_LENGTH} characters of letters, digits and
   * {@code . _ - : /}, starting with a letter or digit; anything else becomes {@code null}.
   */
  record RateLimited(Duration retryDelay, QuotaScope scope, String quotaId) implements Outcome {

    /** The longest quota id kept. Gemini's are about 50 characters. */
    public static final int MAX_QUOTA_ID_LENGTH = 128;

    public RateLimited {
      Objects.requireNonNull(scope, "scope");
      if (retryDelay != null && retryDelay.isNegative()) {
        throw new IllegalArgumentException("retryDelay must not be negative but was " + retryDelay);
      }
      if (!plausibleQuotaId(quotaId)) quotaId = null;
    }

    /** A 429 that named no quota. */
    public RateLimited(Duration retryDelay, QuotaScope scope) {
      this(retryDelay, scope, null);
    }

    /** Whether {@code id} has the shape of a Gemini quota id (see the class comment). */
    public static boolean plausibleQuotaId(String id) {
      if (id == null || id.isEmpty() || id.length() > MAX_QUOTA_ID_LENGTH) return false;
      for (int i = 0; i < id.length(); i++) {
        char c = id.charAt(i);
        boolean alnum = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
        if (!alnum && (i == 0 || (c != '.' && c != '_' && c != '-' && c != ':' && c != '/'))) {
          return false;
        }
      }
      return true;
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
