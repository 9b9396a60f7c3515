package dev.geminirotator.api.spi;

import dev.geminirotator.api.Subscription;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Where a pool's state lives beyond one rotator: key states and cooldowns, health, keys added at
 * run time and breaker state. Beyond that replication contract a store may declare two
 * capabilities: shared {@linkplain #counters() window counters} and shared
 * {@linkplain #values() values}. Several rotators (in one JVM, or on many hosts
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

  /**
   * Records a change, propagates it to other subscribers, and returns the state that stands for
   * the change's subject afterwards under the store's merge rules ({@link StoreState}): the change
   * itself, or what wins over it (a later cooldown of that project and model already set). A
   * remote store answers from what this instance knows now; if its backend later refuses the
   * change (another instance wrote a newer state), it delivers the state that stands to its
   * subscribers, the applying instance's included. Never blocks on I/O.
   *
   * <p>The caller adopts the returned state: that is how a rotator learns, without a callback on
   * its own thread, that its change lost, and how it agrees with the store as soon as the call
   * returns. A rotator serializes its own writes of one subject (one key's status, one project's
   * cooldowns) and adopts each answer before it writes the next, so the answers it adopts last
   * are those of the last changes the store took from it.
   */
  StateChange apply(StateChange change);

  /**
   * Registers for changes, including those applied by other rotators and other instances, and
   * the corrections of {@link #apply}. Listeners run on a store thread (or on the applying thread)
   * and must not block.
   *
   * <p>A store should hand each change it takes (or the state that stands after it) to every
   * listener, the applying rotator's own included, in the order it took the changes; the memory
   * and Redis stores do, on the applying thread. A store cannot tell which listener belongs to the
   * rotator that applied a change (several rotators may share one store), and a rotator does not
   * depend on it: it adopts {@link #apply}'s answer. The delivery in the store's order is what
   * keeps a rotator in that order when its own write and another's change of the same subject
   * cross: a rotator that hears of its subject while its write is in flight leaves that standing
   * rather than adopting an answer the later change replaced. Delivery is at least once; changes
   * are idempotent.
   */
  Subscription subscribe(Consumer<StateChange> listener);

  /**
   * The store's shared window counters, if it has them: what shared quotas and client limits
   * count in. Empty (the default) for a store that cannot count atomically across its users;
   * callers then count locally.
   */
  default Optional<WindowCounters> counters() {
    return Optional.empty();
  }

  /**
   * The store's shared values, if it keeps them: for example which project owns a file uploaded
   * through one instance, so that another instance sends later requests naming the file there.
   * Empty (the default) for a store that keeps none; callers then keep such state locally.
   */
  default Optional<SharedValues> values() {
    return Optional.empty();
  }

  /**
   * Whether other processes share what this store holds (Redis), so that counters, resource pins
   * and client limits must go through it. A store private to this JVM answers {@code false} (the
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
