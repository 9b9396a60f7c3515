package dev.geminirotator.redis;

import static dev.geminirotator.redis.RedisKeyStateStore.isConnectionFailure;
import static dev.geminirotator.redis.RedisKeyStateStore.rootMessage;
import static dev.geminirotator.redis.RedisLoader.parseLong;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.spi.StateChange;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.AbstractPipeline;
import redis.clients.jedis.Response;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisDataException;
import redis.clients.jedis.exceptions.JedisNoScriptException;

/**
 * The writer of a {@link RedisKeyStateStore}: its thread drains the write queue in pipelines (one
 * Lua script per write), hands Redis's answers and refusals to the store's delivery, recovers
 * after an outage (replaying the queue, writing everything back when Redis lost its data, adopting
 * the key id salt Redis holds), checks the layout version, sends the keepalive and the
 * subscriber's heartbeat, and runs the loader's resync when one was asked for. It owns the count
 * of refused writes. Package-private; the store is its only user.
 *
 * <p>Thread-safe; nearly all of it runs on the writer thread. It takes the {@code mirror}'s lock
 * to record answers and to snapshot what to write back, and takes the write queue's lock only
 * inside {@link WriteQueue}'s methods, never while holding the mirror's: the order mirror, then
 * queue, that {@link RedisKeyStateStore#apply} takes, is kept. The keepalive takes the
 * subscriber's lock ({@link RedisSubscriber#heartbeat()}) with no other lock held. Logs under
 * {@code RedisKeyStateStore}'s logger, as before the split.
 */
final class RedisWriter {

  private static final Logger log = LoggerFactory.getLogger(RedisKeyStateStore.class);
  private static final long KEEPALIVE_MILLIS = 5_000;

  private final RedisKeyStateStore store;
  private final RedisStoreOptions options;
  private final long healthyStatusTtlMillis;
  private final KeyLayout layout;
  private final Clock clock;
  private final String instanceId;
  private final String description;
  private final Map<String, String> shas;
  private final Mirror mirror;
  private final WriteQueue queue;
  private final CopyOnWriteArrayList<Runnable> saltListeners;
  private final RedisLoader loader;
  private final RedisSubscriber subscriber;
  private final Thread writer;
  private final AtomicLong refusedWrites = new AtomicLong();
  /** Per key or cooldown slot, the generation of the stored state a refusal was last logged for. */
  private final Map<String, Long> refusalsLogged = new ConcurrentHashMap<>();

  RedisWriter(RedisKeyStateStore store, RedisStoreOptions options, long healthyStatusTtlMillis,
      KeyLayout layout, Clock clock, String instanceId, String description,
      Map<String, String> shas, Mirror mirror, WriteQueue queue,
      CopyOnWriteArrayList<Runnable> saltListeners, RedisLoader loader,
      RedisSubscriber subscriber) {
    this.store = store;
    this.options = options;
    this.healthyStatusTtlMillis = healthyStatusTtlMillis;
    this.layout = layout;
    this.clock = clock;
    this.instanceId = instanceId;
    this.description = description;
    this.shas = shas;
    this.mirror = mirror;
    this.queue = queue;
    this.saltListeners = saltListeners;
    this.loader = loader;
    this.subscriber = subscriber;
    this.writer = new Thread(this::writeLoop, "gemini-rotator-redis-writer");
    this.writer.setDaemon(true);
  }

  /** Starts the writer thread. */
  void start() {
    writer.start();
  }

  /** Waits up to {@code timeout} for the writer thread to end (after the store began closing). */
  void join(Duration timeout) {
    RedisKeyStateStore.join(writer, timeout);
  }

  /** Writes Redis refused by compare-and-set; see {@link RedisKeyStateStore#refusedWrites()}. */
  long refusedWrites() {
    return refusedWrites.get();
  }

  private void writeLoop() {
    long nextKeepalive = System.currentTimeMillis() + KEEPALIVE_MILLIS;
    while (true) {
      try {
        if (store.closing && (!store.writerUp || queue.size() == 0)) break;
        if (!store.writerUp) {
          if (!recover()) queue.pause(options.retryInterval().toMillis());
          continue;
        }
        if (queue.size() == 0) {
          if (store.resyncRequested && subscriber.subscriberUp && !store.closing) {
            loader.resync();
            continue;
          }
          long wait = nextKeepalive - System.currentTimeMillis();
          if (wait <= 0) {
            keepalive();
            nextKeepalive = System.currentTimeMillis() + KEEPALIVE_MILLIS;
            continue;
          }
          queue.await(wait);
          continue;
        }
        if (!store.closing) queue.pause(options.linger().toMillis());
        flush(queue.take(options.batchSize()), true);
      } catch (InterruptedException e) {
        if (store.closing) break;
      } catch (RuntimeException e) {
        log.warn("Redis store {} writer failed; it goes on", description, e);
      }
    }
  }

  /** Tries Redis again after an outage; on success replays what is needed. */
  private boolean recover() {
    try {
      store.client().ping();
      store.answeredPlain = true;
      store.loadScripts();
      checkDataLoss();
    } catch (RuntimeException e) {
      if (!isConnectionFailure(e)) log.debug("Redis store {} still failing", description, e);
      return false;
    }
    store.writerUp = true;
    store.dropWarned.set(false);
    // A message published just before the outage may never have reached this instance: a dying
    // master's script ran and replicated but its PUBLISH was lost, while the subscriber (on a
    // cluster, listening on another node) stayed up and so never asks for a reload itself.
    store.resyncRequested = true;
    store.updateAvailability(null);
    return true;
  }

  /**
   * Writes back what this instance knows if Redis lost its data (restarted without persistence,
   * or flushed): the marker key is then missing. Checked after every sign of a reconnect.
   */
  void checkDataLoss() {
    boolean lost =
        store.client().hsetnx(layout.meta(), KeyLayout.LAYOUT, KeyLayout.LAYOUT_VERSION) == 1;
    if (!lost) checkLayout();
    syncSalt();
    if (lost) rewriteEverything();
  }

  /**
   * Makes this store's salt of derived ids the one Redis holds. This instance's own goes in first
   * if Redis has none (HSETNX: whichever instance reaches an emptied Redis first sets the salt
   * again, so a data loss changes no id when an instance that knew the old salt comes back first).
   * If Redis holds another (an instance that opened on the emptied Redis first made a new one, or
   * this store opened while Redis was down), Redis's wins: this store adopts it, tells its salt
   * listeners (rotators re-derive their ids) and reloads, so every instance keeps one id per key.
   */
  private void syncSalt() {
    String mine = store.keyIdSalt;
    store.client().hsetnx(layout.meta(), KeyLayout.KEY_ID_SALT,
        mine != null ? mine : ApiKey.newIdSalt());
    String stored = store.client().hget(layout.meta(), KeyLayout.KEY_ID_SALT);
    if (stored == null || stored.equals(mine)) return;
    store.keyIdSalt = stored;
    if (mine == null) {
      log.info("Redis store {} reached: ids derived from key secrets now use the salt it shares",
          description);
    } else {
      log.warn("Redis store {} holds another key id salt than this instance had (Redis lost its"
          + " data and another instance set a new salt first): adopting it, so ids derived from"
          + " key secrets change to agree with the other instances; set key-id-salt to keep ids"
          + " across such a loss", description);
    }
    for (Runnable listener : saltListeners) {
      try {
        listener.run();
      } catch (RuntimeException e) {
        log.warn("key id salt listener failed; ignored", e);
      }
    }
    store.resyncRequested = true; // state under the new ids
  }

  /**
   * Refuses a Redis whose meta hash names another layout version than this store writes (say, an
   * instance of an older release wrote it, or recreated it after Redis lost its data): two layouts
   * on one prefix undo each other's writes. At open the store then fails to open; later it stops
   * writing (reported unreachable, serving from local state) and logs an error once.
   */
  void checkLayout() {
    String found = store.client().hget(layout.meta(), KeyLayout.LAYOUT);
    if (found == null || KeyLayout.LAYOUT_VERSION.equals(found)) return;
    ForeignLayout e = new ForeignLayout("Redis store " + description + " holds state in layout"
        + " version " + found + " under the prefix '" + layout.prefix() + "', and this release"
        + " writes layout " + KeyLayout.LAYOUT_VERSION + ": instances of two releases must not"
        + " share one layout. Stop the other release's instances and delete their keys"
        + " (redis-cli --scan --pattern " + layout.scanPatterns()
        + " | xargs redis-cli del), or give this release its own prefix (?prefix=... in the"
        + " storage URI)");
    if (store.started && store.warnedOnce.add("layout")) log.error(e.getMessage());
    throw e;
  }

  /** Redis holds another layout version than this store writes; see {@link #checkLayout()}. */
  static final class ForeignLayout extends IllegalStateException {
    ForeignLayout(String message) {
      super(message);
    }
  }

  private void rewriteEverything() {
    List<Write> writes;
    synchronized (mirror) {
      writes = mirror.writes(clock.millis());
    }
    if (!writes.isEmpty()) {
      log.info("Redis store {} came back without its data; writing back {} entries this instance"
          + " knows", description, writes.size());
    }
    queue.requeue(writes);
  }

  private void keepalive() {
    try {
      checkDataLoss();
      store.client().zremrangeByScore(layout.cooldownIndex(), "-inf",
          Long.toString(clock.millis()));
    } catch (RuntimeException e) {
      if (isConnectionFailure(e) || e instanceof ForeignLayout) store.writerDown(e);
      return;
    }
    subscriber.heartbeat();
  }

  /**
   * Sends a batch in one pipeline. On a connection failure the batch goes back to the queue, and
   * is tried once more at once (a pooled connection may have gone stale) before Redis counts as
   * down.
   */
  private void flush(List<Write> taken, boolean retry) {
    List<Write> batch = withoutEnded(taken);
    if (batch.isEmpty()) {
      queue.done();
      return;
    }
    List<Write> again = new ArrayList<>();
    try (AbstractPipeline p = store.client().pipelined()) {
      List<Response<Object>> responses = new ArrayList<>(batch.size());
      Map<String, String> health = new LinkedHashMap<>();
      for (Write w : batch) {
        if (w instanceof Write.Health h) {
          health.put(h.keyId(), Double.toString(h.score()));
          responses.add(null);
        } else {
          responses.add(send(p, w));
        }
      }
      Response<Long> healthWritten = health.isEmpty() ? null : p.hset(layout.health(), health);
      p.sync();
      boolean reload = false;
      RuntimeException unreachable = null;
      if (healthWritten != null) {
        try {
          healthWritten.get();
        } catch (IllegalStateException | JedisDataException e) {
          if (e instanceof JedisDataException && !isConnectionFailure(e)) {
            store.warnOnce("write:Health", "Redis store {} refused a Health write: {}; dropped",
                description, store.redact(e.getMessage()));
          } else {
            // the pool state's node was lost (a cluster pipeline leaves its answer unset)
            unreachable = new JedisConnectionException("a cluster node did not answer (down or"
                + " failing over)");
            for (Write w : batch) if (w instanceof Write.Health) again.add(w);
          }
        }
      }
      for (int i = 0; i < batch.size(); i++) {
        Response<Object> response = responses.get(i);
        if (response == null) continue;
        try {
          answered(batch.get(i), response.get());
        } catch (JedisNoScriptException e) {
          reload = true;
          again.add(batch.get(i));
        } catch (JedisDataException e) {
          if (isConnectionFailure(e)) {
            // a cluster slot moved or is failing over: written again once it is served
            unreachable = e;
            again.add(batch.get(i));
            continue;
          }
          store.warnOnce("write:" + batch.get(i).getClass().getSimpleName(),
              "Redis store {} refused a {} write: {}; dropped", description,
              batch.get(i).getClass().getSimpleName(), store.redact(e.getMessage()));
        } catch (IllegalStateException e) {
          // a cluster pipeline leaves the answers of a node it lost unset
          unreachable = new JedisConnectionException("a cluster node did not answer (down or"
              + " failing over)");
          again.add(batch.get(i));
        }
      }
      queue.done();
      if (unreachable != null) {
        queue.requeue(again);
        store.writerDown(unreachable);
        return;
      }
      if (reload) {
        store.loadScripts();
        queue.requeue(again);
      }
      if (!retry) checkDataLoss(); // this batch needed a new connection: Redis may be new too
    } catch (ForeignLayout e) {
      store.writerDown(e); // the batch is in; checked after it
    } catch (RuntimeException e) {
      queue.requeue(batch);
      if (!isConnectionFailure(e)) {
        store.warnOnce("flush", "Redis store {} failed to write a batch: {}", description,
            store.redact(rootMessage(e)));
      }
      if (retry && !store.closing) {
        store.dropIdleConnections();
        flush(queue.take(options.batchSize()), false);
      } else {
        store.writerDown(e);
      }
    }
  }

  /**
   * Drops cooldowns that ended before they could be written: they would expire in Redis at once
   * and mean nothing to other instances. A clear still goes out.
   */
  private List<Write> withoutEnded(List<Write> batch) {
    long now = clock.millis();
    List<Write> kept = null;
    for (int i = 0; i < batch.size(); i++) {
      Write w = batch.get(i);
      Write keep = w;
      if (w instanceof Write.Cooldown c && c.until() > 0 && c.until() <= now) {
        keep = c.clearFirst() ? new Write.Cooldown(c.project(), c.model(), 0, true) : null;
      }
      if (keep != w && kept == null) kept = new ArrayList<>(batch.subList(0, i));
      if (kept != null && keep != null) kept.add(keep);
    }
    return kept == null ? batch : kept;
  }

  private Response<Object> send(AbstractPipeline p, Write w) {
    if (w instanceof Write.Status s) {
      StateChange.KeyStatus st = s.status();
      return p.evalsha(shas.get(Scripts.STATUS),
          List.of(layout.status(st.keyId()), layout.statusIndex(), layout.removed(),
              layout.statusGenerations(), layout.generation()),
          List.of(st.keyId(), st.state().name(),
              st.until() == null ? "" : Long.toString(st.until().toEpochMilli()),
              st.reason() == null ? "" : st.reason(), Long.toString(st.at().toEpochMilli()),
              Long.toString(s.base()), instanceId, layout.channel(), Codec.status(instanceId, st),
              Long.toString(healthyStatusTtlMillis)));
    }
    if (w instanceof Write.Cooldown c) {
      String member = KeyLayout.cooldownMember(c.project(), c.model());
      return p.evalsha(shas.get(Scripts.COOLDOWN),
          List.of(layout.cooldown(member), layout.cooldownIndex(), layout.generation()),
          List.of(c.project(), c.model(), Long.toString(c.until()), c.clearFirst() ? "1" : "0",
              member, layout.channel(),
              c.clearFirst() ? Codec.cooldown(instanceId, c.project(), c.model(), 0, true) : "",
              c.until() > 0 ? Codec.cooldown(instanceId, c.project(), c.model(), c.until(), false)
                  : "", instanceId, Long.toString(c.base())));
    }
    if (w instanceof Write.Added a) {
      return p.evalsha(shas.get(Scripts.ADDED),
          List.of(layout.added(), layout.removed(), layout.generation()),
          List.of(a.key().id(), Codec.key(a.key()), layout.channel(),
              Codec.added(instanceId, a.key().id())));
    }
    if (w instanceof Write.Removed r) {
      return p.evalsha(shas.get(Scripts.REMOVED),
          List.of(layout.added(), layout.removed(), layout.status(r.keyId()),
              layout.statusIndex(), layout.health(), layout.statusGenerations(),
              layout.generation()),
          List.of(r.keyId(), layout.channel(), Codec.removed(instanceId, r.keyId())));
    }
    if (w instanceof Write.Breaker b) {
      StateChange.Breaker br = b.breaker();
      return p.evalsha(shas.get(Scripts.BREAKER),
          List.of(layout.breaker(br.name()), layout.breakerIndex(), layout.generation()),
          List.of(br.name(), br.state(),
              br.until() == null ? "" : Long.toString(br.until().toEpochMilli()), layout.channel(),
              Codec.breaker(instanceId, br)));
    }
    throw new IllegalArgumentException("unknown write " + w);
  }

  /**
   * What Redis answered to a write. A status another instance wrote since the one this write was
   * based on, or a cooldown that ends later or outlived a skipped clear, is handed to listeners:
   * it stands. A status Redis took only advances what this instance knows (its listeners have it,
   * and a newer local one may be queued). Any other change Redis took is handed to listeners again
   * unless something newer arrived meanwhile: a message from another instance may have been
   * delivered after this instance applied its change locally although Redis ordered it first.
   */
  private void answered(Write w, Object result) {
    if (!(result instanceof List<?> list) || list.isEmpty()) return;
    if (w instanceof Write.Status s) {
      if (list.size() == 1) {
        synchronized (mirror) {
          mirror.advance(s.slot(), parseLong(str(list.get(0))));
        }
        return;
      }
      if (list.size() != 5) return;
      StateChange.KeyStatus newer = status(s.status().keyId(), str(list.get(0)),
          str(list.get(1)), str(list.get(2)), str(list.get(3)));
      refused(s.slot(), parseLong(str(list.get(4))), "the {} status set for key {} on this"
          + " instance", s.status().state(), s.status().keyId(), str(list.get(0)));
      // the status that stands, unless this instance knows it (or newer) already: then it learnt
      // it after applying the refused change, so its listeners have it (or newer) since
      if (newer != null) store.deliverOrdered(newer, parseLong(str(list.get(4))));
      return;
    }
    if (w instanceof Write.Cooldown c) {
      if (c.clearFirst() && list.size() == 2) {
        // a clear is answered with the stored cooldown only when Redis skipped it
        refused(c.slot(), parseLong(str(list.get(1))), "the clear of the cooldown of {} on {}"
            + " made on this instance", c.project(), c.model(), "a cooldown");
      }
      // Redis's cooldown at that generation: the one that stands, or this write's outcome
      long until = list.size() == 2 ? parseLong(str(list.get(0))) : c.until();
      store.deliverCooldownAsStored(c, until, parseLong(str(list.get(list.size() - 1))));
      return;
    }
    long generation = parseLong(str(list.get(0)));
    synchronized (mirror) {
      if (!mirror.advance(w.slot(), generation)) return;
      for (StateChange change : changesOf(w)) {
        mirror.record(change);
        store.deliver(change);
      }
    }
  }

  /**
   * Counts a write Redis refused and logs it at WARN, once per stored generation of its slot: an
   * operator's reset that lost to a newer change would otherwise vanish while the admin API said
   * 200. {@code what} has two placeholders; {@code stands} names what another instance wrote.
   * Key ids, states and (project, model) only: no secret.
   */
  private void refused(String slot, long storedGeneration, String what, Object first,
      Object second, String stands) {
    refusedWrites.incrementAndGet();
    Long logged = refusalsLogged.put(slot, storedGeneration);
    if (logged != null && logged == storedGeneration) return;
    if (refusalsLogged.size() > 10_000) refusalsLogged.clear(); // bounded; at worst logs again
    log.warn("Redis store {}: Redis refused " + what + ": another instance wrote {} there since"
        + " the state it was based on (generation {}), and that stands (see refusedWrites())",
        description, first, second, stands, storedGeneration);
  }

  static List<StateChange> changesOf(Write w) {
    if (w instanceof Write.Cooldown c) {
      List<StateChange> changes = new ArrayList<>(2);
      if (c.clearFirst()) {
        changes.add(new StateChange.Cooldown(c.project(), c.model(), Instant.EPOCH, true));
      }
      if (c.until() > 0) {
        changes.add(new StateChange.Cooldown(c.project(), c.model(),
            Instant.ofEpochMilli(c.until()), false));
      }
      return changes;
    }
    if (w instanceof Write.Added a) return List.of(new StateChange.KeyAdded(a.key()));
    if (w instanceof Write.Removed r) return List.of(new StateChange.KeyRemoved(r.keyId()));
    if (w instanceof Write.Breaker b) return List.of(b.breaker());
    if (w instanceof Write.Health h) return List.of(new StateChange.Health(h.keyId(), h.score()));
    return List.of();
  }

  private static String str(Object o) {
    if (o == null) return null;
    if (o instanceof byte[] b) return new String(b, StandardCharsets.UTF_8);
    return o.toString();
  }

  // ---------------------------------------------------------------------------------------------
  // What the writer uses of the loader

  private StateChange.KeyStatus status(String keyId, String state, String until, String reason,
      String at) {
    return loader.status(keyId, state, until, reason, at);
  }
}
