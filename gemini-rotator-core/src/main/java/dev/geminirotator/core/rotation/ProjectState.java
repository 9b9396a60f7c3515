package dev.geminirotator.core.rotation;

import dev.geminirotator.api.RequestContext;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The shared quota of one Google Cloud project: its rate-limit cooldowns per model. Every key of
 * the project points here, so a 429 on one cools all of them for that model.
 *
 * <p>{@link #cooling} is on the hot path: it reads one volatile long and touches the map only while
 * some cooldown of the project is still running.
 */
final class ProjectState {

  final String name;
  private final ConcurrentHashMap<String, Long> cooldowns = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, Integer> streaks = new ConcurrentHashMap<>();
  /**
   * Whether {@link #streaks} may hold an entry: set before one is added, so that a success (most
   * attempts) reads one field of this object instead of the map, whose table is likely out of
   * cache with many keys. A reset racing with a concurrent first 429 may miss it, as before.
   */
  private volatile boolean mayHaveStreaks;
  /** The latest end of any cooldown, or 0; copied into each member's cooldown hint. */
  private long latestUntil; // guarded by this
  volatile KeySlot[] members = new KeySlot[0];

  ProjectState(String name) {
    this.name = name;
  }

  /**
   * Whether this member of the project may not serve the model now. Reads only the member's hint
   * while no cooldown runs, and clears an expired hint so later requests need no clock at all.
   */
  boolean cooling(KeySlot member, String model, long now) {
    long hint = member.cooldownHint();
    if (hint == 0) {
      return false;
    }
    if (hint <= now) {
      member.clearCooldownHint(hint);
      return false;
    }
    return until(model, now) > now;
  }

  /** The end of the cooldown that blocks this model now, or 0 when none does. */
  long until(String model, long now) {
    long result = 0;
    Long forModel = cooldowns.get(model);
    if (forModel != null && forModel > now) result = forModel;
    if (!RequestContext.ANY_MODEL.equals(model)) {
      Long any = cooldowns.get(RequestContext.ANY_MODEL);
      if (any != null && any > now) result = Math.max(result, any);
    }
    return result;
  }

  /** Extends the cooldown for a model to {@code until}; returns whether it moved later. */
  boolean coolUntil(String model, long until) {
    boolean changed;
    for (;;) {
      Long old = cooldowns.putIfAbsent(model, until);
      if (old == null) {
        changed = true;
        break;
      }
      if (old >= until) {
        changed = false;
        break;
      }
      if (cooldowns.replace(model, old, until)) {
        changed = true;
        break;
      }
    }
    synchronized (this) {
      if (until > latestUntil) latestUntil = until;
      for (KeySlot member : members) member.raiseCooldownHint(until);
    }
    return changed;
  }

  /** Ends the cooldown for a model; returns whether one was running. */
  boolean clear(String model, long now) {
    Long removed = cooldowns.remove(model);
    streaks.remove(model);
    recomputeLatest();
    return removed != null && removed > now;
  }

  /**
   * Clears every cooldown; returns the models whose cooldown was still running, each removed by
   * this call (a cooldown set meanwhile by another thread is either removed and listed, or kept).
   */
  java.util.Set<String> clearAll(long now) {
    java.util.Set<String> cleared = new java.util.HashSet<>();
    for (String model : cooldowns.keySet()) {
      Long until = cooldowns.remove(model);
      if (until != null && until > now) cleared.add(model);
    }
    streaks.clear();
    recomputeLatest();
    return cleared;
  }

  /** Running cooldowns, model to end in epoch millis. Expired entries are dropped. */
  Map<String, Long> active(long now) {
    cooldowns.values().removeIf(until -> until <= now);
    return Map.copyOf(cooldowns);
  }

  /** Consecutive 429s without a retry delay for this model, then counts this one. */
  int nextStreak(String model) {
    mayHaveStreaks = true;
    return streaks.merge(model, 1, Integer::sum) - 1;
  }

  void resetStreak(String model) {
    // After a success there is usually nothing to remove. get() first: unlike isEmpty() it does
    // not sum the map's contended size cells, and unlike remove() it never locks.
    if (mayHaveStreaks && streaks.get(model) != null) streaks.remove(model);
  }

  private synchronized void recomputeLatest() {
    long max = 0;
    for (Long v : cooldowns.values()) max = Math.max(max, v);
    latestUntil = max;
    for (KeySlot member : members) member.setCooldownHint(max);
  }

  /** Installs the members; new ones learn the cooldowns already running. */
  synchronized void setMembers(KeySlot[] slots) {
    for (KeySlot slot : slots) slot.raiseCooldownHint(latestUntil);
    members = slots;
  }
}
