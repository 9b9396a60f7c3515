package dev.geminirotator.api;

import java.util.Map;

/**
 * Counters since a rotator started, for metrics. Immutable snapshot.
 *
 * @param acquisitions leases handed out
 * @param noKeyAvailable acquisitions refused because no key could serve
 * @param outcomes completed leases by outcome kind
 * @param cooldowns rate-limit cooldowns started (one per project and model)
 * @param trials half-open trial leases handed out
 */
public record RotatorStats(long acquisitions, long noKeyAvailable, Map<Outcome.Kind, Long> outcomes,
    long cooldowns, long trials) {
  public RotatorStats {
    outcomes = Map.copyOf(outcomes);
  }
}
