package dev.geminirotator.core.rotation;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.RotatorStats;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.event.KeyAdded;
import dev.geminirotator.api.event.KeyRemoved;
import dev.geminirotator.api.event.KeyRotated;
import dev.geminirotator.api.event.RotatorEvent;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.api.event.StormEvent;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.core.internal.exchange.SecretScrubber;
import dev.geminirotator.core.health.HealthPolicy;
import dev.geminirotator.core.internal.quota.SharedQuotas;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.EnumMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The {@link KeyRotator} of gemini-rotator: strategies, health, project-shared cooldowns, storm
 * guard, quotas, and state kept in a {@link KeyStateStore}. A key's requests-per-minute and
 * requests-per-day quotas are {@link SharedQuotas}: every rotator on the store counts them
 * together, from blocks of permits claimed in the background.
 *
 * <p>The hot path ({@link #acquire} and completing a lease with success) takes no lock and, in a
 * pool without quotas, allocates only the lease (and, while most keys cannot serve, a list of those
 * that can now and then). Selection reads an immutable {@link Pool} and per-key volatile state; it
 * costs O(1) whatever the pool size (amortized when most keys cannot serve), and skipping keys that
 * cannot serve never funnels their share onto a neighbour (see {@link Selection}). State
 * transitions synchronize on the key they change and are written to the store after the lock is
 * released; the rotator then adopts the state the store answers stands for what it wrote. Changes
 * from other rotators sharing the store arrive through its subscription and are applied
 * idempotently.
 *
 * <p>This class is the facade; the work is done by package-private parts, each owning one
 * concern: {@link Selection} (which key serves a request), {@link HealthStates} (what an outcome
 * does to a key and its project: statuses, cooldowns, trials, storms, operator resets),
 * {@link Membership} (which keys the pool holds, their id salt), {@link StoreSync} (writing to the
 * store, adopting its answers, following it) and {@link CooldownEnds} (logging a cooldown's end).
 *
 * <p>Thread-safe.
 */
public final class GeminiKeyRotator implements KeyRotator {

  private static final Logger log = LoggerFactory.getLogger(GeminiKeyRotator.class);

  static {
    // The transports scrub every pool secret from what reaches a client; they reach the pool's
    // scrubber through core's internal package instead of a public method on this API.
    SecretScrubber.installPoolScrubbers(rotator -> rotator.membership.secretScrubber());
  }

  private final Strategy strategy;
  private final HealthPolicy health;
  private final CooldownPolicy cooldowns;
  private final Clock clock;
  private final KeyStateStore store;
  private final Subscription saltSubscription;
  private final boolean ownsStore;
  private final SharedQuotas quotas;

  /** What {@link Selection} draws from when most keys cannot serve; told when one may again. */
  private final FallbackLists fallback = new FallbackLists();
  private final ListenerSet listeners = new ListenerSet(log);
  private final Membership membership;
  private final Selection selection;
  private final CooldownEnds ends;
  private final StoreSync sync;
  private final HealthStates states;

  /** The operator log of states and cooldowns, throttled per key and per project and model. */
  private final StateLog stateLog = new StateLog(log);

  private final LongAdder noKeyAvailable = new LongAdder();
  private final LongAdder[] outcomes = new LongAdder[Outcome.Kind.values().length];
  private final java.util.concurrent.atomic.AtomicBoolean closed =
      new java.util.concurrent.atomic.AtomicBoolean();

  private GeminiKeyRotator(Builder b) {
    this.strategy = b.strategy;
    this.health = b.health;
    this.cooldowns = b.cooldowns;
    this.clock = b.clock;
    this.store = b.store != null ? b.store : new MemoryKeyStateStore();
    this.ownsStore = b.store == null || b.ownsStore;
    // A credit of one request: the first request of a window on a key under 64 per window is
    // never refused while the first block is claimed. Gemini is the final enforcer (a 429 is
    // retried on another key), so refusing a legitimate request is worse than the bounded
    // overshoot this allows: at most one request per instance per window (see SharedQuota).
    SharedQuotas.Builder quotas = SharedQuotas.builder(store).clock(clock)
        .dailyResetZone(cooldowns.dailyResetZone()).minimumCredit(1);
    // A store private to this JVM counts without I/O: claim at once, so a quota is exact.
    if (!store.isShared()) quotas.executor(Runnable::run);
    this.quotas = quotas.build();
    this.membership = new Membership(store, b.keyIdSalt, clock, this.quotas, listeners, log);
    this.selection = new Selection(this, strategy, clock, fallback, membership.projects);
    this.ends = new CooldownEnds(clock, stateLog, membership, closed, log);
    this.sync = new StoreSync(store, clock, health, fallback, stateLog, listeners, membership,
        ends, log);
    this.states = new HealthStates(health, cooldowns, b.storm, clock, fallback, stateLog,
        listeners, membership, sync, ends, log);
    for (int i = 0; i < outcomes.length; i++) outcomes[i] = new LongAdder();
    b.listeners.forEach(listeners::add);

    membership.addConfigured(b.keys.values());
    this.saltSubscription = b.keyIdSalt != null ? () -> { }
        : store.onKeyIdSaltChange(membership::followStoreSalt);
    membership.followStoreSalt(); // the store may have connected while this rotator was built
    sync.start(b.reconcileInterval);
  }

  /** Starts a builder with the defaults: round-robin, default policies, memory store. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The key as this rotator holds it: a derived id is derived under the salt the rotator uses
   * (the builder's {@link Builder#keyIdSalt}, else its store's {@link KeyStateStore#keyIdSalt()},
   * else this process's), so every instance on one store gives one secret the same id. A key
   * with an explicit id is returned as it is. Callers that keep keys by id use this one's.
   */
  public ApiKey poolKey(ApiKey key) {
    return membership.poolKey(key);
  }

  // ---------------------------------------------------------------------------------------------
  // Hot path

  @Override
  public KeyLease acquire(RequestContext context) {
    Objects.requireNonNull(context, "context");
    if (closed.get()) {
      throw new IllegalStateException("rotator is closed");
    }
    Pool p = membership.pool;
    String model = context.model();
    Lease lease = p.size() == 0 ? null : selection.pick(p, context, model);
    if (lease == null) {
      noKeyAvailable.increment();
      throw Selection.noKeyAvailable(p, context, model, clock.millis());
    }
    if (!context.triedKeyIds().isEmpty() && !listeners.isEmpty()) {
      fire(new KeyRotated(model, lease.slot.id, context.triedKeyIds().size() + 1, clock.instant()));
    }
    return lease;
  }

  void onComplete(Lease lease, Outcome outcome) {
    KeySlot slot = lease.slot;
    slot.exit();
    Outcome.Kind kind = outcome.kind();
    if (kind != Outcome.Kind.SUCCESS) {
      outcomes[kind.ordinal()].increment(); // successes are counted per key only
    }
    if (slot.removed) {
      // The key was removed or replaced while this lease was out. What the attempt learned
      // applies to the key now in the pool only if that key has the same secret.
      KeySlot current = membership.pool.byId.get(slot.id);
      if (kind == Outcome.Kind.SUCCESS) membership.retiredSuccesses.increment();
      if (current == null || !current.key.secret().equals(slot.key.secret())) return;
      slot = current;
    } else if (kind == Outcome.Kind.SUCCESS) {
      slot.countSuccess();
    }
    switch (kind) {
      case SUCCESS -> {
        slot.raiseHealth(health.alpha());
        slot.project.resetStreak(lease.model);
        if (lease.isTrial()) states.trialSucceeded(slot);
        if (states.anyStormActive()) states.checkStormsEnded();
      }
      case RATE_LIMITED -> {
        slot.countFailure();
        states.rateLimited(slot, lease.model, (Outcome.RateLimited) outcome);
        if (lease.isTrial()) states.trialInconclusive(slot);
      }
      case KEY_REJECTED -> {
        slot.countFailure();
        states.rejected(slot, (Outcome.KeyRejected) outcome);
      }
      case UPSTREAM_ERROR, TRANSPORT_ERROR -> {
        slot.countFailure();
        states.upstreamFailure(slot, lease.isTrial(), outcome);
      }
      case CLIENT_ERROR, CANCELLED -> {
        if (lease.isTrial()) states.trialInconclusive(slot);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // No key

  /**
   * When a key could next take a request for this model: the earliest instant a key that is
   * neither invalid nor disabled is past its cooldowns and, when unhealthy, due for its trial;
   * empty when no key frees up by itself (see {@link KeyRotator#earliestAvailable(String)}).
   *
   * <p>Per-key quotas count too: a key whose quota is spent frees up when its next permit comes.
   * O(pool size): for error answers only.
   */
  @Override
  public Optional<Instant> earliestAvailable(String model) {
    Objects.requireNonNull(model, "model");
    long earliest = Selection.earliestFree(membership.pool, RequestContext.anyModel(), model,
        clock.millis(), null);
    return earliest == Long.MAX_VALUE ? Optional.empty()
        : Optional.of(Instant.ofEpochMilli(earliest));
  }

  @Override
  public Optional<Instant> earliestAvailable(RequestContext context) {
    Objects.requireNonNull(context, "context");
    long earliest = Selection.earliestFree(membership.pool, context, context.model(),
        clock.millis(), null);
    return earliest == Long.MAX_VALUE ? Optional.empty()
        : Optional.of(Instant.ofEpochMilli(earliest));
  }

  // ---------------------------------------------------------------------------------------------
  // Admin

  @Override
  public void addKey(ApiKey key) {
    Objects.requireNonNull(key, "key");
    addKeys(List.of(key));
  }

  /**
   * Adds or replaces many keys with one change of membership: the pool is rebuilt once, not once
   * per key, so a batch costs time and memory linear in the pool and the batch. When an id
   * appears twice, the later key wins.
   */
  @Override
  public void addKeys(Collection<ApiKey> keys) {
    Objects.requireNonNull(keys, "keys");
    List<ApiKey> pooled = new ArrayList<>(keys.size());
    for (ApiKey key : keys) pooled.add(poolKey(Objects.requireNonNull(key, "keys contains null")));
    for (ApiKey key : membership.addLocally(pooled, false)) {
      sync.write(new StateChange.KeyAdded(key));
    }
  }

  @Override
  public boolean removeKey(String keyId) {
    if (membership.removeLocally(keyId, false)) {
      sync.write(new StateChange.KeyRemoved(keyId));
      return true;
    }
    return false;
  }

  /**
   * Makes the pool hold exactly these keys: adds the new ones, updates changed ones (weight,
   * labels, quotas, secret) keeping their state, removes the rest. For config reloads.
   */
  public void updateKeys(Collection<ApiKey> keys) {
    Map<String, ApiKey> wanted = new LinkedHashMap<>();
    for (ApiKey key : keys) {
      ApiKey pooled = poolKey(key);
      wanted.put(pooled.id(), pooled);
    }
    for (KeySlot slot : membership.pool.slots) {
      if (!wanted.containsKey(slot.id)) removeKey(slot.id);
    }
    addKeys(wanted.values());
  }

  @Override
  public boolean disable(String keyId) {
    return states.setDisabled(keyId, true);
  }

  @Override
  public boolean enable(String keyId) {
    return states.setDisabled(keyId, false);
  }

  @Override
  public boolean reset(String keyId) {
    return states.reset(keyId);
  }


  // ---------------------------------------------------------------------------------------------
  // Views

  @Override
  public List<KeySnapshot> snapshot() {
    long now = clock.millis();
    KeySlot[] slots = membership.pool.slots;
    List<KeySnapshot> result = new ArrayList<>(slots.length);
    for (KeySlot slot : slots) result.add(snapshotOf(slot, now));
    return result;
  }

  @Override
  public Optional<KeySnapshot> snapshot(String keyId) {
    KeySlot slot = membership.pool.byId.get(keyId);
    return slot == null ? Optional.empty() : Optional.of(snapshotOf(slot, clock.millis()));
  }

  /**
   * The key as an operator sees it. A cooldown of its project found ended here is logged as
   * ended (once, whoever sees it first: this, the end check, or a new cooldown replacing it).
   */
  private KeySnapshot snapshotOf(KeySlot slot, long now) {
    ends.expire(slot.project, now);
    Map<String, Instant> cooling = new LinkedHashMap<>();
    Map<String, String> reasons = new LinkedHashMap<>();
    ProjectState.Cooling last = null;
    for (Map.Entry<String, ProjectState.Cooling> e : slot.project.active(now).entrySet()) {
      ProjectState.Cooling c = e.getValue();
      cooling.put(e.getKey(), Instant.ofEpochMilli(c.until()));
      reasons.put(e.getKey(), c.reason());
      if (last == null || c.until() > last.until()) last = c;
    }
    KeyState state = slot.baseState();
    Instant until = null;
    String reason;
    switch (state) {
      case HEALTHY -> {
        if (last != null) {
          state = KeyState.RATE_LIMITED;
          until = Instant.ofEpochMilli(last.until());
          reason = last.reason();
        } else {
          reason = null;
        }
      }
      case UNHEALTHY -> {
        until = slot.status == KeySlot.UNHEALTHY ? Instant.ofEpochMilli(slot.statusUntil) : null;
        reason = slot.status == KeySlot.PROBING ? "on trial: " + slot.reason : slot.reason;
      }
      case DISABLED -> reason = slot.disabledReason;
      default -> reason = slot.reason;
    }
    return new KeySnapshot(slot.id, slot.key.masked(), slot.key.weight(), slot.key.labels(), state,
        slot.health(), slot.inFlight(), cooling, until, reason, slot.successes(),
        slot.failures(), reasons);
  }

  @Override
  public RotatorStats stats() {
    // Successes and in-flight counts live on the keys, so the request path touches fewer
    // counters; keys that were removed hand theirs to retiredSuccesses.
    long successes = membership.retiredSuccesses.sum();
    long inFlight = 0;
    for (KeySlot slot : membership.pool.slots) {
      successes += slot.successes();
      inFlight += slot.inFlight();
    }
    EnumMap<Outcome.Kind, Long> byKind = new EnumMap<>(Outcome.Kind.class);
    long completed = 0;
    for (Outcome.Kind kind : Outcome.Kind.values()) {
      long n = kind == Outcome.Kind.SUCCESS ? successes : outcomes[kind.ordinal()].sum();
      byKind.put(kind, n);
      completed += n;
    }
    return new RotatorStats(completed + inFlight, noKeyAvailable.sum(), byKind,
        states.cooldownsStarted(), selection.trials());
  }

  /** Fallback lists built so far (see {@link FallbackLists}): for tests. */
  long fallbackListBuilds() {
    return fallback.builds();
  }

  /** Whether a storm of the given kind is in progress. */
  public boolean stormActive(StormEvent.Kind kind) {
    return states.stormActive(kind);
  }

  /** The selection strategy. */
  public Strategy strategy() {
    return strategy;
  }

  /** The store this rotator keeps its state in. */
  public KeyStateStore store() {
    return store;
  }

  @Override
  public Subscription addListener(RotatorListener listener) {
    Objects.requireNonNull(listener, "listener");
    return listeners.add(listener);
  }

  private void fire(RotatorEvent event) {
    listeners.fire(event);
  }

  /** Reloads the store's state and applies what differs; what a periodic reconcile runs. */
  public void reconcile() {
    sync.reconcile();
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) return;
    sync.stopReconciling();
    ends.close();
    quotas.close();
    sync.close(); // the last health of every key, then the subscription
    listeners.close(); // what the store told before this is still heard
    saltSubscription.close();
    if (ownsStore) store.close();
  }

  @Override
  public String toString() {
    return "GeminiKeyRotator{keys=" + membership.pool.size() + ", strategy=" + strategy + ", store="
        + store.describe() + '}';
  }

  /** Builds a {@link GeminiKeyRotator}. Not thread-safe. */
  public static final class Builder {
    private final Map<String, ApiKey> keys = new LinkedHashMap<>();
    private Strategy strategy = Strategy.ROUND_ROBIN;
    private HealthPolicy health = HealthPolicy.defaults();
    private CooldownPolicy cooldowns = CooldownPolicy.defaults();
    private StormPolicy storm = StormPolicy.defaults();
    private Clock clock = Clock.systemUTC();
    private KeyStateStore store;
    private boolean ownsStore;
    private String keyIdSalt;
    private Duration reconcileInterval;
    private final List<RotatorListener> listeners = new ArrayList<>();

    private Builder() {
    }

    /** Adds a key; ids must be unique. */
    public Builder key(ApiKey key) {
      Objects.requireNonNull(key, "key");
      if (keys.putIfAbsent(key.id(), key) != null) {
        throw new IllegalArgumentException("key id " + key.id() + " is used twice");
      }
      return this;
    }

    public Builder keys(Collection<ApiKey> keys) {
      keys.forEach(this::key);
      return this;
    }

    /** Adds keys from bare secrets, with derived ids. */
    public Builder secrets(String... secrets) {
      for (String secret : secrets) key(ApiKey.of(secret));
      return this;
    }

    public Builder strategy(Strategy strategy) {
      this.strategy = Objects.requireNonNull(strategy, "strategy");
      return this;
    }

    public Builder health(HealthPolicy health) {
      this.health = Objects.requireNonNull(health, "health");
      return this;
    }

    public Builder cooldowns(CooldownPolicy cooldowns) {
      this.cooldowns = Objects.requireNonNull(cooldowns, "cooldowns");
      return this;
    }

    public Builder storm(StormPolicy storm) {
      this.storm = Objects.requireNonNull(storm, "storm");
      return this;
    }

    /** The time source; tests pass a fake clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * The store to keep state in. The caller keeps ownership unless {@code owned} is true, in
     * which case the rotator closes it. Default: a private memory store.
     */
    public Builder store(KeyStateStore store, boolean owned) {
      this.store = Objects.requireNonNull(store, "store");
      this.ownsStore = owned;
      return this;
    }

    /**
     * The salt ids derived from secrets are made with, for every instance of the pool alike;
     * default: the store's ({@link KeyStateStore#keyIdSalt()}), else this process's random one.
     * Keep it as secret as the keys: with it, an id confirms a guessed key.
     */
    public Builder keyIdSalt(String salt) {
      Objects.requireNonNull(salt, "key-id-salt");
      if (salt.isBlank()) throw new IllegalArgumentException("key-id-salt must not be blank");
      this.keyIdSalt = salt;
      return this;
    }

    /** A shared store the caller closes. */
    public Builder store(KeyStateStore store) {
      return store(store, false);
    }

    /** Reloads the store's state this often, repairing anything a subscription missed. */
    public Builder reconcileEvery(Duration interval) {
      this.reconcileInterval = dev.geminirotator.core.internal.Checks.positive(
          "reconcile-interval", interval);
      return this;
    }

    public Builder listener(RotatorListener listener) {
      listeners.add(Objects.requireNonNull(listener, "listener"));
      return this;
    }

    public GeminiKeyRotator build() {
      return new GeminiKeyRotator(this);
    }
  }
}
