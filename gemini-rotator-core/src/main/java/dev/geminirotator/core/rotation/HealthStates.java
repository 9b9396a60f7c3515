package dev.geminirotator.core.rotation;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.event.CooldownStarted;
import dev.geminirotator.api.event.StateTransition;
import dev.geminirotator.api.event.StormEvent;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.core.health.HealthPolicy;
import java.time.Clock;
import java.time.Instant;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.LongAdder;
import org.slf4j.Logger;

/**
 * The health state machine of a pool's keys: what an attempt's outcome does to its key (health,
 * HEALTHY / UNHEALTHY / PROBING / INVALID), to its project (a rate-limit cooldown per model) and
 * to the storm guards that keep an upstream-wide 429 or rejection wave from taking every key out;
 * trials and recovery; and an operator's reset, disable and enable. Part of
 * {@link GeminiKeyRotator}, which hands it each completed lease's outcome.
 *
 * <p>Thread-safe. Transitions are rare: each synchronizes on the key it changes, records the
 * status to write, and writes it through {@link StoreSync} after the key's lock is released
 * (the store may call back into rotators that share it). Cooldowns are the project's, set by
 * compare-and-set ({@link ProjectState}).
 */
final class HealthStates {

  private final Logger log;
  private final HealthPolicy health;
  private final CooldownPolicy cooldowns;
  private final Clock clock;
  private final FallbackLists fallback;
  private final StateLog stateLog;
  private final ListenerSet listeners;
  private final Membership membership;
  private final StoreSync sync;
  private final CooldownEnds ends;
  private final StormGuard rateLimitStorm;
  private final StormGuard rejectionStorm;
  private final LongAdder cooldownsStarted = new LongAdder();

  HealthStates(HealthPolicy health, CooldownPolicy cooldowns, StormPolicy storm, Clock clock,
      FallbackLists fallback, StateLog stateLog, ListenerSet listeners, Membership membership,
      StoreSync sync, CooldownEnds ends, Logger log) {
    this.log = log;
    this.health = health;
    this.cooldowns = cooldowns;
    this.clock = clock;
    this.fallback = fallback;
    this.stateLog = stateLog;
    this.listeners = listeners;
    this.membership = membership;
    this.sync = sync;
    this.ends = ends;
    this.rateLimitStorm = new StormGuard(storm);
    this.rejectionStorm = new StormGuard(storm);
  }

  /** Whether a storm of either kind is in progress: a success then checks whether it ended. */
  boolean anyStormActive() {
    return rateLimitStorm.active() || rejectionStorm.active();
  }

  /** Whether a storm of the given kind is in progress. */
  boolean stormActive(StormEvent.Kind kind) {
    return kind == StormEvent.Kind.RATE_LIMIT ? rateLimitStorm.active() : rejectionStorm.active();
  }

  /** Cooldowns this rotator started (not those learnt from the store). */
  long cooldownsStarted() {
    return cooldownsStarted.sum();
  }

  void rateLimited(KeySlot slot, String model, Outcome.RateLimited outcome) {
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
      sync.writeCooldown(project, new StateChange.Cooldown(project.name, model, until, false));
      stateLog.cooldownStarted(project.name, model, outcome.scope(), outcome.quotaId(),
          new ProjectState.Cooling(until.toEpochMilli(), reason),
          () -> Membership.memberIds(project), now);
      ends.schedule(project, model, until.toEpochMilli(), now);
      if (!listeners.isEmpty()) {
        listeners.fire(new CooldownStarted(slot.id, project.name, model, outcome.scope(), until,
            Membership.memberIds(project), Instant.ofEpochMilli(now), outcome.quotaId(), reason));
      }
    }
    int projects = membership.projects.size();
    StormGuard.Change change = rateLimitStorm.record(project.name, now, projects);
    if (change != StormGuard.Change.NONE) {
      announceStorm(StormEvent.Kind.RATE_LIMIT, change, rateLimitStorm, projects, now);
    }
  }

  void rejected(KeySlot slot, Outcome.KeyRejected outcome) {
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

  void upstreamFailure(KeySlot slot, boolean trial, Outcome outcome) {
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

  void trialSucceeded(KeySlot slot) {
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
  void trialInconclusive(KeySlot slot) {
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

  void afterTransition(KeySlot slot, KeyState from, KeyState to, String reason,
      Instant until, long now) {
    Instant at = Instant.ofEpochMilli(now);
    sync.flushStatus(slot);
    if (from != to) {
      stateLog.transition(slot.id, from, to, reason, until, now);
      listeners.fire(new StateTransition(slot.id, from, to, reason, until, at));
    }
  }

  /** Records the key's current state as the next status to write; caller holds the slot. */
  static void queueStatus(KeySlot slot, long now) {
    KeyState state = slot.baseState();
    slot.pendingStatus = new StateChange.KeyStatus(slot.id, state,
        state == KeyState.UNHEALTHY ? Instant.ofEpochMilli(slot.statusUntil) : null,
        state == KeyState.DISABLED ? slot.disabledReason : slot.reason,
        Instant.ofEpochMilli(now));
  }

  void checkStormsEnded() {
    long now = clock.millis();
    if (rateLimitStorm.active()) {
      int projects = membership.projects.size();
      StormGuard.Change c = rateLimitStorm.check(now, projects);
      if (c == StormGuard.Change.ENDED) {
        announceStorm(StormEvent.Kind.RATE_LIMIT, c, rateLimitStorm, projects, now);
      }
    }
    if (rejectionStorm.active()) {
      int keys = membership.pool.size();
      StormGuard.Change c = rejectionStorm.check(now, keys);
      if (c == StormGuard.Change.ENDED) {
        announceStorm(StormEvent.Kind.KEY_REJECTION, c, rejectionStorm, keys, now);
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
      log.info("{} storm is over",
          kind == StormEvent.Kind.RATE_LIMIT ? "rate-limit" : "key-rejection");
    }
    listeners.fire(new StormEvent(kind, started, affected, population, Instant.ofEpochMilli(now)));
  }

  /** An operator disables or enables a key; see {@link GeminiKeyRotator#disable}. */
  boolean setDisabled(String keyId, boolean disabled) {
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

  private static Instant statusUntil(KeySlot slot) {
    return slot.status == KeySlot.UNHEALTHY ? Instant.ofEpochMilli(slot.statusUntil) : null;
  }

  /** See {@link GeminiKeyRotator#reset}. */
  boolean reset(String keyId) {
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
      sync.writeCooldown(slot.project,
          new StateChange.Cooldown(slot.project.name, model, Instant.EPOCH, true));
    }
    if (!cleared.isEmpty() || sooner) fallback.keyMayServeAgain();
    cleared.forEach((model, c) -> stateLog.cooldownEnded(slot.project.name, model, c,
        "cleared by an operator's reset of key " + slot.id, now));
    afterTransition(slot, from, to, "reset by an operator", null, now);
    return true;
  }
}
