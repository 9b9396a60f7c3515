package dev.geminirotator.core.store;

import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.SharedValues;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.api.spi.StoreState;
import dev.geminirotator.api.spi.WindowCounters;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The embedded default {@link KeyStateStore}: state in this JVM's memory, lost on exit. Rotators
 * that share one instance see each other's changes at once (listeners run on the applying thread),
 * which is how tests and single-process deployments run several rotators over one pool. Changes
 * are taken and handed to listeners one at a time, so every listener, the applying rotator's
 * own included, hears them in the order the store took them ({@link KeyStateStore#subscribe});
 * {@link #apply} answers the state that stands, which the applying rotator adopts.
 *
 * <p>Expired cooldowns are dropped when read; counters keep only the current window per name.
 * Values ({@link #values()}) live until their time to live passes, by the store's clock; at most
 * {@link #MAX_VALUES} are held, and a value that finds the store full (after expired ones are
 * dropped) is not kept, as the SPI allows. Thread-safe. URI: {@code memory:}.
 */
public final class MemoryKeyStateStore implements KeyStateStore {

  private static final Logger log = LoggerFactory.getLogger(MemoryKeyStateStore.class);

  /** The most values ({@link #values()}) held at once. */
  public static final int MAX_VALUES = 100_000;

  private final Clock clock;
  private final StoreState state = new StoreState(); // guarded by this
  private final WindowCounters counters = this::addAndGet;
  private final SharedValues sharedValues = new Values();
  private final Map<String, Window> windows = new ConcurrentHashMap<>();
  private final Map<String, Value> values = new ConcurrentHashMap<>();
  private final CopyOnWriteArrayList<Consumer<StateChange>> listeners =
      new CopyOnWriteArrayList<>();

  public MemoryKeyStateStore() {
    this(Clock.systemUTC());
  }

  public MemoryKeyStateStore(Clock clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  @Override
  public synchronized StoreSnapshot load() {
    return state.snapshot(clock.instant());
  }

  /**
   * Merges the change ({@link StoreState}) and hands it to every listener, the applying rotator's
   * own included, in the order the store took the changes. Health is kept but not handed on.
   */
  @Override
  public synchronized StateChange apply(StateChange change) {
    StateChange standing = state.apply(change);
    if (change instanceof StateChange.Health) return standing; // written behind only
    for (Consumer<StateChange> listener : listeners) {
      try {
        listener.accept(standing);
      } catch (RuntimeException e) {
        log.warn("store listener failed on {}; ignored", change.getClass().getSimpleName(), e);
      }
    }
    return standing;
  }

  @Override
  public Subscription subscribe(Consumer<StateChange> listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** Counters private to this JVM: exact, and never unavailable. */
  @Override
  public Optional<WindowCounters> counters() {
    return Optional.of(counters);
  }

  /** Values private to this JVM, at most {@link #MAX_VALUES} of them. */
  @Override
  public Optional<SharedValues> values() {
    return Optional.of(sharedValues);
  }

  /**
   * Adds {@code delta} to the named counter of the window starting at {@code windowStart}. The
   * newest two windows per name are kept, so a late count for the window that just ended (a claim
   * that read the clock before the window turned) neither resets the new window nor is lost.
   */
  private long addAndGet(String name, Instant windowStart, Duration window, long delta) {
    Objects.requireNonNull(name, "name");
    if (window.toMillis() <= 0) {
      throw new IllegalArgumentException("window must be >= 1ms but was " + window);
    }
    if (delta < 1) {
      throw new IllegalArgumentException("delta must be >= 1 but was " + delta);
    }
    long start = windowStart.toEpochMilli();
    long[] total = new long[1];
    windows.compute(name, (k, counter) -> {
      Window c = counter != null ? counter : new Window();
      total[0] = c.add(start, delta);
      return c;
    });
    return total[0];
  }

  /** Private to this JVM: nobody else sees what it holds. */
  @Override
  public boolean isShared() {
    return false;
  }

  @Override
  public boolean isAvailable() {
    return true;
  }

  @Override
  public String describe() {
    return "memory:";
  }

  @Override
  public void close() {
    listeners.clear();
  }

  /** For tests and admin views: the statuses held, by key id. */
  public synchronized Map<String, StateChange.KeyStatus> statuses() {
    return new LinkedHashMap<>(state.snapshot(clock.instant()).statuses());
  }

  /** For tests and admin views: the cooldowns held. */
  public synchronized List<StateChange.Cooldown> cooldowns() {
    return new ArrayList<>(state.snapshot(clock.instant()).cooldowns());
  }

  private final class Values implements SharedValues {
    @Override
    public void put(String name, String value, Duration ttl) {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(value, "value");
      long now = clock.millis();
      long expires = now + Math.max(1, ttl.toMillis());
      if (values.size() >= MAX_VALUES && !values.containsKey(name)) {
        values.values().removeIf(v -> v.expires() <= now);
        if (values.size() >= MAX_VALUES) return; // full: best effort keeps nothing
      }
      values.put(name, new Value(value, expires));
    }

    @Override
    public String get(String name) {
      Objects.requireNonNull(name, "name");
      Value v = values.get(name);
      if (v == null) return null;
      if (v.expires() <= clock.millis()) {
        values.remove(name, v);
        return null;
      }
      return v.value();
    }

    @Override
    public void remove(String name) {
      Objects.requireNonNull(name, "name");
      values.remove(name);
    }
  }

  private record Value(String value, long expires) {
  }

  /** The counts of a name's newest two windows; changed only inside the map's compute. */
  private static final class Window {
    private static final long NONE = Long.MIN_VALUE;
    private long newestStart = NONE;
    private long newestCount;
    private long previousStart = NONE;
    private long previousCount;

    long add(long start, long delta) {
      if (start == newestStart) return newestCount += delta;
      if (start == previousStart) return previousCount += delta;
      if (newestStart == NONE || start > newestStart) {
        previousStart = newestStart;
        previousCount = newestCount;
        newestStart = start;
        newestCount = delta;
        return delta;
      }
      previousStart = start; // older than the newest: it replaces the older one kept
      previousCount = delta;
      return delta;
    }
  }
}
