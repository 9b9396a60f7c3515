package dev.geminirotator.api.spi;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A pool's shared state and the one set of rules by which changes merge into it: what every
 * {@link KeyStateStore} holds, in memory or as its mirror of a remote backend. A store applies
 * each change it takes here and returns what {@link #apply} answers from its own
 * {@link KeyStateStore#apply}.
 *
 * <p>The rules, in the order a store takes the changes:
 * <ul>
 *   <li>{@link StateChange.KeyStatus}: the last one stands. {@code HEALTHY} with no {@code until}
 *       is the default and is not kept.
 *   <li>{@link StateChange.Cooldown}: a project and model keep the later {@code until}; a
 *       {@code cleared} cooldown removes it. A cooldown that ends before the one standing loses,
 *       and {@link #apply} returns the one standing.
 *   <li>{@link StateChange.KeyAdded} and {@link StateChange.KeyRemoved}: the last one stands; a
 *       removal also forgets the key's status and health.
 *   <li>{@link StateChange.Health} and {@link StateChange.Breaker}: the last one stands.
 * </ul>
 *
 * <p>Bounded by the pool: one entry per key, per (project, model) with a cooldown, per breaker.
 * Not thread-safe: a store guards it with its own lock.
 */
public final class StoreState {

  private final Map<String, StateChange.KeyStatus> statuses = new HashMap<>();
  private final Map<String, StateChange.Cooldown> cooldowns = new HashMap<>();
  private final Map<String, ApiKey> added = new LinkedHashMap<>();
  private final Set<String> removed = new HashSet<>();
  private final Map<String, Double> health = new HashMap<>();
  private final Map<String, StateChange.Breaker> breakers = new HashMap<>();

  /**
   * Merges a change and returns the state that stands for its subject afterwards: the change
   * itself, or the cooldown that outlasts it.
   */
  public StateChange apply(StateChange change) {
    Objects.requireNonNull(change, "change");
    if (change instanceof StateChange.KeyStatus s) {
      if (s.state() == KeyState.HEALTHY && s.until() == null) {
        statuses.remove(s.keyId());
      } else {
        statuses.put(s.keyId(), s);
      }
    } else if (change instanceof StateChange.Cooldown c) {
      String id = cooldownId(c.project(), c.model());
      if (c.cleared()) {
        cooldowns.remove(id);
      } else {
        StateChange.Cooldown standing = cooldowns.get(id);
        if (standing != null && standing.until().isAfter(c.until())) return standing;
        cooldowns.put(id, c);
      }
    } else if (change instanceof StateChange.Health h) {
      health.put(h.keyId(), h.score());
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
    return change;
  }

  /** The cooldown standing for a project and model, or {@code null}; it may have ended. */
  public StateChange.Cooldown cooldown(String project, String model) {
    return cooldowns.get(cooldownId(project, model));
  }

  /** The status kept for a key, or {@code null} when it is healthy with no history. */
  public StateChange.KeyStatus status(String keyId) {
    return statuses.get(keyId);
  }

  /** Everything held, without the cooldowns that ended by {@code now}, which it forgets. */
  public StoreSnapshot snapshot(Instant now) {
    cooldowns.values().removeIf(c -> !c.until().isAfter(now));
    return new StoreSnapshot(new ArrayList<>(added.values()), removed, statuses,
        List.copyOf(cooldowns.values()), health, breakers);
  }

  /** Forgets everything, as a store does when its backend lost its data. */
  public void clear() {
    statuses.clear();
    cooldowns.clear();
    added.clear();
    removed.clear();
    health.clear();
    breakers.clear();
  }

  private static String cooldownId(String project, String model) {
    return project + '\u0000' + model;
  }

  @Override
  public String toString() {
    return "StoreState{statuses=" + statuses.size() + ", cooldowns=" + cooldowns.size()
        + ", added=" + added.size() + ", removed=" + removed.size() + ", breakers="
        + breakers.size() + '}';
  }
}
