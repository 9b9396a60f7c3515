package dev.geminirotator.api.event;

import java.time.Instant;

/** Something that happened in a rotator. Events are immutable records and never hold secrets. */
public sealed interface RotatorEvent
    permits StateTransition, CooldownStarted, KeyRotated, StormEvent, KeyAdded, KeyRemoved {

  /** When it happened, by the rotator's clock. */
  Instant at();
}
