package dev.geminirotator.api;

import java.time.Instant;
import java.util.Map;
import java.util.Objects;

/**
 * A point-in-time view of one key, for admin output, health endpoints and tests. Holds the id and
 * the masked secret, never the secret itself. Immutable.
 *
 * @param id the key id
 * @param masked the masked secret
 * @param weight the selection weight
 * @param labels the key's labels
 * @param state the key's pool-wide state; {@link KeyState#RATE_LIMITED} when any cooldown is active
 * @param health the health score, 0.0 to 1.0
 * @param inFlight leases handed out and not yet completed
 * @param cooldowns active rate-limit cooldowns: model (or {@value RequestContext#ANY_MODEL}) to the
 *     instant it ends
 * @param stateUntil when the key's state ends by itself: for {@link KeyState#UNHEALTHY} when it
 *     may be tried again, for {@link KeyState#RATE_LIMITED} when its last cooldown ends; {@code
 *     null} for {@code HEALTHY}, and for {@code INVALID} and {@code DISABLED}, which only an
 *     operator ends
 * @param reason why the key is in its state, in words fit for a log line: for {@code
 *     RATE_LIMITED} the reason of the cooldown that ends last (e.g. "per-day quota of project p
 *     for gemini-2.5-flash (GenerateRequestsPerDayPerProjectPerModel-FreeTier) until
 *     2026-12-08T08:00Z (midnight Pacific)"), for {@code UNHEALTHY} what lowered its health, for
 *     {@code INVALID} Gemini's reason, for {@code DISABLED} who disabled it; {@code null} for
 *     {@code HEALTHY}. Key ids only, never a secret
 * @param successes successful attempts since start
 * @param failures attempts that ended rate-limited, rejected, or in an upstream or transport error,
 *     since start (client errors and cancellations are not the key's failures)
 * @param cooldownReasons the reason of each active cooldown, by the same models as {@code
 *     cooldowns}
 */
public record KeySnapshot(
    String id,
    String masked,
    int weight,
    Map<String, String> labels,
    KeyState state,
    double health,
    int inFlight,
    Map<String, Instant> cooldowns,
    Instant stateUntil,
    String reason,
    long successes,
    long failures,
    Map<String, String> cooldownReasons) {

  public KeySnapshot {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(state, "state");
    labels = Map.copyOf(labels);
    cooldowns = Map.copyOf(cooldowns);
    cooldownReasons = cooldownReasons == null ? Map.of() : Map.copyOf(cooldownReasons);
  }

  /** A snapshot without cooldown reasons. */
  public KeySnapshot(String id, String masked, int weight, Map<String, String> labels,
      KeyState state, double health, int inFlight, Map<String, Instant> cooldowns,
      Instant stateUntil, String reason, long successes, long failures) {
    this(id, masked, weight, labels, state, health, inFlight, cooldowns, stateUntil, reason,
        successes, failures, Map.of());
  }

  /** Whether this key would be handed out for the model at this instant, quotas aside. */
  public boolean availableFor(String model, Instant now) {
    if (state == KeyState.INVALID || state == KeyState.DISABLED) return false;
    if (state == KeyState.UNHEALTHY && stateUntil != null && now.isBefore(stateUntil)) return false;
    Instant any = cooldowns.get(RequestContext.ANY_MODEL);
    Instant forModel = cooldowns.get(model);
    return (any == null || !now.isBefore(any)) && (forModel == null || !now.isBefore(forModel));
  }
}
