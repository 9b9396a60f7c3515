package dev.geminirotator.core.rotation;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.event.CooldownStarted;
import dev.geminirotator.api.event.StateTransition;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.core.health.HealthPolicy;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.IntSupplier;
import org.slf4j.Logger;

/**
 * How a rotator keeps its state in its {@link KeyStateStore}: writing what it changed and adopting
 * the store's answer, loading the store's state at start, applying what other rotators and
 * instances change (its subscription), and reconciling now and then. Part of
 * {@link GeminiKeyRotator}: the state machine and membership change local state first and hand
 * the change here.
 *
 * <p>Thread-safe. Writes of one subject are serialized by that subject's store lock (see
 * {@link #write(StateChange, IntSupplier)}); changes from the store are applied idempotently,
 * under the lock of the key they change, on whichever thread the store delivers them.
 */
final class StoreSync {

  private static final long RECONCILE_GRACE_MILLIS = 10_000;

  private final Logger log;
  private final KeyStateStore store;
  private final Clock clock;
  private final HealthPolicy health;
  private final FallbackLists fallback;
  private final StateLog stateLog;
  private final ListenerSet listeners;
  private final Membership membership;
  private final CooldownEnds ends;
  /** Set once the state loaded at start is applied: later changes from the store are logged. */
  private volatile boolean started;
  private Subscription storeSubscription = () -> { };
  private ScheduledExecutorService reconciler;

  StoreSync(KeyStateStore store, Clock clock, HealthPolicy health, FallbackLists fallback,
      StateLog stateLog, ListenerSet listeners, Membership membership, CooldownEnds ends,
      Logger log) {
    this.log = log;
    this.store = store;
    this.clock = clock;
    this.health = health;
    this.fallback = fallback;
    this.stateLog = stateLog;
    this.listeners = listeners;
    this.membership = membership;
    this.ends = ends;
  }

  /**
   * Applies the store's state (health included), then follows the store: its subscription, and a
   * reconcile every {@code reconcileInterval} unless that is null. Called once, at the end of the
   * rotator's construction.
   */
  void start(Duration reconcileInterval) {
    applySnapshot(loadFromStore(), true);
    started = true;
    this.storeSubscription = store.subscribe(this::applyRemote);
    if (reconcileInterval != null) {
      reconciler = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "gemini-rotator-reconcile");
        t.setDaemon(true);
        return t;
      });
      long ms = reconcileInterval.toMillis();
      reconciler.scheduleWithFixedDelay(this::reconcileQuietly, ms, ms, TimeUnit.MILLISECONDS);
    }
  }

  /** Stops the periodic reconcile, first thing when the rotator closes. */
  void stopReconciling() {
    if (reconciler != null) reconciler.shutdownNow();
  }

  /** Writes every key's last health and stops following the store. */
  void close() {
    for (KeySlot slot : membership.pool.slots) {
      storeApply(new StateChange.Health(slot.id, slot.health()));
    }
    storeSubscription.close();
  }

  /**
   * Writes the key's newest pending status (and its health) to the store and adopts the store's
   * answer, under the key's {@link KeySlot#storeLock}. Called outside the slot lock: the store may
   * call back into rotators that share it.
   */
  void flushStatus(KeySlot slot) {
    synchronized (slot.storeLock) {
      StateChange.KeyStatus change;
      synchronized (slot) {
        change = slot.pendingStatus;
        slot.pendingStatus = null;
      }
      if (change == null) return; // a later transition's writer got here first
      write(change, () -> slot.deliveries);
      storeApply(new StateChange.Health(slot.id, slot.health()));
    }
  }

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
  private void write(StateChange change, IntSupplier deliveries) {
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
  void write(StateChange change) {
    StateChange answer = storeApply(change);
    if (answer != null && !answer.equals(change)) applyRemote(answer);
  }

  /**
   * Writes a project's cooldown (or its clear) and adopts the answer, under the project's store
   * lock; see {@link #write(StateChange, IntSupplier)}.
   */
  void writeCooldown(ProjectState project, StateChange.Cooldown change) {
    synchronized (project.storeLock) {
      write(change, project::deliveries);
    }
  }

  /** Hands a change to the store; returns its answer, or null when it failed (logged). */
  StateChange storeApply(StateChange change) {
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

  /** Reloads the store's state and applies what differs; see {@link GeminiKeyRotator#reconcile}. */
  void reconcile() {
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
    snapshot.removedKeyIds().forEach(id -> membership.removeLocally(id, true));
    membership.addLocally(snapshot.addedKeys(), true); // one membership change however many
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
  void applyRemote(StateChange change) {
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
          ends.schedule(project, c.model(), until, now);
          if (!listeners.isEmpty()) {
            listeners.fireLearnt(new CooldownStarted(null, project.name, c.model(),
                QuotaScope.UNKNOWN, c.until(), Membership.memberIds(project),
                Instant.ofEpochMilli(now), null, reason));
          }
        }
      }
    } else if (change instanceof StateChange.KeyAdded a) {
      membership.addLocally(List.of(a.key()), true);
    } else if (change instanceof StateChange.KeyRemoved r) {
      membership.removeLocally(r.keyId(), true);
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
      listeners.fireLearnt(new StateTransition(slot.id, from, to, s.reason(), s.until(),
          s.at()));
    }
  }

}
