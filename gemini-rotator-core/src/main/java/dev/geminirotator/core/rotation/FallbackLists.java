package dev.geminirotator.core.rotation;

import dev.geminirotator.api.RequestContext;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * The {@link UsableKeys} lists of one rotator, built so that nothing a client sends can make them
 * costly: one shared list for every model, plus a list of its own for each of at most
 * {@link #MAX_MODEL_LISTS} models that have a running cooldown (cooldowns start only on an
 * upstream 429, so a model name a client invents shares the one list). A list is rebuilt when it
 * is no longer valid (see {@link UsableKeys}) or when draws found most of its keys unable to
 * serve, and by one caller at a time: the others keep drawing from the list in hand, which is
 * safe because every drawn key is checked before it is claimed.
 *
 * <p>The state epoch moves only when a key may serve again sooner than a list knew (back to
 * healthy, a trial due at once, enabled, a cooldown cleared): keys that stop serving are refused
 * when drawn and need no rebuild.
 *
 * <p>Thread-safe and lock-free.
 */
final class FallbackLists {

  /** The most models with a list of their own; the shared list serves any other. */
  static final int MAX_MODEL_LISTS = 8;
  /** Cooling models remembered before expired ones are swept out. */
  private static final int SWEEP_COOLING_MODELS_AT = 64;
  /** Keys sampled to judge whether a list whose draws were all refused has gone stale. */
  private static final int STALE_SAMPLES = 16;

  private final AtomicInteger epoch = new AtomicInteger();
  private volatile UsableKeys shared;
  private final AtomicBoolean buildingShared = new AtomicBoolean();
  /** Models with a cooldown of their own on some project: model to the latest end known. */
  private final ConcurrentHashMap<String, Long> coolingModels = new ConcurrentHashMap<>();
  private final ConcurrentHashMap<String, ModelEntry> byModel = new ConcurrentHashMap<>();
  /** Lists built, shared and per model: a test's view of how often a pass is paid. */
  private final LongAdder builds = new LongAdder();

  private static final class ModelEntry {
    volatile UsableKeys list;
    final AtomicBoolean building = new AtomicBoolean();
  }

  /** A key may serve sooner than the lists built so far know: they are rebuilt when next used. */
  void keyMayServeAgain() {
    epoch.incrementAndGet();
  }

  /** A project cools for {@code model} until then: the model may get a list of its own. */
  void modelCooling(String model, long until, long now) {
    if (RequestContext.ANY_MODEL.equals(model) || until <= now) return; // the shared list's concern
    coolingModels.merge(model, until, Math::max);
    if (coolingModels.size() > SWEEP_COOLING_MODELS_AT) {
      coolingModels.values().removeIf(end -> end <= now);
    }
  }

  long builds() {
    return builds.sum();
  }

  /** A valid list to draw from for this model, or null when none is built; never builds. */
  UsableKeys cached(Pool pool, String model, long now) {
    return get(pool, model, now, null, null, false);
  }

  /**
   * A list to draw from for this model: a valid one, built if need be, or while another caller
   * builds it, the one in hand if it is of this pool; null when there is none.
   */
  UsableKeys obtain(Pool pool, String model, long now) {
    return get(pool, model, now, null, null, true);
  }

  /**
   * Every draw from {@code drawn} was refused. If most of a sample of its keys cannot serve now,
   * it is stale (keys stopped serving since it was built) and is rebuilt; returns the list to draw
   * from then, or null when it is not stale (the refusals were this request's own: keys it already
   * tried) or no other list can be had.
   */
  UsableKeys refreshIfStale(Pool pool, UsableKeys drawn, String model, long now) {
    KeySlot[] slots = drawn.usable.slots;
    ThreadLocalRandom random = ThreadLocalRandom.current();
    int sharedOut = 0;
    int modelOut = 0;
    for (int i = 0; i < STALE_SAMPLES; i++) {
      KeySlot slot = slots[random.nextInt(slots.length)];
      if (!UsableKeys.servesAnyModel(slot, now)) {
        sharedOut++;
      } else if (drawn.model != null && slot.project.cooling(slot, model, now)) {
        modelOut++;
      }
    }
    UsableKeys next;
    if (2 * sharedOut > STALE_SAMPLES) {
      next = get(pool, model, now, drawn.model == null ? drawn : drawn.base, null, true);
    } else if (2 * (sharedOut + modelOut) > STALE_SAMPLES) {
      next = get(pool, model, now, null, drawn, true);
    } else {
      return null;
    }
    return next == drawn ? null : next;
  }

  /** Whether the list may still serve draws: {@code false} for one handed out while stale. */
  boolean valid(UsableKeys list, Pool pool, long now) {
    UsableKeys base = list.model == null ? list : list.base;
    return base.validFor(pool, epoch.get(), now) && now < list.validUntil;
  }

  private UsableKeys get(Pool pool, String model, long now, UsableKeys staleShared,
      UsableKeys staleModel, boolean build) {
    UsableKeys base = shared(pool, now, staleShared, build);
    if (base == null || !needsOwnList(model, now)) return base;
    ModelEntry entry = entry(model, now);
    if (entry == null) return base; // more models cooling than lists kept: draws check cooldowns
    UsableKeys list = entry.list;
    if (list != null && list != staleModel && list.validOn(base, now)) return list;
    if (!build) return null;
    if (!entry.building.compareAndSet(false, true)) {
      return list != null && list.pool == pool ? list : base;
    }
    try {
      list = entry.list;
      if (list != null && list != staleModel && list.validOn(base, now)) return list;
      list = UsableKeys.forModel(base, model, now);
      builds.increment();
      entry.list = list;
      return list;
    } finally {
      entry.building.set(false);
    }
  }

  private UsableKeys shared(Pool pool, long now, UsableKeys stale, boolean build) {
    UsableKeys list = shared;
    if (list != null && list != stale && list.validFor(pool, epoch.get(), now)) return list;
    if (!build) return null;
    if (!buildingShared.compareAndSet(false, true)) {
      // Another caller is building: draw from the list in hand meanwhile. A list of an older
      // pool may hold removed keys, so it is not used.
      return list != null && list.pool == pool ? list : null;
    }
    try {
      int e = epoch.get(); // read before the pass: a key back during it moves it on again
      list = shared;
      if (list != null && list != stale && list.validFor(pool, e, now)) return list;
      list = UsableKeys.build(pool, e, now);
      builds.increment();
      shared = list;
      return list;
    } finally {
      buildingShared.set(false);
    }
  }

  private boolean needsOwnList(String model, long now) {
    Long until = coolingModels.get(model);
    if (until == null) return false;
    if (until > now) return true;
    coolingModels.remove(model, until);
    byModel.remove(model);
    return false;
  }

  /** The model's entry, made if fewer than {@link #MAX_MODEL_LISTS} are kept; else null. */
  private ModelEntry entry(String model, long now) {
    ModelEntry entry = byModel.get(model);
    if (entry != null) return entry;
    if (byModel.size() >= MAX_MODEL_LISTS) {
      for (Map.Entry<String, ModelEntry> e : byModel.entrySet()) {
        Long until = coolingModels.get(e.getKey());
        if (until == null || until <= now) byModel.remove(e.getKey(), e.getValue());
      }
      // Racing callers may each add one past the bound; it stays a handful of lists.
      if (byModel.size() >= MAX_MODEL_LISTS) return null;
    }
    return byModel.computeIfAbsent(model, m -> new ModelEntry());
  }
}
