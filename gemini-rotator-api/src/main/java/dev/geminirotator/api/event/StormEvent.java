package dev.geminirotator.api.event;

import java.time.Instant;

/**
 * Most of the pool failed the same way within a short window. That pattern points at the upstream
 * or the caller's IP, not at the keys, so while the storm lasts the rotator cools keys instead of
 * invalidating them or marking them unhealthy.
 *
 * @param kind what the keys are seeing
 * @param started {@code true} when the storm begins, {@code false} when it is over
 * @param affectedKeys keys hit within the window
 * @param poolSize keys in the pool
 * @param at when
 */
public record StormEvent(Kind kind, boolean started, int affectedKeys, int poolSize, Instant at)
    implements RotatorEvent {

  /** What the storm is made of. */
  public enum Kind {
    /** 429s across most projects at once. */
    RATE_LIMIT,
    /** Credential rejections across most keys at once. */
    KEY_REJECTION
  }
}
