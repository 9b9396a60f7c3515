package dev.geminirotator.core.guard;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.RequestContext;
import java.time.Instant;
import java.util.Objects;

/**
 * One breaker of a {@link ResilientCircuitGuard} changed state. Immutable.
 *
 * @param scope the breaker: a model, or {@value RequestContext#ANY_MODEL} for the whole upstream
 * @param from the state before
 * @param to the state after
 * @param retryAt when {@code to} is {@link CircuitGuard.State#OPEN}: when trial calls will be let
 *     through; otherwise {@code null}
 * @param failureRate the failure rate, in percent, that the breaker judged when it changed state,
 *     or -1 when it had too few calls to judge (a reset, or the move to half-open)
 * @param at when, by the guard's clock
 */
public record BreakerTransition(String scope, CircuitGuard.State from, CircuitGuard.State to,
    Instant retryAt, float failureRate, Instant at) {

  public BreakerTransition {
    Objects.requireNonNull(scope, "scope");
    Objects.requireNonNull(from, "from");
    Objects.requireNonNull(to, "to");
    Objects.requireNonNull(at, "at");
  }
}
