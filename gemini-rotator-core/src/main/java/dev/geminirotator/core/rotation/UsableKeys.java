package dev.geminirotator.core.rotation;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The keys of one pool that could serve one model when it was built: the list a strategy draws
 * from at random once its own pick and a few random draws over the whole pool have all landed on
 * keys that cannot serve (see {@code GeminiKeyRotator#pickFairly}). Drawing from it costs O(1)
 * however few keys can serve; building it costs one pass over the pool, paid once per
 * {@link #MAX_AGE_MILLIS} at most while it stays valid.
 *
 * <p>It goes stale in two ways, and both are handled. A key in it that stopped serving is simply
 * refused when drawn (the caller claims every key it draws), and the caller draws again or
 * rebuilds. A key not in it that can serve again would be left out of these draws, so the list is
 * valid only until the earliest moment a left-out key is known to come back (a cooldown, an
 * unhealthy key's wait, a spent quota's window), for {@link #MAX_AGE_MILLIS} at most, and only
 * while the pool and the rotator's state epoch (bumped at every state transition) are the ones it
 * was built from.
 *
 * <p>Thread-safe: immutable once built but for its turn counter (atomic); rotators publish it
 * through a volatile reference, and two threads that rebuild it at once only duplicate work.
 */
final class UsableKeys {

  /** The longest a list is used, whatever else: a bound on anything its validity misses. */
  static final long MAX_AGE_MILLIS = 250;

  final Pool pool;
  final String model;
  final int epoch;
  /** Epoch millis from which the list is stale. */
  final long validUntil;
  /** The keys that could serve, drawn from uniformly or by weight. */
  final Pool usable;
  /** This list's own turn counter, for reading it in order (see {@link #turn()}). */
  private final AtomicInteger turns = new AtomicInteger();

  private UsableKeys(Pool pool, String model, int epoch, long validUntil, Pool usable) {
    this.pool = pool;
    this.model = model;
    this.epoch = epoch;
    this.validUntil = validUntil;
    this.usable = usable;
  }

  /** Lists the keys of {@code pool} that could serve {@code model} at {@code now}. */
  static UsableKeys build(Pool pool, String model, int epoch, long now) {
    KeySlot[] slots = pool.slots;
    KeySlot[] found = new KeySlot[slots.length];
    int count = 0;
    long until = now + MAX_AGE_MILLIS;
    for (KeySlot slot : slots) {
      long free = freeAt(slot, model, now);
      if (free <= now) {
        found[count++] = slot;
      } else if (free < until) {
        until = free;
      }
    }
    return new UsableKeys(pool, model, epoch, until,
        Pool.drawOnly(count == found.length ? found : Arrays.copyOf(found, count)));
  }

  /** The next turn on this list: requests that fall back to it take its keys in turn. */
  int turn() {
    return turns.getAndIncrement();
  }

  /** Whether this list may still serve draws for this pool, model and state epoch. */
  boolean validFor(Pool pool, String model, int epoch, long now) {
    return this.pool == pool && this.epoch == epoch && now < validUntil
        && this.model.equals(model);
  }

  /**
   * When the key could next serve the model: {@code now} or earlier when it can now, a later
   * time when that is known, {@link Long#MAX_VALUE} when only an event can bring it back (invalid,
   * disabled, a trial under way).
   */
  private static long freeAt(KeySlot slot, String model, long now) {
    if (slot.disabled) return Long.MAX_VALUE;
    long free = now;
    switch (slot.status) {
      case KeySlot.HEALTHY -> { }
      case KeySlot.UNHEALTHY -> free = slot.statusUntil;
      case KeySlot.PROBING -> {
        if (!slot.trialLost(now)) return Long.MAX_VALUE;
      }
      default -> {
        return Long.MAX_VALUE;
      }
    }
    if (slot.project.cooling(slot, model, now)) {
      free = Math.max(free, slot.project.until(model, now));
    }
    if (slot.quota != null && slot.quota.spent()) {
      free = Math.max(free, now + Math.max(1, slot.quota.nanosToWait() / 1_000_000));
    }
    return free;
  }
}
