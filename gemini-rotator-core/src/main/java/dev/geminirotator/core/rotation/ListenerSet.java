package dev.geminirotator.core.rotation;

import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.event.RotatorEvent;
import dev.geminirotator.api.event.RotatorListener;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;

/**
 * The {@link RotatorListener}s of one {@link GeminiKeyRotator}, and the one way its parts tell
 * them of an event: each listener is called in turn, and one that throws is logged and skipped,
 * never thrown into a request. Thread-safe: registering copies the list, firing reads it.
 */
final class ListenerSet {

  private final Logger log;
  private final CopyOnWriteArrayList<RotatorListener> listeners = new CopyOnWriteArrayList<>();

  ListenerSet(Logger log) {
    this.log = log;
  }

  /** Adds a listener; the handle removes it. */
  Subscription add(RotatorListener listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** Whether none listens: callers skip building an event nobody hears. */
  boolean isEmpty() {
    return listeners.isEmpty();
  }

  void fire(RotatorEvent event) {
    for (RotatorListener listener : listeners) {
      try {
        listener.onEvent(event);
      } catch (RuntimeException e) {
        log.warn("listener {} failed on {}; ignored", listener.getClass().getName(),
            event.getClass().getSimpleName(), e);
      }
    }
  }
}
