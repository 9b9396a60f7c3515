package dev.geminirotator.core.guard;

/**
 * Follows the state changes of a {@link ResilientCircuitGuard}'s breakers, for metrics, logs and
 * sharing breaker state between instances.
 *
 * <p>Called synchronously on the thread whose call moved the breaker, after the state changed;
 * keep it short. An exception it throws is logged and swallowed: it never reaches a request.
 */
@FunctionalInterface
public interface BreakerListener {

  /** A breaker changed state. */
  void onStateChange(BreakerTransition transition);
}
