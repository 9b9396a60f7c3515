package dev.geminirotator.api.spi;

import dev.geminirotator.api.Subscription;
import java.time.Duration;
import java.time.Instant;
import java.util.function.Consumer;

/**
 * Where a pool's state lives beyond one rotator: key states and cooldowns, health, keys added at
 * run time, breaker state and windowed counters. Several rotators (in one JVM, or on many hosts
 * with a shared backend such as Redis) that use one store see each other's changes.
 *
 * <p>The contract keeps remote stores off the request path:
 * <ul>
 *   <li>{@link #apply} must not block on I/O. A remote store queues the change, writes it behind
 *       and publishes it to other instances.
 *   <li>{@link #load} may block; the rotator calls it at start and from its reconcile task.
 *   <li>A store that cannot reach its backend keeps accepting changes, reports
 *       {@link #isAvailable()} {@code false}, logs once, and catches up when the backend returns.
 * </ul>
 * Changes are idempotent ({@link StateChange}), so a store may deliver a change more than once,
 * including back to the instance that made it. Implementations are thread-safe.
 *
 * <p>A third party adds a store by implementing this interface and a {@link KeyStateStoreProvider}.
 */
public interface KeyStateStore extends AutoCloseable {

  /** Everything stored for the pool. May block. */
  StoreSnapshot load();

  /** Records a change and propagates it to other subscribers. Never blocks on I/O. */
  void apply(StateChange change);

  /**
   * Registers for changes, including those applied by other rotators and other instances.
   * Listeners run on a store thread and must not block.
   */
  Subscription subscribe(Consumer<StateChange> listener);

  /**
   * Counts one event in a fixed window shared by every user of the store and returns the count so
   * far in the current window, this one included. May block; keep it off latency-critical paths
   * or use it with a local fallback.
   *
   * @param name the counter, e.g. {@code client:team-a}
   * @param window the window length; windows are aligned to the epoch
   */
  long incrementWindow(String name, Duration window);

  /**
   * Adds {@code delta} to the counter of one window shared by every user of the store, atomically,
   * and returns the total so far in that window, this delta included. The caller names the window
   * by its start, so windows need not be aligned to the epoch (a day may start at midnight in
   * America/Los_Angeles, and last 23 or 25 hours). The counter is dropped some time after the
   * window ends. May block; callers keep it off the request path (see {@code SharedQuotas} in
   * core, which claims blocks of permits in the background).
   *
   * <p>Throws when the shared backend cannot count right now (unreachable, an error): a total
   * that only this process counted must not pass for the shared one. The default throws
   * {@link UnsupportedOperationException}; callers then count locally.
   *
   * @param name the counter, e.g. {@code quota:key-1:rpm}
   * @param windowStart when the window began
   * @param window the window's length; the counter lives until {@code windowStart + window}
   * @param delta how much to add, {@code >= 1}
   */
  default long incrementWindow(String name, Instant windowStart, Duration window,
      long delta) {
    throw new UnsupportedOperationException(getClass().getName()
        + " has no shared window counters with a delta");
  }

  /**
   * Keeps a small value under a name for a while, visible to every user of the store: for
   * example which project owns a file uploaded through one instance, so that another instance
   * sends later requests naming the file there. May block. Best effort: a store that cannot
   * share values (the default) or cannot reach its backend keeps nothing.
   *
   * @param name the entry, e.g. {@code file:abc123}
   * @param value the value, not a secret
   * @param ttl how long to keep it, at least 1 ms
   */
  default void putValue(String name, String value, Duration ttl) {
  }

  /**
   * The value {@link #putValue} kept under a name and not expired yet, or {@code null}. May block.
   * Never throws because a backend is unreachable: that answers {@code null}.
   */
  default String getValue(String name) {
    return null;
  }

  /**
   * Forgets the value {@link #putValue} kept under a name, for every user of the store: for
   * example the owner of a file that was deleted. May block. Best effort, like {@link #putValue}:
   * a store that keeps no values (the default) or cannot reach its backend does nothing, and the
   * value then lives out its time to live.
   *
   * @param name the entry, e.g. {@code pin:file:files/abc123}
   */
  default void removeValue(String name) {
  }

  /**
   * Whether other processes share what this store holds (Redis), so that counters, file pins and
   * client limits must go through it. A store private to this JVM answers {@code false} (the
   * memory store): callers then keep such state locally and claim counters inline, without I/O.
   */
  default boolean isShared() {
    return true;
  }

  /**
   * The salt for ids derived from secrets ({@link dev.geminirotator.api.ApiKey#withIdSalt}),
   * shared by every user of the store so that they agree on each key's id, and kept as long as
   * the store keeps its state. {@code null} (the default, and a store private to this JVM): the
   * rotator keeps this process's own random salt. The salt is what keeps an id from confirming a
   * guessed key: never log or show it. May block on first call.
   */
  default String keyIdSalt() {
    return null;
  }

  /**
   * Calls {@code listener} whenever {@link #keyIdSalt()} changes: a store that could not reach
   * its backend at start learns the shared salt when it connects, and one whose backend lost its
   * data may find another instance's salt there. Rotators re-derive their keys' ids then, so that
   * instances keep agreeing on them. Called before the store writes anything more to its backend;
   * the listener must not write to the store. The default, for stores whose salt never changes,
   * never calls it.
   */
  default dev.geminirotator.api.Subscription onKeyIdSaltChange(Runnable listener) {
    return () -> { };
  }

  /** Whether the backend is reachable right now. The memory store always is. */
  boolean isAvailable();

  /** A description for logs and health output, with any password masked. */
  String describe();

  /** Flushes pending writes and releases connections. */
  @Override
  void close();
}
