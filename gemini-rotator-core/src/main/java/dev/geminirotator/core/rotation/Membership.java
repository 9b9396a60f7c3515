package dev.geminirotator.core.rotation;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.event.KeyAdded;
import dev.geminirotator.api.event.KeyRemoved;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.core.internal.exchange.SecretScrubber;
import dev.geminirotator.core.internal.quota.SharedQuotas;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;

/**
 * Which keys the pool holds: the immutable {@link Pool} that selection reads, the projects its
 * keys belong to, keys added, replaced and removed (locally: writing them to the store is
 * {@link StoreSync}'s), the salt of ids derived from secrets (the builder's, else the store's,
 * followed when it changes), and the secret scrubber of the current membership. Part of
 * {@link GeminiKeyRotator}.
 *
 * <p>Thread-safe. Reads ({@link #pool}, {@link #projects}) take no lock; every membership change
 * is made under {@link #adminLock} and published as a new {@link Pool} at once. A slot replaced or
 * removed is marked {@link KeySlot#removed} under its own lock, so no transition slips past.
 */
final class Membership {

  private final Logger log;
  private final KeyStateStore store;
  private final Clock clock;
  private final SharedQuotas quotas;
  private final ListenerSet listeners;
  /**
   * The salt of derived key ids: the builder's, else the store's (followed when it changes);
   * null: this process's own. Written under {@link #adminLock}.
   */
  private volatile String keyIdSalt;
  /** Whether the builder set the salt: the store's is then never followed. */
  private final boolean keyIdSaltConfigured;

  volatile Pool pool = Pool.EMPTY;
  /** The secret scrubber for one membership, rebuilt on first use after the pool changes. */
  private volatile PoolScrubber poolScrubber;
  private final Object scrubberLock = new Object();
  final ConcurrentHashMap<String, ProjectState> projects = new ConcurrentHashMap<>();
  final Object adminLock = new Object();
  /** Successes of keys no longer in the pool (their slots held the counts). */
  final LongAdder retiredSuccesses = new LongAdder();

  Membership(KeyStateStore store, String keyIdSalt, Clock clock, SharedQuotas quotas,
      ListenerSet listeners, Logger log) {
    this.log = log;
    this.store = store;
    this.clock = clock;
    this.quotas = quotas;
    this.listeners = listeners;
    this.keyIdSaltConfigured = keyIdSalt != null;
    this.keyIdSalt = keyIdSalt != null ? keyIdSalt : storeKeyIdSalt(store);
  }

  /** Installs the configured keys, at start. */
  void addConfigured(Collection<ApiKey> keys) {
    synchronized (adminLock) {
      List<KeySlot> slots = new ArrayList<>();
      for (ApiKey key : keys) slots.add(newSlot(poolKey(key)));
      publishPool(slots);
    }
    if (keyIdSalt == null && keys.stream().anyMatch(ApiKey::hasDerivedId)) {
      log.info("keys without an id get ids derived under this process's own random salt: they"
          + " change at every restart (metrics series, admin scripts); set key-id-salt, or give"
          + " keys ids, for ids that last");
    }
  }

  /** See {@link GeminiKeyRotator#poolKey}. */
  ApiKey poolKey(ApiKey key) {
    return keyIdSalt == null ? key : key.withIdSalt(keyIdSalt);
  }

  /**
   * Re-derives the ids of keys that have derived ones under the store's salt when it differs from
   * the one this rotator uses: one membership change. Keys with explicit ids are untouched. A
   * re-keyed key starts afresh locally and takes the state the store holds under its new id.
   */
  void followStoreSalt() {
    if (keyIdSaltConfigured) return;
    String salt = storeKeyIdSalt(store);
    if (salt == null || salt.equals(keyIdSalt)) return;
    int rekeyed = 0;
    List<String> oldIds = new ArrayList<>();
    List<String> newIds = new ArrayList<>();
    synchronized (adminLock) {
      if (salt.equals(keyIdSalt)) return;
      keyIdSalt = salt;
      List<KeySlot> slots = new ArrayList<>(pool.size());
      for (KeySlot slot : pool.slots) {
        ApiKey key = slot.key.withIdSalt(salt);
        if (key.id().equals(slot.id)) {
          slots.add(slot);
          continue;
        }
        synchronized (slot) {
          slot.removed = true;
        }
        retiredSuccesses.add(slot.successes());
        slots.add(newSlot(key));
        oldIds.add(slot.id);
        newIds.add(key.id());
        rekeyed++;
      }
      if (rekeyed > 0) publishPool(slots);
    }
    if (rekeyed == 0) return;
    log.warn("the store's key id salt differs from this rotator's (it connected after starting"
        + " unreachable, or lost its data and another instance set a new salt): {} keys without an"
        + " id now have ids derived under the store's salt, like every instance on it", rekeyed);
    Instant at = clock.instant();
    for (String id : oldIds) listeners.fireLearnt(new KeyRemoved(id, at));
    for (String id : newIds) listeners.fireLearnt(new KeyAdded(id, at));
  }

  private String storeKeyIdSalt(KeyStateStore store) {
    try {
      return store.keyIdSalt();
    } catch (RuntimeException e) {
      log.warn("store {} could not give its key id salt; ids derived from secrets are this"
          + " process's own: {}", store.describe(), e.toString());
      return null;
    }
  }

  /**
   * Adds or replaces keys under one membership change; returns the keys that changed anything,
   * the last of each id. A key replaced by one with the same secret keeps what was learned about
   * it; a new secret is a new credential and starts healthy. {@code learnt}: the keys come from
   * the store, so their events are told on the event thread ({@link ListenerSet#fireLearnt}).
   */
  Collection<ApiKey> addLocally(Collection<ApiKey> keys, boolean learnt) {
    Map<String, ApiKey> changed = new LinkedHashMap<>();
    Set<String> addedIds = new LinkedHashSet<>();
    synchronized (adminLock) {
      Pool current = pool;
      List<KeySlot> slots = null; // the new membership, copied on the first change
      Map<String, Integer> positions = null; // its slot index by id
      for (ApiKey key : keys) {
        Integer position = positions == null ? null : positions.get(key.id());
        KeySlot existing = positions == null ? current.byId.get(key.id())
            : position == null ? null : slots.get(position);
        if (existing != null && sameKey(existing.key, key)) continue;
        if (slots == null) {
          slots = new ArrayList<>(current.size() + keys.size());
          positions = new HashMap<>((current.size() + keys.size()) * 2);
          for (KeySlot slot : current.slots) {
            positions.put(slot.id, slots.size());
            slots.add(slot);
          }
          position = positions.get(key.id());
        }
        KeySlot fresh = newSlot(key);
        if (existing != null) {
          synchronized (existing) {
            fresh.disabled = existing.disabled;
            fresh.disabledReason = existing.disabledReason;
            if (existing.key.secret().equals(key.secret())) {
              // Same credential, new weight/labels/quotas: it keeps what was learned about it.
              fresh.setStatus(existing.status == KeySlot.PROBING ? KeySlot.UNHEALTHY
                  : existing.status, existing.statusUntil, existing.reason, existing.stateSince);
              fresh.trialFailures = existing.trialFailures;
              fresh.setHealth(existing.health());
            }
            existing.removed = true; // under the old slot's lock: no transition slips past
          }
          fresh.inherit(existing);
          slots.set(position, fresh);
        } else {
          positions.put(key.id(), slots.size());
          slots.add(fresh);
          addedIds.add(key.id());
        }
        changed.put(key.id(), key);
      }
      if (slots == null) return List.of();
      publishPool(slots);
    }
    Instant at = clock.instant();
    if (changed.size() == 1) {
      String id = changed.keySet().iterator().next();
      log.info("key {} {}", id, addedIds.contains(id) ? "added" : "updated");
    } else {
      // A batch of thousands logs one line, not one per key (the ids are at debug)
      log.info("{} keys added, {} updated", addedIds.size(), changed.size() - addedIds.size());
      if (log.isDebugEnabled()) {
        for (String id : changed.keySet()) {
          log.debug("key {} {}", id, addedIds.contains(id) ? "added" : "updated");
        }
      }
    }
    for (String id : addedIds) listeners.fire(new KeyAdded(id, at), learnt);
    return changed.values();
  }

  private static boolean sameKey(ApiKey a, ApiKey b) {
    return a.secret().equals(b.secret()) && a.weight() == b.weight()
        && a.labels().equals(b.labels()) && a.requestsPerMinute().equals(b.requestsPerMinute())
        && a.requestsPerDay().equals(b.requestsPerDay());
  }

  /** Removes a key; {@code learnt} as in {@link #addLocally}. */
  boolean removeLocally(String keyId, boolean learnt) {
    synchronized (adminLock) {
      KeySlot existing = pool.byId.get(keyId);
      if (existing == null) return false;
      List<KeySlot> slots = new ArrayList<>(Arrays.asList(pool.slots));
      slots.remove(existing);
      existing.removed = true;
      retiredSuccesses.add(existing.successes());
      publishPool(slots);
    }
    log.info("key {} removed", keyId);
    listeners.fire(new KeyRemoved(keyId, clock.instant()), learnt);
    return true;
  }

  private KeySlot newSlot(ApiKey key) {
    ProjectState project = projects.computeIfAbsent(key.project(), ProjectState::new);
    return new KeySlot(key, project, QuotaGate.forKey(key, quotas));
  }

  /** Installs a new membership; caller holds {@link #adminLock}. */
  private void publishPool(List<KeySlot> slots) {
    KeySlot[] array = slots.toArray(new KeySlot[0]);
    Map<ProjectState, List<KeySlot>> members = new HashMap<>();
    for (KeySlot slot : array) {
      members.computeIfAbsent(slot.project, k -> new ArrayList<>()).add(slot);
    }
    for (ProjectState project : projects.values()) {
      List<KeySlot> list = members.get(project);
      project.setMembers(list == null ? new KeySlot[0] : list.toArray(new KeySlot[0]));
    }
    projects.values().removeIf(project -> project.members.length == 0);
    pool = new Pool(array);
  }

  static List<String> memberIds(ProjectState project) {
    KeySlot[] members = project.members;
    List<String> ids = new ArrayList<>(members.length);
    for (KeySlot slot : members) ids.add(slot.id);
    return ids;
  }

  /**
   * A scrubber that takes every secret of the pool's current keys out of what reaches a client
   * (transports reach it through {@link SecretScrubber#ofPool}). Built on first use after the
   * membership changed (keys added, replaced or removed), in time linear in the pool, then shared:
   * every call until the next change returns the same instance.
   */
  SecretScrubber secretScrubber() {
    Pool p = pool;
    PoolScrubber cached = poolScrubber;
    if (cached != null && cached.pool == p) return cached.scrubber;
    // one builder per pool change (O(pool size)); the others wait for it instead of each
    // building their own, and an older pool's scrubber never replaces a newer one's
    synchronized (scrubberLock) {
      cached = poolScrubber;
      if (cached != null && cached.pool == p) return cached.scrubber;
      List<ApiKey> keys = new ArrayList<>(p.slots.length);
      for (KeySlot slot : p.slots) keys.add(slot.key);
      SecretScrubber built = SecretScrubber.of(keys);
      if (cached == null || cached.pool != pool) poolScrubber = new PoolScrubber(p, built);
      return built;
    }
  }

  private record PoolScrubber(Pool pool, SecretScrubber scrubber) {
  }
}
