package dev.geminirotator.api.event;

/**
 * Receives a rotator's events. Every method has an empty default, so implement only what you need.
 *
 * <p>An event the rotator caused (a request's outcome, an operator's {@code disable}) is told
 * synchronously on the thread that caused it, after the state has changed. An event learnt from a
 * shared store (another instance's change, the store's answer to a write) is told on the
 * rotator's event thread ({@code gemini-rotator-events}), in the order learnt, never on a thread
 * that holds the store's or the rotator's locks; a listener may call any of the rotator's methods
 * from either. Learnt events queued when the rotator closes are still told, possibly just after
 * {@code close()} returned. Keep
 * listeners short: a slow one holds up a request, or lets learnt events queue (at most 65,536
 * wait; beyond that the newest are dropped with a warning). An exception a listener throws is
 * logged and swallowed: it never reaches a request.
 */
public interface RotatorListener {

  /** A key's pool-wide state changed. */
  default void onStateTransition(StateTransition event) {
  }

  /** A 429 cooled a project for a model. */
  default void onCooldown(CooldownStarted event) {
  }

  /** A retry moved a request to another key. */
  default void onKeyRotated(KeyRotated event) {
  }

  /** A storm began or ended: most of the pool failing the same way. */
  default void onStorm(StormEvent event) {
  }

  /** A key joined the pool. */
  default void onKeyAdded(KeyAdded event) {
  }

  /** A key left the pool. */
  default void onKeyRemoved(KeyRemoved event) {
  }

  /** Routes any event to its typed method. */
  default void onEvent(RotatorEvent event) {
    if (event instanceof StateTransition e) {
      onStateTransition(e);
    } else if (event instanceof CooldownStarted e) {
      onCooldown(e);
    } else if (event instanceof KeyRotated e) {
      onKeyRotated(e);
    } else if (event instanceof StormEvent e) {
      onStorm(e);
    } else if (event instanceof KeyAdded e) {
      onKeyAdded(e);
    } else if (event instanceof KeyRemoved e) {
      onKeyRemoved(e);
    }
  }
}
