package dev.geminirotator.redis;

import static dev.geminirotator.redis.RedisWriter.changesOf;
import static dev.geminirotator.redis.RedisKeyStateStore.isConnectionFailure;
import static dev.geminirotator.redis.RedisKeyStateStore.rootMessage;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.api.spi.StoreState;
import dev.geminirotator.redis.RedisWriter.ForeignLayout;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.UnifiedJedis;

/**
 * The loader of a {@link RedisKeyStateStore}: reads everything the pool's state holds in Redis
 * ({@link #loadAll()}, for {@link RedisKeyStateStore#load()} and the writer) and, after the
 * subscription came back or Redis lost its data, reloads and hands listeners what they missed
 * ({@link #resync()}, on the writer thread). Package-private; the store is its only user.
 *
 * <p>Thread-safe. {@link #loadAll()} reads Redis without a lock, then lays the pending writes over
 * what it read under the {@code mirror}'s lock; while holding it, it takes the write queue's lock
 * ({@link WriteQueue#pendingAndInFlight()}) and calls the store's listeners: the order is always
 * mirror, then queue, as {@link RedisKeyStateStore#apply} takes them. It never takes the
 * subscriber's lock. Logs under {@code RedisKeyStateStore}'s logger, as before the split.
 */
final class RedisLoader {

  private static final Logger log = LoggerFactory.getLogger(RedisKeyStateStore.class);

  private final RedisKeyStateStore store;
  private final KeyLayout layout;
  private final Clock clock;
  private final String instanceId;
  private final String description;
  private final Mirror mirror;
  private final WriteQueue queue;
  private final AtomicLong resyncs = new AtomicLong();

  RedisLoader(RedisKeyStateStore store, KeyLayout layout, Clock clock, String instanceId,
      String description, Mirror mirror, WriteQueue queue) {
    this.store = store;
    this.layout = layout;
    this.clock = clock;
    this.instanceId = instanceId;
    this.description = description;
    this.mirror = mirror;
    this.queue = queue;
  }

  /** How many times the store reloaded state after its subscription came back. */
  long resyncs() {
    return resyncs.get();
  }

  /**
   * What a load found: the snapshot (as the SPI has it: no HEALTHY status without a deadline),
   * the ids of every status Redis holds (HEALTHY ones included, so a resync hands on a missed
   * reset), and the cooldowns cleared but not yet ended (tombstones).
   */
  record Loaded(StoreSnapshot snapshot, Set<String> statusIds,
      List<StateChange.Cooldown> cleared) {
  }

  /**
   * Reads everything in two pipelined round trips, then lays over it what this instance has not
   * written yet, so a reload never undoes a local change still on its way to Redis.
   */
  Loaded loadAll() {
    long now = clock.millis();
    Map<String, String> addedJson;
    Set<String> removed;
    Map<String, String> healthRaw;
    Set<String> statusIds;
    List<String> cooldownMembers;
    Set<String> breakerNames;
    long generation;
    try (AbstractPipeline p = store.client().pipelined()) {
      Response<String> g = p.get(layout.generation());
      Response<Map<String, String>> a = p.hgetAll(layout.added());
      Response<Set<String>> r = p.smembers(layout.removed());
      Response<Map<String, String>> h = p.hgetAll(layout.health());
      Response<Set<String>> s = p.smembers(layout.statusIndex());
      Response<List<String>> c = p.zrangeByScore(layout.cooldownIndex(), "(" + now, "+inf");
      Response<Set<String>> b = p.smembers(layout.breakerIndex());
      p.sync();
      generation = g.get() == null ? 0 : parseLong(g.get());
      addedJson = a.get();
      removed = new HashSet<>(r.get());
      healthRaw = h.get();
      statusIds = s.get();
      cooldownMembers = c.get();
      breakerNames = b.get();
    }
    List<String> ids = new ArrayList<>(statusIds);
    List<String> names = new ArrayList<>(breakerNames);
    List<Map<String, String>> statusHashes = new ArrayList<>();
    List<Map<String, String>> cooldownHashes = new ArrayList<>();
    List<Map<String, String>> breakerHashes = new ArrayList<>();
    if (!ids.isEmpty() || !cooldownMembers.isEmpty() || !names.isEmpty()) {
      try (AbstractPipeline p = store.client().pipelined()) {
        List<Response<Map<String, String>>> st = new ArrayList<>();
        List<Response<Map<String, String>>> cd = new ArrayList<>();
        List<Response<Map<String, String>>> br = new ArrayList<>();
        ids.forEach(id -> st.add(p.hgetAll(layout.status(id))));
        cooldownMembers.forEach(m -> cd.add(p.hgetAll(layout.cooldown(m))));
        names.forEach(n -> br.add(p.hgetAll(layout.breaker(n))));
        p.sync();
        st.forEach(x -> statusHashes.add(x.get()));
        cd.forEach(x -> cooldownHashes.add(x.get()));
        br.forEach(x -> breakerHashes.add(x.get()));
      }
    }

    Map<String, ApiKey> added = new LinkedHashMap<>();
    addedJson.forEach((id, json) -> {
      try {
        added.put(id, Codec.key(json));
      } catch (RuntimeException e) {
        store.warnOnce("added:" + id,
            "Redis store {}: the stored key {} cannot be read ({}); skipped", description, id,
            e.getMessage());
      }
    });
    // What Redis holds, merged by the rules every store uses (StoreState)
    StoreState loaded = new StoreState();
    removed.forEach(id -> loaded.apply(new StateChange.KeyRemoved(id)));
    added.values().forEach(k -> loaded.apply(new StateChange.KeyAdded(k)));
    Map<String, StateChange.KeyStatus> statuses = new LinkedHashMap<>(); // as read, HEALTHY too
    Map<String, Map<String, String>> statusFields = new HashMap<>();
    List<String> stale = new ArrayList<>();
    for (int i = 0; i < ids.size(); i++) {
      Map<String, String> f = statusHashes.get(i);
      StateChange.KeyStatus status = f.isEmpty() ? null
          : status(ids.get(i), f.get("state"), f.get("until"), f.get("reason"), f.get("at"));
      if (status == null) {
        stale.add(ids.get(i));
      } else {
        statuses.put(status.keyId(), status);
        statusFields.put(status.keyId(), f);
        loaded.apply(status);
      }
    }
    if (!stale.isEmpty()) store.client().srem(layout.statusIndex(), stale.toArray(new String[0]));
    Map<String, StateChange.Cooldown> cleared = new LinkedHashMap<>();
    Map<String, Map<String, String>> cooldownFields = new LinkedHashMap<>();
    for (Map<String, String> f : cooldownHashes) {
      if (f.get("project") == null || f.get("model") == null || f.get("until") == null) continue;
      String slot = Write.Cooldown.slotOf(f.get("project"), f.get("model"));
      cooldownFields.put(slot, f);
      if ("1".equals(f.get("cleared"))) {
        cleared.put(slot, new StateChange.Cooldown(f.get("project"), f.get("model"),
            Instant.EPOCH, true));
      } else if (parseLong(f.get("until")) > now) {
        loaded.apply(new StateChange.Cooldown(f.get("project"), f.get("model"),
            Instant.ofEpochMilli(parseLong(f.get("until"))), false));
      }
    }
    healthRaw.forEach((id, score) -> {
      try {
        loaded.apply(new StateChange.Health(id, Double.parseDouble(score)));
      } catch (NumberFormatException e) {
        // not ours; skip
      }
    });
    for (int i = 0; i < names.size(); i++) {
      Map<String, String> f = breakerHashes.get(i);
      if (f.get("state") == null) continue;
      String until = f.get("until");
      loaded.apply(new StateChange.Breaker(names.get(i), f.get("state"),
          until == null || until.isEmpty() ? null : Instant.ofEpochMilli(parseLong(until))));
    }

    // What this instance has not written yet is newer than what Redis holds, unless Redis will
    // refuse it: another instance wrote that state after the one the write was based on. The
    // slots such writes will set are answered by Redis later; the load leaves them to that.
    // All under the mirror's lock, as apply queues under it: a change applied meanwhile is
    // either pending here or recorded in the mirror, never neither.
    synchronized (mirror) {
      Set<String> pendingSlots = new HashSet<>();
      for (Write w : queue.pendingAndInFlight()) {
        if (w instanceof Write.Status s) {
          Map<String, String> f = statusFields.get(s.status().keyId());
          if (f != null && otherGeneration(f) > s.base()) continue; // refused: Redis's stands
          loaded.apply(s.status());
          pendingSlots.add(s.slot());
          continue;
        }
        if (w instanceof Write.Cooldown c) {
          Map<String, String> f = cooldownFields.get(c.slot());
          boolean clears = c.clearFirst() && (f == null || otherGeneration(f) <= c.base());
          long storedUntil = f == null || "1".equals(f.get("cleared")) ? 0
              : parseLong(f.get("until"));
          if (clears) {
            StateChange.Cooldown clear =
                new StateChange.Cooldown(c.project(), c.model(), Instant.EPOCH, true);
            loaded.apply(clear);
            cleared.put(c.slot(), clear);
          }
          if (c.until() > now) {
            loaded.apply(new StateChange.Cooldown(c.project(), c.model(),
                Instant.ofEpochMilli(c.until()), false));
            cleared.remove(c.slot());
          }
          // a write Redis will leave as it is (a refused clear, a shorter cooldown) is corrected
          // here, as a refused status is: its answer may find this load's floor above it
          if (clears || c.until() > storedUntil) pendingSlots.add(c.slot());
          continue;
        }
        changesOf(w).forEach(loaded::apply);
        pendingSlots.add(w.slot());
      }
      // Redis's ordering: a status this instance received after the load read it (a newer
      // generation) wins over the stored one; otherwise what was read is the newest of the key, and
      // listeners that hold something else are handed it (a correction, say of a write Redis
      // refused, whose answer then finds it known). Cooldowns likewise become what Redis holds.
      for (Map.Entry<String, StateChange.KeyStatus> e : statuses.entrySet()) {
        String id = e.getKey();
        String slot = Write.Status.slotOf(id);
        long stored = parseLong(statusFields.get(id).getOrDefault("gen", "0"));
        if (mirror.seenSinceLoad(slot) > stored) {
          StateChange.KeyStatus known = mirror.status(id);
          loaded.apply(known != null ? known : healthy(id, now));
        } else if (!pendingSlots.contains(slot)) {
          StateChange.KeyStatus before = mirror.status(id);
          mirror.record(e.getValue());
          mirror.advance(slot, stored);
          if (!Objects.equals(before, mirror.status(id))) store.deliver(e.getValue());
        }
      }
      cooldownFields.forEach((slot, f) -> {
        if (pendingSlots.contains(slot)) return;
        long until = "1".equals(f.get("cleared")) ? 0 : parseLong(f.get("until"));
        store.deliverCooldownAsStored(f.get("project"), f.get("model"), slot, until,
            parseLong(f.getOrDefault("gen", "0")), false);
      });
      StoreSnapshot s = loaded.snapshot(Instant.ofEpochMilli(now));
      s.addedKeys().forEach(k -> mirror.record(new StateChange.KeyAdded(k)));
      s.removedKeyIds().forEach(id -> mirror.record(new StateChange.KeyRemoved(id)));
      s.health().forEach((id, score) -> mirror.record(new StateChange.Health(id, score)));
      s.breakers().values().forEach(mirror::record);
      mirror.raiseFloor(generation);
      return new Loaded(s, Set.copyOf(statuses.keySet()), List.copyOf(cleared.values()));
    }
  }

  private static StateChange.KeyStatus healthy(String keyId, long now) {
    return new StateChange.KeyStatus(keyId, KeyState.HEALTHY, null, null,
        Instant.ofEpochMilli(now));
  }

  /**
   * The newest generation another instance than this one wrote to a stored hash: the same rule as
   * the scripts' {@code other()} (see {@link Scripts}).
   */
  private long otherGeneration(Map<String, String> f) {
    return instanceId.equals(f.get("origin")) ? parseLong(f.getOrDefault("other", "0"))
        : parseLong(f.getOrDefault("gen", "0"));
  }

  StateChange.KeyStatus status(String keyId, String state, String until, String reason,
      String at) {
    try {
      return new StateChange.KeyStatus(keyId, KeyState.valueOf(state),
          until == null || until.isEmpty() ? null : Instant.ofEpochMilli(Long.parseLong(until)),
          reason == null || reason.isEmpty() ? null : reason,
          Instant.ofEpochMilli(Long.parseLong(at)));
    } catch (RuntimeException e) {
      store.warnOnce("status:" + keyId,
          "Redis store {}: the stored status of key {} cannot be read; skipped", description,
          keyId);
      return null;
    }
  }

  static long parseLong(String s) {
    try {
      return Long.parseLong(s);
    } catch (NumberFormatException e) {
      return 0;
    }
  }

  /**
   * After the subscription came back: reload and hand listeners whatever they may have missed,
   * including cooldowns cleared meanwhile. Runs on the writer thread once the queue is empty.
   */
  void resync() {
    Loaded loaded;
    try {
      store.checkDataLoss();
      loaded = loadAll();
    } catch (RuntimeException e) {
      if (isConnectionFailure(e) || e instanceof ForeignLayout) store.writerDown(e);
      else store.warnOnce("resync", "Redis store {} could not reload: {}", description,
          store.redact(rootMessage(e)));
      return;
    }
    store.resyncRequested = false;
    resyncs.incrementAndGet();
    StoreSnapshot s = loaded.snapshot;
    s.removedKeyIds().forEach(id -> store.deliverLoaded(new StateChange.KeyRemoved(id)));
    s.addedKeys().forEach(k -> store.deliverLoaded(new StateChange.KeyAdded(k)));
    synchronized (mirror) {
      // statuses were recorded by loadAll; hand them over as they stand now
      Set<String> ids = new LinkedHashSet<>(loaded.statusIds);
      ids.addAll(s.statuses().keySet());
      long now = clock.millis();
      ids.forEach(id -> {
        StateChange.KeyStatus known = mirror.status(id);
        store.deliver(known != null ? known : healthy(id, now));
      });
    }
    loaded.cleared.forEach(store::deliverLoaded);
    s.cooldowns().forEach(store::deliverLoaded);
    s.breakers().values().forEach(store::deliverLoaded);
    log.debug("Redis store {} resynchronized: {} statuses, {} cooldowns, {} runtime keys",
        description, s.statuses().size(), s.cooldowns().size(), s.addedKeys().size());
  }
}
