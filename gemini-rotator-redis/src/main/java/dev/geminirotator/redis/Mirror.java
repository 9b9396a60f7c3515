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
 * What this instance knows of the shared state: every change it applied, received or loaded. It
 * orders key statuses (a status older than the one known is not delivered again), and it is what
 * the store writes back when Redis comes back without its data. Bounded by the pool: one entry per
 * key, per (project, model) with a running cooldown, per breaker.
 *
 * <p>Not thread-safe by itself: callers synchronize on the instance.
 */
final class Mirror {

  /** A status and its version. */
  record VersionedStatus(StateChange.KeyStatus status, String version) {
  }

  private final Map<String, VersionedStatus> statuses = new HashMap<>();
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

  /** A load saw everything up to this generation; older messages are stale. */
  void raiseFloor(long generation) {
    if (generation <= floor) return;
    floor = generation;
    generations.values().removeIf(g -> g <= generation);
  }

  /**
   * Records a change. Returns false, recording nothing, for a status whose version is not newer
   * than the one known.
   */
  boolean record(StateChange change, String version, long now) {
    return record(change, version, now, null);
  }

  /** As {@link #record(StateChange, String, long)}, with the cooldown's slot when known. */
  boolean record(StateChange change, String version, long now, String cooldownSlot) {
    if (change instanceof StateChange.KeyStatus s) {
      VersionedStatus known = statuses.get(s.keyId());
      if (known != null && known.version.compareTo(version) >= 0) return false;
      statuses.put(s.keyId(), new VersionedStatus(s, version));
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
    return true;
  }

  VersionedStatus status(String keyId) {
    return statuses.get(keyId);
  }

  /** Everything worth writing back to a Redis that lost its data. */
  List<Write> writes(long now) {
    List<Write> writes = new ArrayList<>();
    removed.forEach(id -> writes.add(new Write.Removed(id)));
    added.values().forEach(k -> writes.add(new Write.Added(k)));
    statuses.values().forEach(s -> writes.add(new Write.Status(s.status(), s.version())));
    cooldowns.values().forEach(c -> {
      if (c.until().toEpochMilli() > now) writes.add(Write.of(c, null));
    });
    health.forEach((id, score) -> writes.add(new Write.Health(id, score)));
    breakers.values().forEach(b -> writes.add(new Write.Breaker(b)));
    return writes;
  }
}
