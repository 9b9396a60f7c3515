package dev.geminirotator.core.rotation;

import dev.geminirotator.api.RequestContext;
import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A list of the keys of one pool that could serve when it was built: the list a strategy draws
 * from once its own pick and a few random draws over the whole pool have all landed on keys that
 * cannot serve (see {@code Selection#pickFairly}). Drawing from it costs O(1) however few
 * keys can serve. {@link FallbackLists} keeps them.
 *
 * <p>Two kinds. The shared list ({@link #model} null) holds the keys that could serve any model:
 * enabled, in a usable status, quota not spent, project not cooling for every model. Whether a
 * listed key's project cools for the request's model is checked when it is drawn, so one list
 * serves every model, including names a client invents. A model with a running cooldown of its own
 * (only an upstream 429 starts one) may get a list filtered from the shared one, so that draws for
 * it do not keep landing on its cooling keys.
 *
 * <p>It goes stale in two ways, and both are handled. A listed key that stopped serving is simply
 * refused when drawn (the caller claims every key it draws). A key not listed that can serve again
 * would be left out of the draws, so a list is valid only until the earliest moment a left-out key
 * is known to come back (an unhealthy key's wait, a spent quota's window, a cooldown), for
 * {@link #MAX_AGE_MILLIS} at most, and only while the pool and the state epoch (bumped when a key
 * may serve again sooner than a list knew) are the ones it was built from.
 *
 * <p>Thread-safe: immutable once built but for its turn counter (atomic).
 */
final class UsableKeys {

  /** The longest a list is used, whatever else: a bound on anything its validity misses. */
  static final long MAX_AGE_MILLIS = 250;

  final Pool pool;
  final int epoch;
  /** Null for the shared list; else the model whose cooling keys were left out. */
  final String model;
  /** For a model's list, the shared list it was filtered from; null for the shared list. */
  final UsableKeys base;
  /** Epoch millis from which the list is stale. */
  final long validUntil;
  /** The keys that could serve, drawn from uniformly or by weight. */
  final Pool usable;
  /** This list's own turn counter, for reading it in order (see {@link #turn()}). */
  private final AtomicInteger turns = new AtomicInteger();

  private UsableKeys(Pool pool, int epoch, String model, UsableKeys base, long validUntil,
      Pool usable) {
    this.pool = pool;
    this.epoch = epoch;
    this.model = model;
    this.base = base;
    this.validUntil = validUntil;
    this.usable = usable;
  }

  /** Lists the keys of {@code pool} that could serve any model at {@code now}: one pass. */
  static UsableKeys build(Pool pool, int epoch, long now) {
    KeySlot[] found = new KeySlot[Math.min(pool.slots.length, 1_024)];
    int count = 0;
    long until = now + MAX_AGE_MILLIS;
    for (KeySlot slot : pool.slots) {
      long free = freeAt(slot, now);
      if (free <= now) {
        // grown as needed: the array is as long as the keys that can serve, not the pool
        if (count == found.length) found = Arrays.copyOf(found, count * 2);
        found[count++] = slot;
      } else if (free < until) {
        until = free;
      }
    }
    return new UsableKeys(pool, epoch, null, null, until, Pool.drawOnly(trim(found, count)));
  }

  /**
   * Lists the keys of the shared list {@code base} whose project does not cool for
   * {@code model}: one pass over that list, not over the pool.
   */
  static UsableKeys forModel(UsableKeys base, String model, long now) {
    KeySlot[] listed = base.usable.slots;
    KeySlot[] found = new KeySlot[listed.length];
    int count = 0;
    long until = base.validUntil;
    for (KeySlot slot : listed) {
      if (!slot.project.cooling(slot, model, now)) {
        found[count++] = slot;
      } else {
        until = Math.min(until, slot.project.until(model, now));
      }
    }
    return new UsableKeys(base.pool, base.epoch, model, base, until,
        Pool.drawOnly(trim(found, count)));
  }

  private static KeySlot[] trim(KeySlot[] found, int count) {
    return count == found.length ? found : Arrays.copyOf(found, count);
  }

  /** The next turn on this list: requests that fall back to it take its keys in turn. */
  int turn() {
    return turns.getAndIncrement();
  }

  /** Whether this shared list may still serve draws for this pool and state epoch. */
  boolean validFor(Pool pool, int epoch, long now) {
    return this.pool == pool && this.epoch == epoch && now < validUntil;
  }

  /** Whether this model's list, filtered from {@code base}, may still serve draws. */
  boolean validOn(UsableKeys base, long now) {
    return this.base == base && now < validUntil;
  }

  /** Whether the key could serve some model now, as far as a shared list cares. */
  static boolean servesAnyModel(KeySlot slot, long now) {
    return freeAt(slot, now) <= now;
  }

  /**
   * When the key could next serve any model: {@code now} or earlier when it can now, a later time
   * when that is known, {@link Long#MAX_VALUE} when only an event can bring it back (invalid,
   * disabled).
   */
  private static long freeAt(KeySlot slot, long now) {
    long free = slot.statusFreeAt();
    if (free == Long.MAX_VALUE) return free;
    if (slot.project.cooling(slot, RequestContext.ANY_MODEL, now)) {
      free = Math.max(free, slot.project.until(RequestContext.ANY_MODEL, now));
    }
    if (slot.quota != null && slot.quota.spent()) {
      free = Math.max(free, now + Math.max(1, slot.quota.nanosToWait() / 1_000_000));
    }
    return free;
  }
}
