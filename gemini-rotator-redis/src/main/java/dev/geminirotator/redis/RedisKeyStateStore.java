package dev.geminirotator.redis;

import dev.geminirotator.redis.RedisWriter.ForeignLayout;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.SharedValues;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.api.spi.StoreState;
import dev.geminirotator.api.spi.WindowCounters;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Connection;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.exceptions.JedisAccessControlException;
import redis.clients.jedis.exceptions.JedisClusterOperationException;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.exceptions.JedisNoScriptException;
import redis.clients.jedis.exceptions.JedisRedirectionException;

/**
 * A {@link KeyStateStore} in Redis, so that several proxies or app instances behind a load
 * balancer share one pool's state: key statuses, cooldowns per (project, model), health, keys
 * added and removed at run time, breaker state, and fixed-window counters.
 *
 * <p>The request path never waits on Redis. {@link #apply} merges the change into what this
 * instance knows (by {@link StoreState}'s rules, as every store does), hands what stands to this
 * store's listeners, returns it, and queues the change; one writer thread drains the queue in
 * pipelines, each change one Lua script that compares, writes and publishes atomically. Changes
 * are ordered by a sequence Redis keeps (its {@code TIME}, kept rising), never by the instances'
 * clocks: a status, or the clear of a cooldown, carries the generation of the state it was based
 * on, and Redis refuses it when another instance wrote that state since (compare-and-set); a
 * cooldown only moves later. So a reset queued during an outage and replayed afterwards never
 * undoes what other instances wrote meanwhile; its writer's listeners are handed the state that
 * stands (by the answer, or by a load that finds it first).
 * State transitions are published on {@code {prefix}changes} and reach other instances within
 * milliseconds; each instance skips its own messages by their origin id. When the subscription
 * comes back after a disconnect, the store reloads and hands listeners what it missed.
 *
 * <p>When Redis is unreachable the store keeps accepting changes, its {@linkplain #counters()
 * counters} throw (callers count locally), reports {@link #isAvailable()} {@code false}, logs once, and retries every
 * {@link RedisStoreOptions#retryInterval()}. Pending writes are merged per key (one entry per key,
 * cooldown or breaker) and bounded by {@link RedisStoreOptions#queueCapacity()}; past it the cooldowns
 * that have ended meanwhile leave first, and only if none has the oldest is dropped and counted in
 * {@link #droppedWrites()}. When Redis returns, queued writes are replayed;
 * if it came back empty (restarted without persistence), everything this instance knows is
 * written back first. Secrets of keys added at run time are stored in Redis (they must be, to be
 * shared) but never published, logged or shown by {@link #describe()}.
 *
 * <p>On a Redis Cluster ({@code redis-cluster://}) the pool's state shares one hash tag, so every
 * script runs on one master, while counters and values spread over all of them ({@code KeyLayout});
 * a slot that moves or fails over counts as unreachable until it is served again. Behind Redis
 * Sentinel ({@code redis-sentinel://}) the store follows the master the sentinels name. In both
 * the subscriber reconnects where it can, and how it connects is {@code RedisConnections}'.
 *
 * <p>Open it with {@link #open(RedisStoreOptions)}, or by URI through
 * {@link dev.geminirotator.api.spi.KeyStateStores#open(String)}. Thread-safe.
 *
 * <p>This class is the facade and keeps the connection lifecycle (open, availability, outages,
 * errors) and the delivery to listeners; package-private parts do the rest: {@code RedisWriter}
 * (the writer thread: flushes, answers, recovery, keepalive), {@code RedisLoader} (loads and
 * resyncs), {@code RedisSubscriber} (the subscriber thread), {@code RedisCounters} and
 * {@code RedisValues} (through {@code RedisAccess}), {@code RedisConnections}. Locks: the
 * {@code mirror}'s, then the write queue's, never the other way; the subscriber's own lock is
 * never held with either.
 */
public final class RedisKeyStateStore implements KeyStateStore {

  private static final Logger log = LoggerFactory.getLogger(RedisKeyStateStore.class);
  /** How long a HEALTHY status without a deadline stays in Redis (its generation stays). */
  static final long HEALTHY_STATUS_TTL_MILLIS = Duration.ofDays(1).toMillis();
  private static final int UNKNOWN = 0;
  private static final int UP = 1;
  private static final int DOWN = 2;

  private final RedisStoreOptions options;
  private final KeyLayout layout;
  private final Clock clock;
  private final String instanceId;
  private final String ownPrefix;
  private final String description;
  private final RedisConnections connections;
  private final Map<String, String> shas = new HashMap<>();

  private final Mirror mirror = new Mirror();
  private final WriteQueue queue;
  private final CopyOnWriteArrayList<Consumer<StateChange>> listeners =
      new CopyOnWriteArrayList<>();
  private final RedisCounters counters;
  private final RedisValues sharedValues;
  private final RedisLoader loader;
  private final CopyOnWriteArrayList<Runnable> saltListeners = new CopyOnWriteArrayList<>();

  private final RedisWriter writer;
  private final RedisSubscriber subscriber;
  // Shared with the parts: writerUp is set by start(), writerDown() and the writer's recovery;
  // keyIdSalt by start() and the writer; resyncRequested by the writer, the loader and the
  // subscriber; answeredPlain by start(), the writer and the subscriber; dropWarned by apply()
  // and the writer.
  volatile boolean writerUp;
  volatile boolean resyncRequested;
  volatile boolean closing;
  volatile boolean started;
  /** The salt of derived key ids, shared in Redis; null when Redis was unreachable at start. */
  volatile String keyIdSalt;
  /** Whether Redis ever answered this store in plain text: a later drop is then no TLS mismatch. */
  volatile boolean answeredPlain;
  private final AtomicBoolean closed = new AtomicBoolean();
  private final AtomicInteger reported = new AtomicInteger(UNKNOWN);
  final AtomicBoolean dropWarned = new AtomicBoolean();
  final Set<String> warnedOnce = ConcurrentHashMap.newKeySet();
  private final AtomicLong outages = new AtomicLong();

  private volatile String lastFailure;

  private RedisKeyStateStore(RedisStoreOptions options, long healthyStatusTtlMillis) {
    this.options = options;
    this.layout = options.mode() == RedisStoreOptions.Mode.CLUSTER
        ? KeyLayout.clustered(options.prefix()) : new KeyLayout(options.prefix());
    this.clock = options.clock();
    this.instanceId = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong()).substring(4);
    this.ownPrefix = Codec.ownPrefix(instanceId);
    this.description = options.describe();
    this.queue = new WriteQueue(options.queueCapacity(), clock);
    this.connections = RedisConnections.of(options, "gemini-rotator-" + instanceId);
    for (String script : List.of(Scripts.STATUS, Scripts.COOLDOWN, Scripts.ADDED,
        Scripts.REMOVED, Scripts.BREAKER, Scripts.COUNTER)) {
      shas.put(script, sha1(script));
    }
    RedisAccess access = new Access();
    this.counters = new RedisCounters(access, layout, clock);
    this.sharedValues = new RedisValues(access, layout);
    this.subscriber = new RedisSubscriber(this, options, layout, connections, queue, instanceId,
        ownPrefix, description);
    this.loader = new RedisLoader(this, layout, clock, instanceId, description, mirror, queue);
    this.writer = new RedisWriter(this, options, healthyStatusTtlMillis, layout, clock, instanceId,
        description, Map.copyOf(shas), mirror, queue, saltListeners, loader, subscriber);
  }

  /**
   * Opens a store: connects, checks the credentials, subscribes to changes and starts the writer.
   * If Redis cannot be reached the store still opens, unavailable, and connects when Redis comes.
   *
   * @throws IllegalStateException when Redis refuses the credentials; the message says so and never
   *     contains the password
   */
  public static RedisKeyStateStore open(RedisStoreOptions options) {
    return open(options, HEALTHY_STATUS_TTL_MILLIS);
  }

  /** As {@link #open(RedisStoreOptions)}, with HEALTHY statuses kept that long (tests). */
  static RedisKeyStateStore open(RedisStoreOptions options, long healthyStatusTtlMillis) {
    Objects.requireNonNull(options, "options");
    RedisKeyStateStore store = new RedisKeyStateStore(options, healthyStatusTtlMillis);
    try {
      store.start();
    } catch (RuntimeException e) {
      store.connections.close();
      throw e;
    }
    return store;
  }

  /** Opens a store for a {@code redis://} or {@code rediss://} URI; see {@link RedisStoreOptions}. */
  public static RedisKeyStateStore open(String uri) {
    return open(RedisStoreOptions.fromUri(uri));
  }

  private void start() {
    try {
      client().ping();
      answeredPlain = true;
      loadScripts();
      if (client().hsetnx(layout.meta(), KeyLayout.LAYOUT, KeyLayout.LAYOUT_VERSION) == 0) {
        writer.checkLayout();
      }
      client().hsetnx(layout.meta(), KeyLayout.KEY_ID_SALT, ApiKey.newIdSalt());
      keyIdSalt = client().hget(layout.meta(), KeyLayout.KEY_ID_SALT);
      writerUp = true;
    } catch (RuntimeException e) {
      if (e instanceof ForeignLayout) throw e;
      if (isAuthFailure(e)) {
        throw new IllegalStateException("authentication failed for Redis store " + description
            + ": " + redact(rootMessage(e)) + "; check the user and password in the storage URI");
      }
      if (Tls.isTlsFailure(e)) {
        throw new IllegalStateException("TLS handshake with Redis store " + description
            + " failed: " + redact(rootMessage(e)) + "; check that the server speaks TLS on this"
            + " port, that its certificate names the host, and that it is trusted (the JVM's"
            + " trust store, or truststore= in the storage URI)");
      }
      if (Tls.isTlsAnswerToPlainText(e)) {
        throw new IllegalStateException("Redis store " + description + " answered in TLS: use a"
            + " rediss:// URI for this port");
      }
      if (!isConnectionFailure(e)) {
        throw new IllegalStateException("Redis store " + description + " could not be opened: "
            + redact(rootMessage(e)), e);
      }
      writerUp = false;
      updateAvailability(e);
      log.warn("Redis store {} is unreachable at start: ids derived from key secrets use this"
          + " process's own salt until it connects, then change to the salt Redis shares; give"
          + " keys explicit ids, or the same key-id-salt everywhere, to avoid it", description);
    }
    subscriber.start();
    if (writerUp) {
      long deadline = System.nanoTime() + options.connectTimeout().plus(options.timeout()).toNanos();
      while (!subscriber.subscriberUp && System.nanoTime() < deadline) {
        Thread.onSpinWait();
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          break;
        }
      }
    }
    writer.start();
    started = true;
    updateAvailability(null);
  }

  // ---------------------------------------------------------------------------------------------
  // KeyStateStore

  @Override
  public StoreSnapshot load() {
    if (closed.get()) throw new IllegalStateException("Redis store " + description + " is closed");
    if (!writerUp) {
      String why = lastFailure;
      throw new IllegalStateException("Redis store " + description + " is unreachable"
          + (why != null ? " (" + why + ")" : "") + "; serving from local state until it returns");
    }
    try {
      return loader.loadAll().snapshot();
    } catch (RuntimeException e) {
      if (isConnectionFailure(e)) writerDown(e);
      throw new IllegalStateException("could not load from Redis store " + description + ": "
          + redact(rootMessage(e)));
    }
  }

  /**
   * Merges the change into what this instance knows ({@link StoreState}'s rules), hands what then
   * stands to the listeners, queues the change for Redis and returns what stands: the change, or
   * the later cooldown of that project and model already known here. Never waits on Redis. If
   * Redis later refuses the write (another instance wrote a newer state), the state that stands
   * in Redis is handed to the listeners, this instance's included.
   */
  @Override
  public StateChange apply(StateChange change) {
    Objects.requireNonNull(change, "change");
    if (closed.get()) {
      log.debug("Redis store {} is closed; ignored a {} change", description,
          change.getClass().getSimpleName());
      return change;
    }
    Write write = Write.of(change);
    StateChange standing;
    boolean dropped;
    synchronized (mirror) {
      // what this change replaces, as this instance knows it now: Redis refuses it if another
      // instance wrote the same state after that (a reset replayed after an outage, say)
      if (write instanceof Write.Status s) {
        write = new Write.Status(s.status(), mirror.known(s.slot()));
      } else if (write instanceof Write.Cooldown c && c.clearFirst()) {
        write = c.withBase(mirror.known(c.slot()));
      }
      standing = mirror.record(change);
      if (!(change instanceof StateChange.Health)) deliver(standing);
      // queued in the order listeners saw the changes: of two threads applying to one key, the
      // one whose change was delivered last must be the one written last
      dropped = queue.offer(write);
    }
    if (dropped && dropWarned.compareAndSet(false, true)) {
      log.warn("Redis store {}: {} writes are pending, the most it keeps; dropping the oldest"
          + " (see droppedWrites())", description, options.queueCapacity());
    }
    return standing;
  }

  @Override
  public Subscription subscribe(Consumer<StateChange> listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** Counters in Redis, shared by every instance; they throw while Redis cannot count. */
  @Override
  public Optional<WindowCounters> counters() {
    return Optional.of(counters);
  }

  /** Values in Redis, shared by every instance; best effort while Redis is unreachable. */
  @Override
  public Optional<SharedValues> values() {
    return Optional.of(sharedValues);
  }

  /**
   * The salt of ids derived from key secrets, kept in the {@code meta} hash: the first store to
   * open on a Redis creates it (HSETNX of 32 random bytes), every later one reads it, and a store
   * writes its own back if Redis comes back without its data. When Redis holds another (this store
   * opened while Redis was down, or another instance reached an emptied Redis first), this store
   * adopts Redis's and tells {@link #onKeyIdSaltChange} listeners. {@code null} until this store
   * first reached Redis.
   */
  @Override
  public String keyIdSalt() {
    return keyIdSalt;
  }

  /**
   * Called when this store adopts the salt Redis holds: when it first reaches Redis after opening
   * while Redis was down, or when Redis lost its data and another instance set a new salt first.
   * Runs on the writer thread before anything more is written.
   */
  @Override
  public Subscription onKeyIdSaltChange(Runnable listener) {
    Objects.requireNonNull(listener, "listener");
    saltListeners.add(listener);
    return () -> saltListeners.remove(listener);
  }

  @Override
  public boolean isAvailable() {
    return writerUp && subscriber.subscriberUp && !closed.get();
  }

  @Override
  public String describe() {
    return description;
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) return;
    closing = true;
    queue.wake();
    writer.join(options.timeout().multipliedBy(2).plus(options.linger()).plusSeconds(1));
    subscriber.stop();
    int left = queue.size();
    if (left > 0) {
      log.warn("Redis store {} closed with {} writes not in Redis", description, left);
    }
    connections.close();
    listeners.clear();
  }

  /** What the counters and values use of the connection lifecycle kept here. */
  private final class Access implements RedisAccess {
    @Override
    public boolean usable() {
      return writerUp && !closed.get();
    }

    @Override
    public UnifiedJedis client() {
      return RedisKeyStateStore.this.client();
    }

    @Override
    public Object evalsha(String script, List<String> keys, List<String> args) {
      return RedisKeyStateStore.this.evalsha(script, keys, args);
    }

    @Override
    public String failed(RuntimeException e, String what, String format, Object... args) {
      String why = redact(rootMessage(e));
      if (isConnectionFailure(e)) {
        writerDown(e);
      } else {
        Object[] all = java.util.Arrays.copyOf(args, args.length + 1);
        all[args.length] = why;
        warnOnce(what, format, all);
      }
      return why;
    }

    @Override
    public String description() {
      return description;
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Views

  /** The id this instance stamps on what it publishes, to skip its own messages. */
  public String instanceId() {
    return instanceId;
  }

  /** The options the store was opened with. */
  public RedisStoreOptions options() {
    return options;
  }

  /** Writes dropped because the queue was full while Redis was slow or unreachable. */
  public long droppedWrites() {
    return queue.dropped();
  }

  /** Writes not yet in Redis, merged per key, cooldown and breaker: queued or being sent. */
  public int pendingWrites() {
    return queue.unacknowledged();
  }

  /** How many times Redis became unreachable since the store opened. */
  public long outages() {
    return outages.get();
  }

  /**
   * Writes Redis refused by compare-and-set since the store opened: statuses (an operator's reset
   * or disable, say) and cooldown clears based on state another instance changed since, replayed
   * after an outage or raced. What the other instance wrote stands; each refusal is logged at WARN
   * once per stored change.
   */
  public long refusedWrites() {
    return writer.refusedWrites();
  }

  /** How many times the store reloaded state after its subscription came back. */
  public long resyncs() {
    return loader.resyncs();
  }

  @Override
  public String toString() {
    return "RedisKeyStateStore{" + description + ", instance=" + instanceId + ", available="
        + isAvailable() + '}';
  }

  // ---------------------------------------------------------------------------------------------
  // Delivery

  /** Hands a change Redis numbered to the listeners unless a newer one of its slot is known. */
  void deliverOrdered(StateChange change, long generation) {
    synchronized (mirror) {
      if (!mirror.advance(Write.slotOf(change), generation)) return;
      mirror.record(change);
      deliver(change);
    }
  }

  /**
   * Makes what listeners hold of a cooldown exactly what Redis held at {@code generation}
   * ({@code until} 0: none), unless something newer of it is known. Moving a cooldown later is not
   * enough, so a cooldown this instance holds that ends later than the stored one is cleared
   * first: an answer to this instance's own write may come before the messages of changes Redis
   * ordered earlier (another instance's clear, say), which are then skipped as old; and a message
   * may follow a clear this instance made but whose answer it has not had yet.
   */
  void deliverCooldownAsStored(Write.Cooldown c, long until, long generation) {
    deliverCooldownAsStored(c.project(), c.model(), c.slot(), until, generation, true);
  }

  /**
   * As {@link #deliverCooldownAsStored(Write.Cooldown, long, long)}. {@code sameGeneration}: the
   * very generation known already still gets delivered (an answer to this instance's own set:
   * this instance may have cleared the cooldown locally since, a clear Redis skipped); a message
   * of a known generation does not.
   */
  void deliverCooldownAsStored(String project, String model, String slot, long until,
      long generation, boolean sameGeneration) {
    synchronized (mirror) {
      if (sameGeneration) {
        if (generation < mirror.known(slot)) return;
        mirror.advance(slot, generation);
      } else if (!mirror.advance(slot, generation)) {
        return;
      }
      long now = clock.millis();
      StateChange.Cooldown held = mirror.cooldown(project, model);
      long heldUntil = held == null ? 0 : held.until().toEpochMilli();
      if (heldUntil <= now) heldUntil = 0; // ended: nothing to undo
      if (heldUntil > until) {
        StateChange.Cooldown clear = new StateChange.Cooldown(project, model, Instant.EPOCH, true);
        mirror.record(clear);
        deliver(clear);
        heldUntil = 0;
      }
      if (until > heldUntil && until > now) {
        StateChange.Cooldown set =
            new StateChange.Cooldown(project, model, Instant.ofEpochMilli(until), false);
        mirror.record(set);
        deliver(set);
      }
    }
  }

  /** Hands a change read by a load to the listeners. */
  void deliverLoaded(StateChange change) {
    synchronized (mirror) {
      mirror.record(change);
      deliver(change);
    }
  }

  void deliver(StateChange change) {
    for (Consumer<StateChange> listener : listeners) {
      try {
        listener.accept(change);
      } catch (RuntimeException e) {
        log.warn("store listener failed on {}; ignored", change.getClass().getSimpleName(), e);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Connection lifecycle

  /** The pooled client (on a cluster or sentinel, built when first reachable). */
  UnifiedJedis client() {
    return connections.client();
  }

  private Object evalsha(String script, List<String> keys, List<String> args) {
    try {
      return client().evalsha(shas.get(script), keys, args);
    } catch (JedisNoScriptException e) {
      return client().eval(script, keys, args);
    }
  }

  void loadScripts() {
    connections.loadScripts(List.copyOf(shas.keySet()), layout.meta());
  }

  /** Closes idle pooled connections: after a disconnect they are likely dead too. */
  void dropIdleConnections() {
    connections.reset();
  }

  /** Writes back what this instance knows if Redis lost its data; see the writer. */
  void checkDataLoss() {
    writer.checkDataLoss();
  }

  void writerDown(Throwable cause) {
    dropIdleConnections();
    writerUp = false;
    updateAvailability(cause);
    queue.wake();
  }

  // ---------------------------------------------------------------------------------------------
  // Availability and errors

  void updateAvailability(Throwable cause) {
    if (cause != null) lastFailure = failure(cause);
    if (!started && writerUp) return; // still connecting; start() reports the outcome
    boolean up = writerUp && subscriber.subscriberUp && !closing;
    int now = up ? UP : DOWN;
    int before = reported.getAndSet(now);
    if (before == now || closing) return;
    if (up) {
      if (before == UNKNOWN) {
        log.info("Redis store {} connected (instance {})", description, instanceId);
      } else {
        log.info("Redis store {} is reachable again; replaying {} queued writes", description,
            queue.size());
      }
    } else {
      outages.incrementAndGet();
      log.warn("Redis store {} is unreachable ({}); serving from local state and queuing writes"
          + " until it returns", description, cause == null ? "connection lost"
          : failure(cause));
    }
  }

  /**
   * Why Redis cannot be reached, without the password, with a hint only when TLS looks
   * mismatched: a plain connection answered with a TLS record, or reset on a port that never
   * answered this store in plain text; or a TLS handshake that a plain port never answers. A plain
   * connection dropped by a server that answered before (a restart, a network cut) gets no hint.
   */
  private String failure(Throwable cause) {
    String message = redact(rootMessage(cause));
    if (!options.tls() && message != null && (Tls.isTlsAnswerToPlainText(cause)
        || (!answeredPlain && (message.contains("Connection reset")
            || message.contains("end of stream"))))) {
      return message + "; if the server expects TLS on this port, use a rediss:// URI";
    }
    if (options.tls() && Tls.failedInHandshake(cause)) {
      return message + " during the TLS handshake; check that the server speaks TLS on this port"
          + " (a plain port needs a redis:// URI)";
    }
    return message;
  }

  void warnOnce(String what, String format, Object... args) {
    if (warnedOnce.add(what)) log.warn(format, args);
  }

  /**
   * Whether Redis cannot be reached now, as opposed to refusing a command: a connection failure,
   * or a server that cannot serve yet (loading; a cluster slot moved, down or failing over; a
   * master that became a replica).
   */
  static boolean isConnectionFailure(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof JedisConnectionException || c instanceof java.io.IOException
          || c instanceof JedisAccessControlException
          || c instanceof JedisRedirectionException
          || c instanceof JedisClusterOperationException) {
        return true;
      }
      String m = c.getMessage();
      if (m != null && (m.startsWith("NOAUTH") || m.startsWith("LOADING")
          || m.startsWith("CLUSTERDOWN") || m.startsWith("TRYAGAIN") || m.startsWith("READONLY")
          || m.startsWith("MASTERDOWN")
          || m.contains("Could not get a resource from the pool")
          || m.contains("Failed to create"))) {
        return true;
      }
    }
    return false;
  }

  static boolean isAuthFailure(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof JedisAccessControlException) return true;
      String m = c.getMessage();
      if (m != null && (m.startsWith("NOAUTH") || m.startsWith("WRONGPASS")
          || m.contains("invalid password") || m.contains("without any password configured")
          || m.contains("invalid username-password"))) {
        return true;
      }
    }
    return false;
  }

  static String rootMessage(Throwable t) {
    Throwable root = t;
    String message = t.getMessage();
    while (root.getCause() != null && root.getCause() != root) {
      root = root.getCause();
      if (root.getMessage() != null) message = root.getMessage();
    }
    return message == null ? t.getClass().getSimpleName() : message;
  }

  /** Removes the password from a message, should a server or driver ever echo it. */
  String redact(String message) {
    if (message == null) return null;
    String password = options.password();
    return password == null ? message : message.replace(password, "****");
  }

  private static int millis(Duration d) {
    return (int) Math.min(Integer.MAX_VALUE, d.toMillis());
  }

  private static String sha1(String script) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1")
          .digest(script.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-1 is missing from this JDK", e);
    }
  }

  static void join(Thread thread, Duration timeout) {
    try {
      thread.join(Math.max(1, timeout.toMillis()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
