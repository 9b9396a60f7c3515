package dev.geminirotator.core.rotation;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.RotatorStats;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.event.CooldownStarted;
import dev.geminirotator.api.event.KeyAdded;
import dev.geminirotator.api.event.KeyRemoved;
import dev.geminirotator.api.event.KeyRotated;
import dev.geminirotator.api.event.RotatorEvent;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.api.event.StateTransition;
import dev.geminirotator.api.event.StormEvent;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.core.exchange.SecretScrubber;
import dev.geminirotator.core.health.HealthPolicy;
import dev.geminirotator.core.quota.SharedQuotas;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
 * released; the rotator then adopts the state the store answers stands for what it wrote (see
 * {@link #storeWrite}). Changes from other rotators sharing the store arrive through its
 * subscription and are applied idempotently.
 *
 * <p>Thread-safe.
 */
public final class GeminiKeyRotator implements KeyRotator {

  private static final Logger log = LoggerFactory.getLogger(GeminiKeyRotator.class);
  private static final long RECONCILE_GRACE_MILLIS = 10_000;

  private final Strategy strategy;
  private final HealthPolicy health;
  private final CooldownPolicy cooldowns;
  private final Clock clock;
  private final KeyStateStore store;
  private final Subscription saltSubscription;
  private final boolean ownsStore;
  private final Subscription storeSubscription;
  private final ScheduledExecutorService reconciler;
  private final SharedQuotas quotas;

  private final StormGuard rateLimitStorm;
  private final StormGuard rejectionStorm;
  /** What {@link Selection} draws from when most keys cannot serve; told when one may again. */
  private final FallbackLists fallback = new FallbackLists();
  private final ListenerSet listeners = new ListenerSet(log);
  private final Membership membership;
  private final Selection selection;

  /** The operator log of states and cooldowns, throttled per key and per project and model. */
  private final StateLog stateLog = new StateLog(log);
  /**
   * Checks that log a cooldown's end when it comes: one pending per project and model (the key
   * is {@code project NUL model}). The thread starts with the first cooldown; see
   * {@link #scheduleEndCheck}.
   */
  private final ConcurrentHashMap<String, Boolean> endChecks = new ConcurrentHashMap<>();
  private volatile ScheduledExecutorService endCheckExecutor;
  /** Set once the state loaded at start is applied: later changes from the store are logged. */
  private volatile boolean started;

  private final LongAdder noKeyAvailable = new LongAdder();
  private final LongAdder cooldownsStarted = new LongAdder();
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
    this.rateLimitStorm = new StormGuard(b.storm);
    this.rejectionStorm = new StormGuard(b.storm);
    for (int i = 0; i < outcomes.length; i++) outcomes[i] = new LongAdder();
    b.listeners.forEach(listeners::add);

    membership.addConfigured(b.keys.values());
    this.saltSubscription = b.keyIdSalt != null ? () -> { }
        : store.onKeyIdSaltChange(membership::followStoreSalt);
    membership.followStoreSalt(); // the store may have connected while this rotator was built
    applySnapshot(loadFromStore(), true);
    started = true;
    this.storeSubscription = store.subscribe(this::applyRemote);
    if (b.reconcileInterval != null) {
      reconciler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "gemini-rotator-reconcile");
        t.setDaemon(true);
        return t;
      });
      long ms = b.reconcileInterval.toMillis();
      reconciler.scheduleWithFixedDelay(this::reconcileQuietly, ms, ms, TimeUnit.MILLISECONDS);
    } else {
      reconciler = null;
    }
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
        if (lease.isTrial()) trialSucceeded(slot);
        if (rateLimitStorm.active() || rejectionStorm.active()) checkStormsEnded();
      }
      case RATE_LIMITED -> {
        slot.countFailure();
        rateLimited(slot, lease.model, (Outcome.RateLimited) outcome);
        if (lease.isTrial()) trialInconclusive(slot);
      }
      case KEY_REJECTED -> {
        slot.countFailure();
        rejected(slot, (Outcome.KeyRejected) outcome);
      }
      case UPSTREAM_ERROR, TRANSPORT_ERROR -> {
        slot.countFailure();
        upstreamFailure(slot, lease.isTrial(), outcome);
      }
      case CLIENT_ERROR, CANCELLED -> {
        if (lease.isTrial()) trialInconclusive(slot);
      }
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Transitions (rare: they lock the key they change)

  private void rateLimited(KeySlot slot, String model, Outcome.RateLimited outcome) {
    long now = clock.millis();
    ProjectState project = slot.project;
    int streak = outcome.retryDelay() == null ? project.nextStreak(model) : 0;
    CooldownPolicy.Decision decision = cooldowns.decide(outcome, Instant.ofEpochMilli(now), streak,
        ThreadLocalRandom.current().nextDouble());
    Instant until = decision.until();
    String reason = Reasons.cooldown(outcome.scope(), project.name, model, outcome.quotaId(),
        until.toEpochMilli(), decision.basis());
    fallback.modelCooling(model, until.toEpochMilli(), now);
    ProjectState.Cooled cooled = project.coolUntil(model, until.toEpochMilli(), reason, now);
    if (cooled.endedBefore() != null) {
      stateLog.cooldownEnded(project.name, model, cooled.endedBefore(), "ended", now);
    }
    if (cooled.later()) {
      cooldownsStarted.increment();
      writeCooldown(project, new StateChange.Cooldown(project.name, model, until, false));
      stateLog.cooldownStarted(project.name, model, outcome.scope(), outcome.quotaId(),
          new ProjectState.Cooling(until.toEpochMilli(), reason), () -> Membership.memberIds(project), now);
      scheduleEndCheck(project, model, until.toEpochMilli(), now);
      if (!listeners.isEmpty()) {
        fire(new CooldownStarted(slot.id, project.name, model, outcome.scope(), until,
            Membership.memberIds(project), Instant.ofEpochMilli(now), outcome.quotaId(), reason));
      }
    }
    StormGuard.Change change = rateLimitStorm.record(project.name, now, membership.projects.size());
    if (change != StormGuard.Change.NONE) {
      announceStorm(StormEvent.Kind.RATE_LIMIT, change, rateLimitStorm, membership.projects.size(), now);
    }
  }

  private void rejected(KeySlot slot, Outcome.KeyRejected outcome) {
    long now = clock.millis();
    int poolSize = membership.pool.size();
    StormGuard.Change change = rejectionStorm.record(slot.id, now, poolSize);
    String why = "Gemini rejected the key (" + outcome.status()
        + (outcome.reason() != null ? " " + outcome.reason() : "") + ")";
    if (change == StormGuard.Change.STARTED) {
      announceStorm(StormEvent.Kind.KEY_REJECTION, change, rejectionStorm, poolSize, now);
      for (String id : rejectionStorm.subjectsInWindow(now)) {
        KeySlot other = membership.pool.byId.get(id);
        if (other != null && other != slot && other.status == KeySlot.INVALID) {
          toUnhealthy(other, now, "rejected during a rejection storm; will be tried again",
              KeySlot.INVALID);
        }
      }
    }
    if (rejectionStorm.active()) {
      toUnhealthy(slot, now, why + " during a rejection storm; will be tried again", -1);
    } else {
      transition(slot, KeySlot.INVALID, 0, why, now);
    }
  }

  private void upstreamFailure(KeySlot slot, boolean trial, Outcome outcome) {
    long now = clock.millis();
    if (!countsAgainstKey(outcome)) {
      if (trial) trialInconclusive(slot);
      return;
    }
    if (trial) {
      synchronized (slot) {
        if (slot.status == KeySlot.PROBING) slot.trialFailures++;
      }
      toUnhealthy(slot, now, "trial failed: " + describe(outcome), KeySlot.PROBING);
      return;
    }
    double score = slot.lowerHealth(health.alpha());
    if (score < health.threshold() && slot.status == KeySlot.HEALTHY) {
      toUnhealthy(slot, now, String.format("health %.2f fell under %.2f after %s", score,
          health.threshold(), describe(outcome)), KeySlot.HEALTHY);
    }
  }

  /**
   * Whether an upstream failure lowers the key's health. An overloaded model (503) is Gemini's
   * state, not the key's. A transport error (connect refused or timed out, DNS, TLS handshake,
   * a reset or timeout before or during the answer) is the network's or the upstream host's:
   * nothing below HTTP depends on which key the request carried, and Gemini answers a bad key
   * with a status, not by dropping the connection. Both count for the circuit guard only; a
   * trial that meets one is inconclusive.
   */
  private static boolean countsAgainstKey(Outcome outcome) {
    if (outcome instanceof Outcome.TransportError) return false;
    return !(outcome instanceof Outcome.UpstreamError e && e.status() == 503);
  }

  private static String describe(Outcome outcome) {
    if (outcome instanceof Outcome.UpstreamError e) {
      return "upstream " + e.status() + (e.reason() != null ? " " + e.reason() : "");
    }
    if (outcome instanceof Outcome.TransportError e) {
      return "transport error" + (e.reason() != null ? " (" + e.reason() + ")" : "");
    }
    return outcome.kind().name().toLowerCase();
  }

  private void trialSucceeded(KeySlot slot) {
    long now = clock.millis();
    boolean changed = false;
    synchronized (slot) {
      if (slot.status == KeySlot.PROBING) {
        slot.setStatus(KeySlot.HEALTHY, 0, null, now);
        slot.trialFailures = 0;
        slot.setHealth(Math.max(slot.health(), health.recoveredScore()));
        queueStatus(slot, now);
        changed = true;
      }
    }
    if (changed) {
      fallback.keyMayServeAgain();
      afterTransition(slot, KeyState.UNHEALTHY, KeyState.HEALTHY, "trial succeeded", null, now);
    }
  }

  /** The trial said nothing about the key (429, client error, cancel): let the next one try. */
  private void trialInconclusive(KeySlot slot) {
    boolean changed = false;
    synchronized (slot) {
      if (slot.status == KeySlot.PROBING) {
        long now = clock.millis();
        slot.setStatus(KeySlot.UNHEALTHY, now, slot.reason, now);
        changed = true;
      }
    }
    if (changed) fallback.keyMayServeAgain(); // due for a new trial at once
  }

  /**
   * Moves a key to UNHEALTHY with a backoff cooldown, if it is in {@code expected} (or in any
   * state other than INVALID/UNHEALTHY when {@code expected} is -1).
   */
  private void toUnhealthy(KeySlot slot, long now, String reason, int expected) {
    KeyState from;
    long until;
    long freeBefore;
    synchronized (slot) {
      int status = slot.status;
      boolean matches = expected == -1
          ? status == KeySlot.HEALTHY || status == KeySlot.PROBING
          : status == expected;
      if (!matches) return;
      from = slot.baseState();
      freeBefore = slot.statusFreeAt();
      if (status == KeySlot.PROBING && expected == -1) slot.trialFailures++;
      until = now + health.cooldown(slot.trialFailures,
          ThreadLocalRandom.current().nextDouble()).toMillis();
      slot.setStatus(KeySlot.UNHEALTHY, until, reason, now);
      queueStatus(slot, now);
    }
    // A failed trial's wait may end before the trial's own deadline would have.
    if (until < freeBefore) fallback.keyMayServeAgain();
    // From UNHEALTHY (a failed trial): still unhealthy with a longer wait; no transition event.
    afterTransition(slot, from, KeyState.UNHEALTHY, reason, Instant.ofEpochMilli(until), now);
  }

  private void transition(KeySlot slot, int status, long until, String reason, long now) {
    KeyState from;
    KeyState to;
    boolean sooner;
    synchronized (slot) {
      if (slot.status == status && slot.statusUntil == until) return;
      from = slot.baseState();
      long freeBefore = slot.statusFreeAt();
      slot.setStatus(status, until, reason, now);
      to = slot.baseState();
      sooner = slot.statusFreeAt() < freeBefore;
      queueStatus(slot, now);
    }
    if (sooner) fallback.keyMayServeAgain();
    afterTransition(slot, from, to, reason, until == 0 ? null : Instant.ofEpochMilli(until), now);
  }

  private void afterTransition(KeySlot slot, KeyState from, KeyState to, String reason,
      Instant until, long now) {
    Instant at = Instant.ofEpochMilli(now);
    flushStatus(slot);
    if (from != to) {
      stateLog.transition(slot.id, from, to, reason, until, now);
      fire(new StateTransition(slot.id, from, to, reason, until, at));
    }
  }

  /** Records the key's current state as the next status to write; caller holds the slot. */
  private static void queueStatus(KeySlot slot, long now) {
    KeyState state = slot.baseState();
    slot.pendingStatus = new StateChange.KeyStatus(slot.id, state,
        state == KeyState.UNHEALTHY ? Instant.ofEpochMilli(slot.statusUntil) : null,
        state == KeyState.DISABLED ? slot.disabledReason : slot.reason,
        Instant.ofEpochMilli(now));
  }

  /**
   * Writes the key's newest pending status (and its health) to the store and adopts the store's
   * answer, under the key's {@link KeySlot#storeLock}. Called outside the slot lock: the store may
   * call back into rotators that share it.
   */
  private void flushStatus(KeySlot slot) {
    synchronized (slot.storeLock) {
      StateChange.KeyStatus change;
      synchronized (slot) {
        change = slot.pendingStatus;
        slot.pendingStatus = null;
      }
      if (change == null) return; // a later transition's writer got here first
      storeWrite(change, () -> slot.deliveries);
      storeApply(new StateChange.Health(slot.id, slot.health()));
    }
  }

  private void checkStormsEnded() {
    long now = clock.millis();
    if (rateLimitStorm.active()) {
      StormGuard.Change c = rateLimitStorm.check(now, membership.projects.size());
      if (c == StormGuard.Change.ENDED) {
        announceStorm(StormEvent.Kind.RATE_LIMIT, c, rateLimitStorm, membership.projects.size(), now);
      }
    }
    if (rejectionStorm.active()) {
      StormGuard.Change c = rejectionStorm.check(now, membership.pool.size());
      if (c == StormGuard.Change.ENDED) {
        announceStorm(StormEvent.Kind.KEY_REJECTION, c, rejectionStorm, membership.pool.size(), now);
      }
    }
  }

  private void announceStorm(StormEvent.Kind kind, StormGuard.Change change, StormGuard guard,
      int population, long now) {
    boolean started = change == StormGuard.Change.STARTED;
    int affected = guard.countInWindow(now);
    if (started) {
      log.warn("{} storm: {} of {} {} hit within {}; likely an upstream or IP-level limit, not the"
          + " keys, so keys are cooled, not invalidated", kind == StormEvent.Kind.RATE_LIMIT
          ? "rate-limit" : "key-rejection", affected, population,
          kind == StormEvent.Kind.RATE_LIMIT ? "projects" : "keys", "the storm window");
    } else {
      log.info("{} storm is over", kind == StormEvent.Kind.RATE_LIMIT ? "rate-limit" : "key-rejection");
    }
    fire(new StormEvent(kind, started, affected, population, Instant.ofEpochMilli(now)));
  }

  // ---------------------------------------------------------------------------------------------
  // No key

  /**
   * {@inheritDoc}
   *
   * <p>Per-key quotas count too: a key whose quota is spent frees up when its next permit comes.
   * O(pool size): for error answers only.
   */
  @Override
  public Optional<Instant> earliestAvailable(String model) {
    Objects.requireNonNull(model, "model");
    long earliest = Selection.earliestFree(membership.pool, RequestContext.anyModel(), model, clock.millis(), null);
    return earliest == Long.MAX_VALUE ? Optional.empty() : Optional.of(Instant.ofEpochMilli(earliest));
  }

  @Override
  public Optional<Instant> earliestAvailable(RequestContext context) {
    Objects.requireNonNull(context, "context");
    long earliest = Selection.earliestFree(membership.pool, context, context.model(), clock.millis(), null);
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
    for (ApiKey key : membership.addLocally(pooled)) storeWrite(new StateChange.KeyAdded(key));
  }

  @Override
  public boolean removeKey(String keyId) {
    if (membership.removeLocally(keyId)) {
      storeWrite(new StateChange.KeyRemoved(keyId));
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
    return setDisabled(keyId, true);
  }

  @Override
  public boolean enable(String keyId) {
    return setDisabled(keyId, false);
  }

  private boolean setDisabled(String keyId, boolean disabled) {
    KeySlot slot = membership.pool.byId.get(keyId);
    if (slot == null) return false;
    KeyState from;
    KeyState to;
    synchronized (slot) {
      if (slot.disabled == disabled) return true;
      from = slot.baseState();
      slot.disabled = disabled;
      slot.disabledReason = disabled ? "disabled by an operator" : null;
      slot.stateSince = clock.millis();
      to = slot.baseState();
      queueStatus(slot, slot.stateSince);
    }
    if (!disabled) fallback.keyMayServeAgain();
    afterTransition(slot, from, to, disabled ? "disabled by an operator"
        : "enabled by an operator", statusUntil(slot), clock.millis());
    return true;
  }

  @Override
  public boolean reset(String keyId) {
    KeySlot slot = membership.pool.byId.get(keyId);
    if (slot == null) return false;
    long now = clock.millis();
    KeyState from;
    KeyState to;
    boolean sooner;
    synchronized (slot) {
      from = slot.baseState();
      sooner = slot.statusFreeAt() > Long.MIN_VALUE;
      slot.setStatus(KeySlot.HEALTHY, 0, null, now);
      slot.trialFailures = 0;
      slot.setHealth(1.0);
      to = slot.baseState();
      queueStatus(slot, now);
    }
    // here first, then the store, like every change: the rotator adopts the store's answers
    Map<String, ProjectState.Cooling> cleared = slot.project.clearAll(now);
    for (String model : cleared.keySet()) {
      writeCooldown(slot.project,
          new StateChange.Cooldown(slot.project.name, model, Instant.EPOCH, true));
    }
    if (!cleared.isEmpty() || sooner) fallback.keyMayServeAgain();
    cleared.forEach((model, c) -> stateLog.cooldownEnded(slot.project.name, model, c,
        "cleared by an operator's reset of key " + slot.id, now));
    afterTransition(slot, from, to, "reset by an operator", null, now);
    return true;
  }

  private static Instant statusUntil(KeySlot slot) {
    return slot.status == KeySlot.UNHEALTHY ? Instant.ofEpochMilli(slot.statusUntil) : null;
  }

  /**
   * A scrubber that takes every secret of the pool's current keys out of what reaches a client
   * (see {@link SecretScrubber}). Built on first use after the membership changed (keys added,
   * replaced or removed), in time linear in the pool, then shared: every call until the next
   * change returns the same instance.
   */
  public SecretScrubber secretScrubber() {
    return membership.secretScrubber();
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
    expireCooldowns(slot.project, now);
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

  /** Removes the project's ended cooldowns and logs each end. */
  private void expireCooldowns(ProjectState project, long now) {
    for (Map.Entry<String, ProjectState.Cooling> e : project.expire(now)) {
      stateLog.cooldownEnded(project.name, e.getKey(), e.getValue(), "ended", now);
    }
  }

  /**
   * Makes sure a check runs when the project's cooldown for the model should end, to log the end
   * when it happens rather than when someone next looks. Ends happen by time passing, not by an
   * event: the check runs on one daemon thread per rotator (started with the first cooldown,
   * stopped by {@link #close}), at most one pending per project and model; it finds a cooldown
   * that was extended meanwhile and checks again at its new end. A snapshot, or a new cooldown
   * replacing an ended one, may see the end first; either way it is logged once. With a clock
   * other than the system's, the check waits by the system's time for what the clock says is
   * left, so tests that move a fake clock see ends through snapshots.
   */
  private void scheduleEndCheck(ProjectState project, String model, long until, long now) {
    if (closed.get()) return;
    String subject = project.name + '\u0000' + model;
    if (endChecks.putIfAbsent(subject, Boolean.TRUE) != null) return; // one already pending
    scheduleEndCheckAt(project, model, subject, until, now);
  }

  private void scheduleEndCheckAt(ProjectState project, String model, String subject, long until,
      long now) {
    ScheduledExecutorService executor = endCheckExecutor();
    if (executor == null) {
      endChecks.remove(subject);
      return;
    }
    try {
      executor.schedule(() -> checkEnd(project, model, subject, now), Math.max(1, until - now),
          TimeUnit.MILLISECONDS);
    } catch (java.util.concurrent.RejectedExecutionException e) {
      endChecks.remove(subject); // closing
    }
  }

  private void checkEnd(ProjectState project, String model, String subject, long scheduledAt) {
    try {
      long now = clock.millis();
      ProjectState.Cooling c = project.cooldown(model);
      if (now == scheduledAt) {
        // The clock stood still while the system's moved on: a test's fake clock. Its ends are
        // seen by snapshots and new cooldowns; polling it would only keep this thread busy.
        endChecks.remove(subject);
        return;
      }
      if (c != null && c.until() > now && !closed.get() && membership.projects.get(project.name) == project) {
        // Extended meanwhile (or the clock lags the system's): check again when it should end.
        scheduleEndCheckAt(project, model, subject, Math.max(c.until(), now + 1_000), now);
        return;
      }
      endChecks.remove(subject);
      expireCooldowns(project, now);
    } catch (RuntimeException e) {
      endChecks.remove(subject);
      log.debug("cooldown end check failed: {}", e.toString());
    }
  }

  private ScheduledExecutorService endCheckExecutor() {
    ScheduledExecutorService executor = endCheckExecutor;
    if (executor != null) return executor;
    synchronized (endChecks) {
      if (closed.get()) return null;
      if (endCheckExecutor == null) {
        java.util.concurrent.ScheduledThreadPoolExecutor e =
            new java.util.concurrent.ScheduledThreadPoolExecutor(1, r -> {
              Thread t = new Thread(r, "gemini-rotator-cooldown-ends");
              t.setDaemon(true);
              return t;
            });
        e.setRemoveOnCancelPolicy(true);
        endCheckExecutor = e;
      }
      return endCheckExecutor;
    }
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
        cooldownsStarted.sum(), selection.trials());
  }

  /** Fallback lists built so far (see {@link FallbackLists}): for tests. */
  long fallbackListBuilds() {
    return fallback.builds();
  }

  /** Whether a storm of the given kind is in progress. */
  public boolean stormActive(StormEvent.Kind kind) {
    return kind == StormEvent.Kind.RATE_LIMIT ? rateLimitStorm.active() : rejectionStorm.active();
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

  // ---------------------------------------------------------------------------------------------
  // Store

  /**
   * Writes a change this rotator already made locally to the store and adopts what the store
   * answers stands for the change's subject ({@link KeyStateStore#apply}): the change itself, or
   * what wins over it, such as a later cooldown another instance set or a status the store holds
   * as newer. So the writer agrees with the store as soon as the write returns, whether or not the
   * store also hands the change back through its subscription.
   *
   * <p>Order. Two threads of this rotator may change one subject locally in one order and reach
   * the store in the other (a reset clearing a cooldown while a 429 sets one, say); the rotator
   * must end in the store's order, as the store and every other instance do. So each subject's
   * writes are serialized ({@link KeySlot#storeLock} for a key's status, {@link
   * ProjectState#storeLock} for a project's cooldowns), and each write adopts its answer before
   * the next is made: the last answer adopted is the last change the store took. A store that
   * hands its changes to every subscriber in the order it took them (the memory and Redis stores
   * do, the applying rotator's own included) may deliver a change of the subject while the write
   * is in flight; that delivery already put this rotator in the store's order, and a later one
   * may have replaced what the write answers, so an answer equal to the change is then not
   * adopted again ({@code deliveries}: the subject's deliveries, counted by {@link #applyRemote}
   * before it applies one). An answer that differs (the change lost) is always adopted. The
   * caller holds the subject's store lock.
   */
  private void storeWrite(StateChange change, java.util.function.IntSupplier deliveries) {
    int before = deliveries.getAsInt();
    StateChange answer = storeApply(change);
    if (answer == null) return; // the store failed: local state kept
    if (deliveries.getAsInt() != before && answer.equals(change)) return;
    applyRemote(answer);
  }

  /**
   * Writes a membership change ({@link StateChange.KeyAdded}, {@link StateChange.KeyRemoved}) and
   * adopts an answer that differs from it. Membership changes are rare and made under no store
   * lock, so an answer equal to the change (what this rotator already did) is not applied again:
   * a store that delivers in its order keeps concurrent ones in that order.
   */
  private void storeWrite(StateChange change) {
    StateChange answer = storeApply(change);
    if (answer != null && !answer.equals(change)) applyRemote(answer);
  }

  /** Writes a project's cooldown (or its clear) and adopts the answer; see {@link #storeWrite}. */
  private void writeCooldown(ProjectState project, StateChange.Cooldown change) {
    synchronized (project.storeLock) {
      storeWrite(change, project::deliveries);
    }
  }

  /** Hands a change to the store; returns its answer, or null when it failed (logged). */
  private StateChange storeApply(StateChange change) {
    try {
      return store.apply(change);
    } catch (RuntimeException e) {
      log.warn("store {} refused a {} change; local state kept", store.describe(),
          change.getClass().getSimpleName(), e);
      return null;
    }
  }

  private StoreSnapshot loadFromStore() {
    try {
      return store.load();
    } catch (RuntimeException e) {
      log.warn("could not load state from store {}; starting from configuration: {}",
          store.describe(), e.toString());
      return StoreSnapshot.EMPTY;
    }
  }

  /** Reloads the store's state and applies what differs; what a periodic reconcile runs. */
  public void reconcile() {
    applySnapshot(store.load(), false);
  }

  private void reconcileQuietly() {
    try {
      reconcile();
    } catch (RuntimeException e) {
      log.debug("reconcile with {} failed: {}", store.describe(), e.toString());
    }
  }

  /**
   * Brings local state in line with the store. At start ({@code initial}) health is restored
   * too; later, health stays local (the store's copy is written only at transitions and would be
   * stale), and a key the store holds no state for returns to healthy or enabled if it left that
   * state more than {@link #RECONCILE_GRACE_MILLIS} ago: its recovery or reset elsewhere was
   * missed. The grace keeps a change this rotator just queued from being undone before a
   * write-behind store has it.
   */
  private void applySnapshot(StoreSnapshot snapshot, boolean initial) {
    snapshot.removedKeyIds().forEach(membership::removeLocally);
    membership.addLocally(snapshot.addedKeys()); // one membership change however many
    snapshot.statuses().values().forEach(this::applyStatus);
    snapshot.cooldowns().forEach(this::applyRemote);
    if (initial) {
      snapshot.health().forEach((id, score) -> {
        KeySlot slot = membership.pool.byId.get(id);
        if (slot != null) slot.setHealth(Math.max(0.0, Math.min(1.0, score)));
      });
      return;
    }
    long now = clock.millis();
    for (KeySlot slot : membership.pool.slots) {
      if (snapshot.statuses().containsKey(slot.id)) continue;
      boolean stale;
      synchronized (slot) {
        stale = (slot.disabled || slot.status == KeySlot.INVALID
            || slot.status == KeySlot.UNHEALTHY) && now - slot.stateSince > RECONCILE_GRACE_MILLIS;
      }
      if (stale) {
        applyStatus(new StateChange.KeyStatus(slot.id, KeyState.HEALTHY, null,
            "healthy in the store (reconciled)", Instant.ofEpochMilli(now)));
      }
    }
  }

  /** Applies a change made elsewhere. Idempotent; fires events only for real changes. */
  private void applyRemote(StateChange change) {
    if (change instanceof StateChange.KeyStatus s) {
      applyStatus(s);
    } else if (change instanceof StateChange.Cooldown c) {
      ProjectState project = membership.projects.get(c.project());
      if (project == null) return;
      project.delivered();
      long now = clock.millis();
      if (c.cleared()) {
        ProjectState.Cooling cleared = project.clear(c.model(), now);
        if (cleared != null) {
          fallback.keyMayServeAgain();
          stateLog.cooldownEnded(project.name, c.model(), cleared, "cleared by another instance",
              now);
        }
      } else if (c.until().toEpochMilli() > now) {
        long until = c.until().toEpochMilli();
        String reason = Reasons.remoteCooldown(project.name, c.model(), until);
        ProjectState.Cooled cooled = remoteCooldown(project, c.model(), until, reason, now);
        if (cooled.endedBefore() != null) {
          stateLog.cooldownEnded(project.name, c.model(), cooled.endedBefore(), "ended", now);
        }
        if (cooled.later()) {
          stateLog.cooldownStarted(project.name, c.model(), QuotaScope.UNKNOWN, null,
              new ProjectState.Cooling(until, reason), () -> Membership.memberIds(project), now);
          scheduleEndCheck(project, c.model(), until, now);
          if (!listeners.isEmpty()) {
            fire(new CooldownStarted(null, project.name, c.model(), QuotaScope.UNKNOWN, c.until(),
                Membership.memberIds(project), Instant.ofEpochMilli(now), null, reason));
          }
        }
      }
    } else if (change instanceof StateChange.KeyAdded a) {
      membership.addLocally(List.of(a.key()));
    } else if (change instanceof StateChange.KeyRemoved r) {
      membership.removeLocally(r.keyId());
    }
    // Health is written behind and read at load; breaker state belongs to the guard.
  }

  /** Applies a cooldown learnt from the store; says whether it moved the project's later. */
  private ProjectState.Cooled remoteCooldown(ProjectState project, String model, long until,
      String reason, long now) {
    fallback.modelCooling(model, until, now);
    return project.coolUntil(model, until, reason, now);
  }

  private void applyStatus(StateChange.KeyStatus s) {
    KeySlot slot = membership.pool.byId.get(s.keyId());
    if (slot == null) return;
    long until = s.until() == null ? 0 : s.until().toEpochMilli();
    long now = clock.millis();
    KeyState from;
    KeyState to;
    boolean sooner;
    synchronized (slot) {
      slot.deliveries++; // before it applies: a writer of this key then leaves it standing
      from = slot.baseState();
      long freeBefore = slot.statusFreeAt();
      if (s.state() == KeyState.DISABLED) {
        if (!slot.disabled) slot.stateSince = now;
        slot.disabled = true;
        slot.disabledReason = s.reason() != null ? s.reason() : "disabled by an operator";
      } else {
        if (slot.disabled) slot.stateSince = now;
        slot.disabled = false;
        slot.disabledReason = null;
        int status = KeySlot.statusOf(s.state());
        boolean differs = slot.status != status
            || (status == KeySlot.UNHEALTHY && slot.statusUntil != until);
        // A trial running here decides for itself; an UNHEALTHY from elsewhere doesn't cut it.
        if (differs && !(slot.status == KeySlot.PROBING && status == KeySlot.UNHEALTHY)) {
          slot.setStatus(status, status == KeySlot.UNHEALTHY ? until : 0, s.reason(), now);
          if (status == KeySlot.HEALTHY) {
            // Recovered or reset elsewhere: don't let a score from before send it straight back.
            slot.trialFailures = 0;
            slot.setHealth(Math.max(slot.health(), health.recoveredScore()));
          }
        }
      }
      to = slot.baseState();
      sooner = slot.statusFreeAt() < freeBefore;
    }
    // Only a key that may serve sooner than before needs the fallback lists rebuilt: a status
    // that says what this instance already knew (most messages in a fleet) changes nothing.
    if (sooner) fallback.keyMayServeAgain();
    if (from != to) {
      if (started) { // the state loaded at start is not news: no line per key of a large pool
        stateLog.transition(slot.id, from, to, (s.reason() != null ? s.reason()
            : "no reason given") + " (learnt from the store)", s.until(), now);
      }
      fire(new StateTransition(slot.id, from, to, s.reason(), s.until(), s.at()));
    }
  }

  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) return;
    if (reconciler != null) reconciler.shutdownNow();
    synchronized (endChecks) {
      if (endCheckExecutor != null) endCheckExecutor.shutdownNow();
    }
    quotas.close();
    for (KeySlot slot : membership.pool.slots) storeApply(new StateChange.Health(slot.id, slot.health()));
    storeSubscription.close();
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
