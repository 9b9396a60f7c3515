package dev.geminirotator.api.event;

/**
 * Receives a rotator's events. Every method has an empty default, so implement only what you need.
 *
 * <p>Listeners are called synchronously on the thread that caused the event, after the state has
 * changed; keep them short. An exception a listener throws is logged and swallowed: it never
 * reaches a request. Events learnt from a shared store are fired on the store's delivery thread
 * while the store holds its lock, so a listener must not call the rotator's state-changing
 * methods ({@code disable}, {@code enable}, {@code reset}, adding or removing keys) on the calling
 * thread: that can deadlock against a write waiting for the store. Hand such work to another
 * thread.
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
