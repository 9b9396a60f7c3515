package dev.geminirotator.core.store;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
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
 * own echo included, hears them in the order the store took them.
 *
 * <p>Expired cooldowns are dropped when read; counters keep only the current window per name.
 * Values ({@link #putValue}) live until their time to live passes, by the store's clock; at most
 * {@link #MAX_VALUES} are held, and a value that finds the store full (after expired ones are
 * dropped) is not kept, as the SPI allows. Thread-safe. URI: {@code memory:}.
 */
public final class MemoryKeyStateStore implements KeyStateStore {

  private static final Logger log = LoggerFactory.getLogger(MemoryKeyStateStore.class);

  /** The most values ({@link #putValue}) held at once. */
  public static final int MAX_VALUES = 100_000;

  private final Clock clock;
  private final Map<String, ApiKey> added = new ConcurrentHashMap<>();
  private final Set<String> removed = ConcurrentHashMap.newKeySet();
  private final Map<String, StateChange.KeyStatus> statuses = new ConcurrentHashMap<>();
  private final Map<String, StateChange.Cooldown> cooldowns = new ConcurrentHashMap<>();
  private final Map<String, Double> health = new ConcurrentHashMap<>();
  private final Map<String, StateChange.Breaker> breakers = new ConcurrentHashMap<>();
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
  public StoreSnapshot load() {
    long now = clock.millis();
    cooldowns.values().removeIf(c -> c.until().toEpochMilli() <= now);
    return new StoreSnapshot(List.copyOf(added.values()), Set.copyOf(removed),
        Map.copyOf(statuses), List.copyOf(cooldowns.values()), Map.copyOf(health),
        Map.copyOf(breakers));
  }

  @Override
  public synchronized void apply(StateChange change) {
    Objects.requireNonNull(change, "change");
    if (change instanceof StateChange.KeyStatus s) {
      if (s.state() == KeyState.HEALTHY && s.until() == null) {
        statuses.remove(s.keyId());
      } else {
        statuses.put(s.keyId(), s);
      }
    } else if (change instanceof StateChange.Cooldown c) {
      String id = c.project() + '\u0000' + c.model();
      if (c.cleared()) {
        cooldowns.remove(id);
      } else {
        cooldowns.merge(id, c, (old, fresh) -> fresh.until().isAfter(old.until()) ? fresh : old);
      }
    } else if (change instanceof StateChange.Health h) {
      health.put(h.keyId(), h.score());
      return; // written behind only
    } else if (change instanceof StateChange.KeyAdded a) {
      added.put(a.key().id(), a.key());
      removed.remove(a.key().id());
    } else if (change instanceof StateChange.KeyRemoved r) {
      added.remove(r.keyId());
      removed.add(r.keyId());
      statuses.remove(r.keyId());
      health.remove(r.keyId());
    } else if (change instanceof StateChange.Breaker b) {
      breakers.put(b.name(), b);
    }
    for (Consumer<StateChange> listener : listeners) {
      try {
        listener.accept(change);
      } catch (RuntimeException e) {
        log.warn("store listener failed on {}; ignored", change.getClass().getSimpleName(), e);
      }
    }
  }

  @Override
  public Subscription subscribe(Consumer<StateChange> listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  @Override
  public long incrementWindow(String name, Duration window) {
    long windowMillis = window.toMillis();
    if (windowMillis <= 0) {
      throw new IllegalArgumentException("window must be >= 1ms but was " + window);
    }
    long now = clock.millis();
    return incrementWindow(name, Instant.ofEpochMilli(now - Math.floorMod(now, windowMillis)),
        window, 1);
  }

  /**
   * Adds {@code delta} to the named counter of the window starting at {@code windowStart}. The
   * newest two windows per name are kept, so a late count for the window that just ended (a claim
   * that read the clock before the window turned) neither resets the new window nor is lost.
   */
  @Override
  public long incrementWindow(String name, Instant windowStart, Duration window, long delta) {
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

  @Override
  public void putValue(String name, String value, Duration ttl) {
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
  public String getValue(String name) {
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
  public void removeValue(String name) {
    Objects.requireNonNull(name, "name");
    values.remove(name);
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
  public Map<String, StateChange.KeyStatus> statuses() {
    return new LinkedHashMap<>(statuses);
  }

  /** For tests and admin views: the cooldowns held. */
  public List<StateChange.Cooldown> cooldowns() {
    return new ArrayList<>(cooldowns.values());
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
