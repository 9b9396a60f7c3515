package dev.geminirotator.api;

import java.time.Instant;

/**
 * The {@link CircuitGuard} is open: the upstream has been failing, so calls fail fast without
 * touching the network until {@link #retryAt()}, when trial calls are let through.
 */
public final class CircuitOpenException extends RotatorException {
  private static final long serialVersionUID = 1L;

  private final String scope;
  private final transient Instant retryAt;

  /**
   * Creates the exception for one guarded scope.
   *
   * @param scope the model whose breaker is open, or {@value RequestContext#ANY_MODEL}
   * @param retryAt when the breaker lets trial calls through
   */
  public CircuitOpenException(String scope, Instant retryAt) {
    super("upstream circuit open for " + (RequestContext.ANY_MODEL.equals(scope) ? "all models"
        : "model " + scope) + ": failing fast until " + retryAt);
    this.scope = scope;
    this.retryAt = retryAt;
  }

  /** The guarded scope: a model, or {@value RequestContext#ANY_MODEL} for the whole upstream. */
  public String scope() {
    return scope;
  }

  /** When the guard will let trial calls through. */
  public Instant retryAt() {
    return retryAt;
  }
}
