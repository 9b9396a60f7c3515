package dev.geminirotator.api;

/**
 * Where a key stands in its pool.
 *
 * <p>{@link #RATE_LIMITED} is per model: a key cooling down for one model can still serve another,
 * so a snapshot reports it when any cooldown is active and lists the cooldowns by model.
 */
public enum KeyState {
  /** In rotation. */
  HEALTHY,
  /** Cooling down after a 429, for one model or, when the quota was pool-wide, for all. */
  RATE_LIMITED,
  /** Health score fell under the threshold: cooling down, then one trial request decides. */
  UNHEALTHY,
  /** Gemini rejected the credential. Out until an operator resets it. */
  INVALID,
  /** Taken out by an operator. */
  DISABLED
}
