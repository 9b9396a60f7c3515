package dev.geminirotator.redis;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.spi.StateChange;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What this instance knows of the shared state: every change it applied, received or loaded, and
 * the generation (Redis's own sequence, see {@link Scripts}) of what it last saw of each piece of
 * state. Messages older than that are not delivered again, and each write that may undo another
 * instance's (a status, the clear of a cooldown) carries it as its base: Redis refuses the write
 * when another instance wrote that state after it. It is also what the store writes back when
 * Redis comes back without its data. Bounded by the pool: one entry per key, per (project, model)
 * with a running cooldown, per breaker.
 *
 * <p>Not thread-safe by itself: callers synchronize on the instance.
 */
final class Mirror {

  private final Map<String, StateChange.KeyStatus> statuses = new HashMap<>();
  private final Map<String, StateChange.Cooldown> cooldowns = new HashMap<>();
  private final Map<String, ApiKey> added = new HashMap<>();
  private final Set<String> removed = new HashSet<>();
  private final Map<String, Double> health = new HashMap<>();
  private final Map<String, StateChange.Breaker> breakers = new HashMap<>();
  private final Map<String, Long> generations = new HashMap<>();
  private long floor;
  private long prunedAt;

  /**
   * Whether a change Redis numbered {@code generation} is newer than what is known of its slot
   * (and newer than the last load); if so it becomes the known one.
   */
  boolean advance(String slot, long generation) {
    Long known = generations.get(slot);
    if (generation <= floor || (known != null && generation <= known)) return false;
    generations.put(slot, generation);
    return true;
  }

  /**
   * The newest generation of a slot this instance has seen: its own acknowledged writes, messages
   * and loads. What a write that may undo another instance's is based on.
   */
  long known(String slot) {
    Long known = generations.get(slot);
    return known == null ? floor : Math.max(floor, known);
  }

  /** The generation of a slot seen in a message or write since the last load, or 0. */
  long seenSinceLoad(String slot) {
    Long known = generations.get(slot);
    return known == null ? 0 : known;
  }

  /** A load saw everything up to this generation; older messages are stale. */
  void raiseFloor(long generation) {
    if (generation <= floor) return;
    floor = generation;
    generations.values().removeIf(g -> g <= generation);
  }

  /** Records a change as the newest known of its state. */
  void record(StateChange change, long now) {
    record(change, now, null);
  }

  /** As {@link #record(StateChange, long)}, with the cooldown's slot when known. */
  void record(StateChange change, long now, String cooldownSlot) {
    if (change instanceof StateChange.KeyStatus s) {
      statuses.put(s.keyId(), s);
    } else if (change instanceof StateChange.Cooldown c) {
      String slot = cooldownSlot != null ? cooldownSlot
          : Write.Cooldown.slotOf(c.project(), c.model());
      if (c.cleared()) {
        cooldowns.remove(slot);
      } else {
        cooldowns.merge(slot, c, (old, fresh) -> fresh.until().isAfter(old.until()) ? fresh : old);
      }
      if (now - prunedAt >= 1_000) {
        prunedAt = now;
        cooldowns.values().removeIf(x -> x.until().toEpochMilli() <= now);
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
  }

  /** The cooldown known for a slot ({@link Write.Cooldown#slotOf}), or null. */
  StateChange.Cooldown cooldown(String slot) {
    return cooldowns.get(slot);
  }

  StateChange.KeyStatus status(String keyId) {
    return statuses.get(keyId);
  }

  /** Everything worth writing back to a Redis that lost its data. */
  List<Write> writes(long now) {
    List<Write> writes = new ArrayList<>();
    removed.forEach(id -> writes.add(new Write.Removed(id)));
    added.values().forEach(k -> writes.add(new Write.Added(k)));
    statuses.values().forEach(s -> writes.add(
        new Write.Status(s, known(Write.Status.slotOf(s.keyId())))));
    cooldowns.values().forEach(c -> {
      if (c.until().toEpochMilli() > now) writes.add(Write.of(c));
    });
    health.forEach((id, score) -> writes.add(new Write.Health(id, score)));
    breakers.values().forEach(b -> writes.add(new Write.Breaker(b)));
    return writes;
  }
}
