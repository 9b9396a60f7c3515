package dev.geminirotator.core.rotation;

import dev.geminirotator.api.RequestContext;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The shared quota of one Google Cloud project: its rate-limit cooldowns per model. Every key of
 * the project points here, so a 429 on one cools all of them for that model.
 *
 * <p>{@link #cooling} is on the hot path: it reads one volatile long and touches the map only while
 * some cooldown of the project is still running.
 *
 * <p>Each cooldown carries its reason. An ended cooldown leaves the map once, through
 * {@link #expire}, {@link #clear}, {@link #clearAll} or a later one that replaces it, and each of
 * those hands the ended cooldowns back, so the rotator can say once that it ended.
 */
final class ProjectState {

  /** A running cooldown: when it ends, epoch millis, and why, in words. */
  record Cooling(long until, String reason) {
  }

  /** What {@link #coolUntil} did: whether the cooldown moved later, and what it replaced. */
  record Cooled(boolean later, Cooling endedBefore) {
  }

  final String name;
  private final ConcurrentHashMap<String, Cooling> cooldowns = new ConcurrentHashMap<>();
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
  /**
   * Serialises this rotator's writes of the project's cooldowns to the store, each with the
   * adoption of the store's answer, so the last answer adopted is the last change the store took.
   */
  final Object storeLock = new Object();
  /**
   * Cooldowns of this project the store has handed this rotator, counted before each is applied
   * (see {@link #delivered}). Only compared, never summed.
   */
  private volatile int deliveries;

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
    Cooling forModel = cooldowns.get(model);
    if (forModel != null && forModel.until > now) result = forModel.until;
    if (!RequestContext.ANY_MODEL.equals(model)) {
      Cooling any = cooldowns.get(RequestContext.ANY_MODEL);
      if (any != null && any.until > now) result = Math.max(result, any.until);
    }
    return result;
  }

  /** The cooldown recorded for exactly this model, running or ended, or null. */
  Cooling cooldown(String model) {
    return cooldowns.get(model);
  }

  /**
   * Extends the cooldown for a model to {@code until} with this reason; a cooldown that already
   * ends later stays as it is, reason and all.
   */
  Cooled coolUntil(String model, long until, String reason, long now) {
    Cooling next = new Cooling(until, reason);
    boolean changed;
    Cooling ended = null;
    for (;;) {
      Cooling old = cooldowns.putIfAbsent(model, next);
      if (old == null) {
        changed = true;
        break;
      }
      if (old.until >= until) {
        changed = false;
        break;
      }
      if (cooldowns.replace(model, old, next)) {
        changed = true;
        if (old.until <= now) ended = old;
        break;
      }
    }
    synchronized (this) {
      if (until > latestUntil) latestUntil = until;
      for (KeySlot member : members) member.raiseCooldownHint(until);
    }
    return new Cooled(changed, ended);
  }

  /** Ends the cooldown for a model; returns it if it was still running, else null. */
  Cooling clear(String model, long now) {
    Cooling removed = cooldowns.remove(model);
    streaks.remove(model);
    recomputeLatest();
    return removed != null && removed.until > now ? removed : null;
  }

  /**
   * Ends every cooldown; returns those that were still running, by model, each removed by this
   * call (a cooldown set meanwhile by another thread is either removed and returned, or kept).
   */
  Map<String, Cooling> clearAll(long now) {
    Map<String, Cooling> running = new LinkedHashMap<>();
    for (String model : new ArrayList<>(cooldowns.keySet())) {
      Cooling removed = cooldowns.remove(model);
      if (removed != null && removed.until > now) running.put(model, removed);
    }
    streaks.clear();
    recomputeLatest();
    return running;
  }

  /**
   * Removes the cooldowns that have ended by {@code now} and returns them, by model, each to
   * exactly one caller.
   */
  List<Map.Entry<String, Cooling>> expire(long now) {
    List<Map.Entry<String, Cooling>> ended = null;
    for (Map.Entry<String, Cooling> e : cooldowns.entrySet()) {
      Cooling c = e.getValue();
      if (c.until <= now && cooldowns.remove(e.getKey(), c)) {
        if (ended == null) ended = new ArrayList<>(2);
        ended.add(Map.entry(e.getKey(), c));
      }
    }
    return ended == null ? List.of() : ended;
  }

  /** Running cooldowns by model; call {@link #expire} first to drop the ended ones. */
  Map<String, Cooling> active(long now) {
    Map<String, Cooling> result = new LinkedHashMap<>();
    cooldowns.forEach((model, c) -> {
      if (c.until > now) result.put(model, c);
    });
    return result;
  }

  /** Counts a cooldown of this project handed over by the store, before it is applied. */
  synchronized void delivered() {
    deliveries++;
  }

  /** How many cooldowns the store has handed over (see {@link #delivered}): only to compare. */
  int deliveries() {
    return deliveries;
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
    for (Cooling c : cooldowns.values()) max = Math.max(max, c.until);
    latestUntil = max;
    for (KeySlot member : members) member.setCooldownHint(max);
  }

  /** Installs the members; new ones learn the cooldowns already running. */
  synchronized void setMembers(KeySlot[] slots) {
    for (KeySlot slot : slots) slot.raiseCooldownHint(latestUntil);
    members = slots;
  }
}
