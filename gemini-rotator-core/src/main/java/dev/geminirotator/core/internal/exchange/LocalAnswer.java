package dev.geminirotator.core.internal.exchange;

import dev.geminirotator.api.RotatorException;
import dev.geminirotator.core.internal.GeminiErrors;
import java.util.Objects;

/**
 * An answer the exchange makes itself, without (another) upstream call, in no transport's shape:
 * each transport renders it its own way (the interceptor as Gemini's error JSON, the proxy as a
 * problem document). Immutable.
 *
 * @param kind why there is no upstream answer
 * @param status the HTTP status: 429 while a key frees up by itself, 503 when only an operator
 *     can help or the breaker is open, 404 when no project holds the resource
 * @param message what happened and what to do, naming ids and projects, never a secret
 * @param retryAfterSeconds the {@code Retry-After} in whole seconds, or {@code -1} for none
 * @param cause the refusal it stems from ({@code NoKeyAvailableException},
 *     {@code CircuitOpenException}), for transports that throw; {@code null} for an unreachable
 *     resource
 */
public record LocalAnswer(Kind kind, int status, String message, long retryAfterSeconds,
    RotatorException cause) {

  /** Why the exchange answered itself. */
  public enum Kind {
    /** No key of the pool can take the request. */
    NO_KEY("no-key-available"),
    /** The circuit guard is open: the upstream is failing. */
    CIRCUIT_OPEN("circuit-open"),
    /** The request's resource belongs to a project (or key) with no usable key now. */
    NO_KEY_FOR_PROJECT("no-key-for-project"),
    /** No project of the pool holds the request's resource, or its project left the pool. */
    UNREACHABLE("resource-unreachable");

    private final String reason;

    Kind(String reason) {
      this.reason = reason;
    }

    /**
     * The reason token: the {@code X-Gemini-Rotator} marker's value and the {@code ErrorInfo}
     * reason of the rendered error.
     */
    public String reason() {
      return reason;
    }
  }

  public LocalAnswer {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(message, "message");
  }

  /** Gemini's status name for {@link #status} ({@code RESOURCE_EXHAUSTED}, ...). */
  public String statusName() {
    return GeminiErrors.statusName(status);
  }

  /** The marker and {@code ErrorInfo} reason: {@link Kind#reason()}. */
  public String reason() {
    return kind.reason();
  }
}
