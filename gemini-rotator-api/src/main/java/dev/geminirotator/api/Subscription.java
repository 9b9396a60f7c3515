package dev.geminirotator.api;

/** A handle returned when registering a listener; closing it unsubscribes. Idempotent. */
@FunctionalInterface
public interface Subscription extends AutoCloseable {
  @Override
  void close();
}
