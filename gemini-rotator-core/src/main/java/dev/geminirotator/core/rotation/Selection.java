package dev.geminirotator.core.rotation;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.RequestContext;
import java.time.Clock;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Which key serves a request: the strategies ({@link Strategy}), the draws over the pool and over
 * the {@link FallbackLists} when most keys cannot serve, the constraint of a request limited to
 * one project or key, and what a request that found none is told ({@link NoKeyAvailableException}).
 * Part of {@link GeminiKeyRotator}, which hands it the pool to pick from.
 *
 * <p>Thread-safe and lock-free: it reads an immutable {@link Pool} and per-key volatile state, and
 * takes a key by the key's own atomic claims (its quota permit, its trial). It changes no state of
 * a key other than those claims; what a lease learns goes back through {@link GeminiKeyRotator}.
 */
final class Selection {

  private static final long GOLDEN = 0x9E3779B97F4A7C15L;
  private static final long TRIAL_IN_PROGRESS_MILLIS = 1_000;
  private static final long UNKNOWN_TIME = Long.MIN_VALUE;
  private static final int PREFETCH_MIN_KEYS = 4_096;
  private static final int PREFETCH_DISTANCE = 4;
  /** Random draws over the whole pool before {@link #pickFairly} turns to {@link UsableKeys}. */
  private static final int POOL_DRAWS = 8;
  /** Random draws from a {@link UsableKeys} list before it is rebuilt or given up. */
  private static final int LIST_DRAWS = 16;
  private static final int NO = 0;
  private static final int YES = 1;
  private static final int TRIAL = 2;

  private final GeminiKeyRotator rotator;
  private final Strategy strategy;
  private final Clock clock;
  /**
   * The lists {@link #pickFairly} draws from when most keys cannot serve: one shared by every
   * model, and a few for models with a cooldown of their own. Told when a key may serve again.
   */
  private final FallbackLists fallback;
  /** The projects by name, for requests limited to one project's keys. */
  private final Map<String, ProjectState> projects;
  private final AtomicInteger cursor = new AtomicInteger();
  /** Power-of-two in large pools: each thread's next pair of candidates, drawn in advance. */
  private final ThreadLocal<int[]> nextPair = ThreadLocal.withInitial(() -> new int[2]);
  private final LongAdder trials = new LongAdder();

  Selection(GeminiKeyRotator rotator, Strategy strategy, Clock clock, FallbackLists fallback,
      Map<String, ProjectState> projects) {
    this.rotator = rotator;
    this.strategy = strategy;
    this.clock = clock;
    this.fallback = fallback;
    this.projects = projects;
  }

  /** A lease on a key that can serve the request now, or null when none can; pool not empty. */
  Lease pick(Pool p, RequestContext context, String model) {
    long now = UNKNOWN_TIME; // read the clock only when a key's state needs it
    return context.constrained() && narrowed(context) ? pickWithin(p, context, model)
        : switch (strategy) {
          case ROUND_ROBIN -> pickRoundRobin(p, context, model, now);
          case WEIGHTED -> pickWeighted(p, context, model, now);
          case POWER_OF_TWO -> pickTwoChoices(p, context, model, now);
        };
  }

  /** Trial requests handed out so far. */
  long trials() {
    return trials.sum();
  }

  /** Whether the request may go to one project's keys or one key only (see {@link #pickWithin}). */
  private static boolean narrowed(RequestContext ctx) {
    return ctx.project() != null || ctx.onlyKeyId() != null;
  }

  /**
   * A key of the one project (or the one key) the request is limited to: the request names a
   * resource only that project holds. Looks only at those keys, in turn from a moving start, so
   * the project's keys share its pinned requests; the strategy's weights are not applied within
   * the project. O(keys of the project).
   */
  private Lease pickWithin(Pool p, RequestContext ctx, String model) {
    KeySlot[] candidates;
    if (ctx.onlyKeyId() != null) {
      KeySlot only = p.byId.get(ctx.onlyKeyId());
      candidates = only == null ? new KeySlot[0] : new KeySlot[] {only};
    } else {
      ProjectState project = projects.get(ctx.project());
      candidates = project == null ? new KeySlot[0] : project.members;
    }
    int n = candidates.length;
    if (n == 0) return null;
    long now = clock.millis();
    int index = (cursor.getAndIncrement() & Integer.MAX_VALUE) % n;
    for (int i = 0; i < n; i++) {
      KeySlot slot = candidates[index];
      // A member may have left the pool since the project's list was read.
      if (p.byId.get(slot.id) == slot) {
        int claim = claim(slot, ctx, model, now);
        if (claim != NO) return lease(slot, model, claim);
      }
      if (++index == n) index = 0;
    }
    return null;
  }

  private Lease pickRoundRobin(Pool p, RequestContext ctx, String model, long now) {
    KeySlot[] slots = p.slots;
    int n = slots.length;
    int index = (cursor.getAndIncrement() & Integer.MAX_VALUE) % n;
    if (n >= PREFETCH_MIN_KEYS) {
      // Large pools outgrow the caches: load the slot a request a few turns ahead will take, so
      // its cache miss overlaps this request's work instead of stalling that one.
      int ahead = index + PREFETCH_DISTANCE;
      slots[ahead < n ? ahead : ahead - n].touch();
    }
    KeySlot slot = slots[index];
    if (now == UNKNOWN_TIME && needsTime(slot)) now = clock.millis();
    int claim = claim(slot, ctx, model, now);
    if (claim != NO) return lease(slot, model, claim);
    return pickFairly(p, ctx, model);
  }

  private Lease pickWeighted(Pool p, RequestContext ctx, String model, long now) {
    KeySlot[] cycle = p.schedule;
    KeySlot slot;
    if (cycle != null) {
      // The spelled-out cycle, read like round-robin (see Pool.schedule).
      int len = cycle.length;
      int index = (cursor.getAndIncrement() & Integer.MAX_VALUE) % len;
      if (len >= PREFETCH_MIN_KEYS) {
        int ahead = index + PREFETCH_DISTANCE;
        cycle[ahead < len ? ahead : ahead - len].touch();
      }
      slot = cycle[index];
    } else {
      int turn = cursor.getAndIncrement() & Integer.MAX_VALUE;
      if (p.size() >= PREFETCH_MIN_KEYS) {
        // As for round-robin, in two independent steps: the alias entry of a turn far ahead,
        // and the slot of a nearer turn, whose alias entry an earlier request already warmed.
        p.touchAliasEntry((long) (turn + 2 * PREFETCH_DISTANCE) * GOLDEN);
        p.slots[p.weightedIndex((long) (turn + PREFETCH_DISTANCE) * GOLDEN)].touch();
      }
      slot = p.slots[p.weightedIndex((long) turn * GOLDEN)];
    }
    if (now == UNKNOWN_TIME && needsTime(slot)) now = clock.millis();
    int claim = claim(slot, ctx, model, now);
    if (claim != NO) return lease(slot, model, claim);
    return pickFairly(p, ctx, model);
  }

  private Lease pickTwoChoices(Pool p, RequestContext ctx, String model, long now) {
    KeySlot[] slots = p.slots;
    int n = slots.length;
    ThreadLocalRandom random = ThreadLocalRandom.current();
    KeySlot a;
    KeySlot b;
    if (n >= PREFETCH_MIN_KEYS) {
      // Large pools: this thread's candidates were drawn (and their slots loaded) one request
      // ago, so their cache misses overlapped that request; draw and warm the next pair now.
      int[] drawn = nextPair.get();
      if (drawn[0] >= n || drawn[1] >= n) {
        drawn[0] = random.nextInt(n);
        drawn[1] = random.nextInt(n);
      }
      a = slots[drawn[0]];
      b = slots[drawn[1]];
      drawn[0] = random.nextInt(n);
      drawn[1] = random.nextInt(n);
      slots[drawn[0]].touch();
      slots[drawn[1]].touch();
    } else {
      a = slots[random.nextInt(n)];
      b = n == 1 ? a : slots[random.nextInt(n)];
    }
    if (now == UNKNOWN_TIME && (needsTime(a) || needsTime(b))) now = clock.millis();
    Lease lease = claimBetter(a, b, ctx, model, now);
    return lease != null ? lease : pickFairly(p, ctx, model);
  }

  /** Power-of-two: claims the better of two candidates that can serve, else the other one. */
  private Lease claimBetter(KeySlot a, KeySlot b, RequestContext ctx, String model, long now) {
    boolean aUsable = usable(a, ctx, model, now);
    boolean bUsable = b != a && usable(b, ctx, model, now);
    KeySlot first;
    KeySlot second;
    if (aUsable && bUsable) {
      boolean aBetter = score(a) >= score(b);
      first = aBetter ? a : b;
      second = aBetter ? b : a;
    } else if (aUsable || bUsable) {
      first = aUsable ? a : b;
      second = null;
    } else {
      return null;
    }
    int claim = claim(first, ctx, model, now);
    if (claim != NO) return lease(first, model, claim);
    if (second != null && (claim = claim(second, ctx, model, now)) != NO) {
      return lease(second, model, claim);
    }
    return null;
  }

  private static double score(KeySlot slot) {
    return slot.health() / (1 + slot.inFlight());
  }

  /**
   * Where every strategy goes when its own pick cannot serve this request.
   *
   * <p>Why not the next key along: skipping forward from an unusable key to the next usable one
   * hands that key the turns of the whole run of unusable keys before it (a pool of 28 keys with
   * 20 invalid in a row gave the key after the run 75% of the traffic instead of 12.5%). Instead,
   * a replacement is drawn at random among all keys, uniformly (by weight under
   * {@link Strategy#WEIGHTED}, as two candidates under {@link Strategy#POWER_OF_TWO}), and drawn
   * again while it cannot serve. A key that can serve then gets the turns of the keys that cannot
   * in proportion to its own share, so every usable key's share is its share among the usable
   * keys, whichever keys are out. It stays O(1) and lock-free:
   *
   * <ol>
   *   <li>a few independent draws over the whole pool: cheap while most keys can serve;
   *   <li>when those miss (most keys cannot serve), draws from {@link UsableKeys}, a cached list
   *       of the keys that can serve ({@link FallbackLists}: one for every model, a few for models
   *       cooling on their own), so a mostly unusable pool costs O(1) per request too, plus one
   *       pass over the pool per list built: when a key may serve again, every 250 ms at most,
   *       never per model name a client sends;
   *   <li>only when even those are all refused (a request that already tried most of the listed
   *       keys, a state changing under the draws): one pass over the pool that draws among every
   *       key that can serve this request ({@link #drawExhaustively}).
   * </ol>
   */
  private Lease pickFairly(Pool p, RequestContext ctx, String model) {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long now = clock.millis();
    UsableKeys listed = fallback.cached(p, model, now);
    if (listed == null) {
      for (int i = 0; i < POOL_DRAWS; i++) {
        Lease lease = claimDrawn(p, random, ctx, model, now);
        if (lease != null) return lease;
      }
      listed = fallback.obtain(p, model, now);
      // Only while another caller builds the first list of a new pool: the last resort.
      if (listed == null) return drawExhaustively(p, random, ctx, model, now);
    }
    for (boolean refreshed = false; ; refreshed = true) {
      if (listed.usable.size() == 0) {
        // No key can serve the model: none can serve this request either (no pass over the pool).
        if (fallback.valid(listed, p, now)) return null;
        break;
      }
      Lease lease = claimListTurn(listed, random, ctx, model, now);
      if (lease != null) return lease;
      for (int i = 1; i < LIST_DRAWS; i++) {
        lease = claimDrawn(listed.usable, random, ctx, model, now);
        if (lease != null) return lease;
      }
      if (refreshed) break;
      // Every draw was refused: rebuilt (by one caller) only if keys stopped serving since it
      // was built, not when the refusals were this request's own.
      listed = fallback.refreshIfStale(p, listed, model, now);
      if (listed == null) break;
    }
    return drawExhaustively(p, random, ctx, model, now);
  }

  /**
   * The first pick from a {@link UsableKeys} list: the list's own turn (in order, or along the
   * golden-ratio sequence by weight), with the slot a few turns ahead loaded early as the main
   * cursor does, so a mostly unusable large pool is still read in order rather than at random.
   * Power-of-two draws at random as usual. Picks after a refusal are random draws, so a refused
   * turn is spread over the list whatever the refusal's cause (requests with different keys
   * already tried refuse different keys), never handed to one neighbour.
   */
  private Lease claimListTurn(UsableKeys listed, ThreadLocalRandom random, RequestContext ctx,
      String model, long now) {
    Pool from = listed.usable;
    KeySlot[] slots = from.slots;
    int m = slots.length;
    KeySlot slot;
    switch (strategy) {
      case ROUND_ROBIN -> {
        int index = (listed.turn() & Integer.MAX_VALUE) % m;
        if (m >= PREFETCH_MIN_KEYS) {
          int ahead = index + PREFETCH_DISTANCE;
          slots[ahead < m ? ahead : ahead - m].touch();
        }
        slot = slots[index];
      }
      case WEIGHTED -> {
        int turn = listed.turn() & Integer.MAX_VALUE;
        if (m >= PREFETCH_MIN_KEYS) {
          from.touchAliasEntry((long) (turn + 2 * PREFETCH_DISTANCE) * GOLDEN);
          slots[from.weightedIndex((long) (turn + PREFETCH_DISTANCE) * GOLDEN)].touch();
        }
        slot = slots[from.weightedIndex((long) turn * GOLDEN)];
      }
      default -> {
        return claimDrawn(from, random, ctx, model, now);
      }
    }
    return claimOne(slot, ctx, model, now);
  }

  /** Draws one candidate (two under power-of-two) from {@code from} and claims it if it can. */
  private Lease claimDrawn(Pool from, ThreadLocalRandom random, RequestContext ctx, String model,
      long now) {
    KeySlot[] slots = from.slots;
    return switch (strategy) {
      case ROUND_ROBIN -> claimOne(slots[random.nextInt(slots.length)], ctx, model, now);
      case WEIGHTED -> claimOne(from.drawByWeight(random), ctx, model, now);
      case POWER_OF_TWO -> claimBetter(slots[random.nextInt(slots.length)],
          slots[random.nextInt(slots.length)], ctx, model, now);
    };
  }

  private Lease claimOne(KeySlot slot, RequestContext ctx, String model, long now) {
    int claim = claim(slot, ctx, model, now);
    return claim == NO ? null : lease(slot, model, claim);
  }

  /**
   * One pass over the pool choosing at random, in proportion to share, among the keys that can
   * serve this request (weighted reservoir sampling), then claiming it; falls back to the first
   * key that claims only if the chosen one was taken meanwhile. O(n): the last resort.
   */
  private Lease drawExhaustively(Pool p, ThreadLocalRandom random, RequestContext ctx,
      String model, long now) {
    KeySlot chosen = null;
    long total = 0;
    for (KeySlot slot : p.slots) {
      if (!usable(slot, ctx, model, now)) continue;
      int share = strategy == Strategy.WEIGHTED ? slot.key.weight() : 1;
      total += share;
      if (random.nextLong(total) < share) chosen = slot;
    }
    if (chosen == null) return null;
    Lease lease = claimOne(chosen, ctx, model, now);
    return lease != null ? lease : scan(p, ctx, model, now);
  }

  /** Every key once, from a random one: when the key chosen to serve was taken meanwhile. */
  private Lease scan(Pool p, RequestContext ctx, String model, long now) {
    KeySlot[] slots = p.slots;
    int n = slots.length;
    int index = ThreadLocalRandom.current().nextInt(n);
    for (int i = 0; i < n; i++) {
      KeySlot slot = slots[index];
      int claim = claim(slot, ctx, model, now);
      if (claim != NO) return lease(slot, model, claim);
      if (++index == n) index = 0;
    }
    return null;
  }

  /**
   * Whether deciding about this key needs the time: only an unhealthy key or a project with a
   * cooldown that has not been seen to expire does. Healthy pools never read the clock.
   */
  private static boolean needsTime(KeySlot slot) {
    return slot.status != KeySlot.HEALTHY || slot.cooldownHint() != 0;
  }

  /** Whether the key could serve this request now, without taking anything. */
  private static boolean usable(KeySlot slot, RequestContext ctx, String model, long now) {
    if (slot.disabled || !due(slot, slot.status, now)) return false;
    if (!ctx.admits(slot.id, slot.project.name)) return false;
    return !ctx.tried(slot.id) && !slot.project.cooling(slot, model, now)
        && (slot.quota == null || !slot.quota.spent());
  }

  /** Takes the key for this request if it can serve: its quota permit and, if due, its trial. */
  private static int claim(KeySlot slot, RequestContext ctx, String model, long now) {
    if (slot.disabled) return NO;
    int status = slot.status;
    if (!due(slot, status, now)) return NO;
    if (ctx.tried(slot.id) || slot.project.cooling(slot, model, now)) return NO;
    if (!ctx.admits(slot.id, slot.project.name)) return NO;
    if (slot.quota != null && !slot.quota.tryAcquire()) return NO;
    if (status == KeySlot.UNHEALTHY) {
      return slot.tryStartTrial(now) ? TRIAL : NO;
    }
    if (status == KeySlot.PROBING) {
      return slot.tryRetakeTrial(now) ? TRIAL : NO;
    }
    return YES;
  }

  /**
   * Whether a key in this status may take a request now: healthy; unhealthy with its wait over
   * (as the trial); or probing with its trial unanswered for {@link KeySlot#TRIAL_TIMEOUT_MILLIS}.
   */
  private static boolean due(KeySlot slot, int status, long now) {
    return switch (status) {
      case KeySlot.HEALTHY -> true;
      case KeySlot.UNHEALTHY -> now >= slot.statusUntil;
      case KeySlot.PROBING -> slot.trialLost(now);
      default -> false;
    };
  }

  private Lease lease(KeySlot slot, String model, int claim) {
    slot.enter();
    boolean trial = claim == TRIAL;
    if (trial) trials.increment();
    return new Lease(rotator, slot, model, trial);
  }

  static NoKeyAvailableException noKeyAvailable(Pool p, RequestContext ctx, String model,
      long now) {
    EnumMap<KeyState, Integer> breakdown = new EnumMap<>(KeyState.class);
    long earliest = earliestFree(p, ctx, model, now, breakdown);
    int tried = 0;
    for (String id : ctx.triedKeyIds()) {
      if (p.byId.containsKey(id)) tried++;
    }
    return new NoKeyAvailableException(model,
        earliest == Long.MAX_VALUE ? null : Instant.ofEpochMilli(earliest), breakdown, tried);
  }

  /**
   * The earliest instant (epoch millis) a key that is neither invalid nor disabled can serve
   * {@code model}, {@code now} when one can now, {@link Long#MAX_VALUE} when none will by itself;
   * counts the keys by state into {@code breakdown} when it is not null. Only keys the context
   * {@linkplain RequestContext#admits admits} count: for a request limited to one project, the
   * answer is about that project's keys.
   */
  static long earliestFree(Pool p, RequestContext ctx, String model, long now,
      EnumMap<KeyState, Integer> breakdown) {
    long earliest = Long.MAX_VALUE;
    for (KeySlot slot : p.slots) {
      if (!ctx.admits(slot.id, slot.project.name)) continue;
      KeyState state = slot.baseState();
      long free = now;
      if (state == KeyState.DISABLED || state == KeyState.INVALID) {
        if (breakdown != null) breakdown.merge(state, 1, Integer::sum);
        continue;
      }
      if (state == KeyState.UNHEALTHY) {
        free = slot.status == KeySlot.PROBING ? now + TRIAL_IN_PROGRESS_MILLIS
            : Math.max(now, slot.statusUntil);
      }
      long cooling = slot.project.until(model, now);
      if (cooling > now) {
        free = Math.max(free, cooling);
        if (state == KeyState.HEALTHY) state = KeyState.RATE_LIMITED;
      }
      if (slot.quota != null && slot.quota.spent()) {
        free = Math.max(free, now + Math.max(1, slot.quota.nanosToWait() / 1_000_000));
        if (state == KeyState.HEALTHY) state = KeyState.RATE_LIMITED;
      }
      if (breakdown != null) breakdown.merge(state, 1, Integer::sum);
      earliest = Math.min(earliest, free);
    }
    return earliest;
  }
}
