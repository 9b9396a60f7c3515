package dev.geminirotator.redis;

import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.api.spi.StoreState;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * What this instance knows of the shared state, and what its listeners were handed: every change
 * it applied, received or loaded, merged by the one set of rules every store uses
 * ({@link StoreState}), and the generation (Redis's own sequence, see {@link Scripts}) of what it
 * last saw of each piece of state. The generations are the Redis part: messages older than what is
 * known are not delivered again, and each write that may undo another instance's (a status, the
 * clear of a cooldown) carries the known generation as its base, so Redis refuses the write when
 * another instance wrote that state after it. It is also what the store writes back when Redis
 * comes back without its data. Bounded by the pool: one entry per key, per (project, model) with a
 * cooldown, per breaker.
 *
 * <p>Not thread-safe by itself: callers synchronize on the instance.
 */
final class Mirror {

  private final StoreState state = new StoreState();
  private final Map<String, Long> generations = new HashMap<>();
  private long floor;

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

  /**
   * Merges a change into what is known ({@link StoreState#apply}) and returns what stands for its
   * subject: the change, or the later cooldown already known.
   */
  StateChange record(StateChange change) {
    return state.apply(change);
  }

  /** The cooldown known for a project and model, or null; it may have ended. */
  StateChange.Cooldown cooldown(String project, String model) {
    return state.cooldown(project, model);
  }

  /** The status known for a key, or null when it is healthy with no deadline. */
  StateChange.KeyStatus status(String keyId) {
    return state.status(keyId);
  }

  /** Everything worth writing back to a Redis that lost its data. */
  List<Write> writes(long now) {
    StoreSnapshot known = state.snapshot(Instant.ofEpochMilli(now));
    List<Write> writes = new ArrayList<>();
    known.removedKeyIds().forEach(id -> writes.add(new Write.Removed(id)));
    known.addedKeys().forEach(k -> writes.add(new Write.Added(k)));
    known.statuses().values().forEach(s -> writes.add(
        new Write.Status(s, known(Write.Status.slotOf(s.keyId())))));
    known.cooldowns().forEach(c -> writes.add(Write.of(c)));
    known.health().forEach((id, score) -> writes.add(new Write.Health(id, score)));
    known.breakers().values().forEach(b -> writes.add(new Write.Breaker(b)));
    return writes;
  }
}
