package dev.geminirotator.core.rotation;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One key's live state. Reads on the hot path are plain volatile reads; the health score and the
 * in-flight count change with CAS; state transitions synchronize on the slot (they are rare).
 */
final class KeySlot {

  static final int HEALTHY = 0;
  static final int UNHEALTHY = 1;
  static final int PROBING = 2;
  static final int INVALID = 3;

  private static final VarHandle STATUS;
  private static final VarHandle HEALTH;
  private static final VarHandle IN_FLIGHT;
  private static final VarHandle SUCCESSES;
  private static final VarHandle FAILURES;
  private static final VarHandle COOLDOWN_HINT;
  private static final VarHandle TRIAL_DEADLINE;

  /**
   * How long a trial may stay unanswered before another request may take the key as a trial: a
   * lease whose body is never closed must not strand its key out of rotation.
   */
  static final long TRIAL_TIMEOUT_MILLIS = 10 * 60_000;

  static {
    try {
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      STATUS = lookup.findVarHandle(KeySlot.class, "status", int.class);
      HEALTH = lookup.findVarHandle(KeySlot.class, "health", double.class);
      IN_FLIGHT = lookup.findVarHandle(KeySlot.class, "inFlight", int.class);
      SUCCESSES = lookup.findVarHandle(KeySlot.class, "successes", long.class);
      FAILURES = lookup.findVarHandle(KeySlot.class, "failures", long.class);
      COOLDOWN_HINT = lookup.findVarHandle(KeySlot.class, "cooldownHint", long.class);
      TRIAL_DEADLINE = lookup.findVarHandle(KeySlot.class, "trialDeadline", long.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  final ApiKey key;
  final String id;
  final ProjectState project;
  final QuotaGate quota;

  volatile int status = HEALTHY;
  volatile boolean disabled;
  /** Why the key is disabled (set with {@link #disabled}), or null. */
  volatile String disabledReason;
  /** For UNHEALTHY: when the trial may run, epoch millis. */
  volatile long statusUntil;
  volatile String reason;
  /** Failed trials in a row; guarded by this. */
  int trialFailures;
  /** When status or disabled last changed, epoch millis; guarded by this. */
  long stateSince;
  /** The newest status not yet written to the store; guarded by this. See storeLock. */
  dev.geminirotator.api.spi.StateChange.KeyStatus pendingStatus;
  /**
   * Serialises this key's writes to the store, so a slow writer can never put an older status
   * over a newer one: whoever holds it writes the newest pending status, if any is left.
   */
  final Object storeLock = new Object();
  /**
   * Statuses of this key the store has handed this rotator (and reconciles applied), counted
   * before each is applied; written under this, read by the writer holding {@link #storeLock} to
   * learn whether one arrived while its write was in flight. Only compared, never summed.
   */
  volatile int deliveries;
  volatile boolean removed;

  private volatile double health = 1.0;
  private volatile int inFlight;

  // Counters live in the slot itself, not in separate adders: at 100,000 keys every extra object
  // a request touches is another cache miss.
  private volatile long successes;
  private volatile long failures;
  /**
   * The latest end of any cooldown of this key's project, or 0 once all are seen to have ended.
   * Kept per key by {@link ProjectState} so a request reads no other object while nothing cools.
   */
  private volatile long cooldownHint;
  /** While PROBING: when the trial counts as lost. Long.MAX_VALUE until a trial has started. */
  private volatile long trialDeadline = Long.MAX_VALUE;

  KeySlot(ApiKey key, ProjectState project, QuotaGate quota) {
    this.key = key;
    this.id = key.id();
    this.project = project;
    this.quota = quota;
  }

  /**
   * Sets the status; caller holds this. The deadline is written before the status, so a reader
   * that sees the new status (volatile) also sees its deadline.
   */
  void setStatus(int newStatus, long until, String why, long now) {
    trialDeadline = Long.MAX_VALUE;
    statusUntil = until;
    status = newStatus;
    reason = why;
    stateSince = now;
  }

  /**
   * Reads fields from each end of the slot, pulling all of its cache lines in ahead of use (the
   * object spans two or three 64-byte lines).
   */
  long touch() {
    return cooldownHint + status + (disabled ? 1 : 0);
  }

  /**
   * From when the key's own state lets it serve, whatever the model: {@link Long#MIN_VALUE} when
   * healthy, the end of its wait when unhealthy, the running trial's deadline when probing,
   * {@link Long#MAX_VALUE} when disabled or invalid (only an event brings it back). A change that
   * lowers it may return the key to the fallback lists ({@link FallbackLists#keyMayServeAgain}).
   */
  long statusFreeAt() {
    if (disabled) return Long.MAX_VALUE;
    return switch (status) {
      case HEALTHY -> Long.MIN_VALUE;
      case UNHEALTHY -> statusUntil;
      case PROBING -> trialDeadline;
      default -> Long.MAX_VALUE;
    };
  }

  /** Takes a due UNHEALTHY key as the single trial. */
  boolean tryStartTrial(long now) {
    if (!STATUS.compareAndSet(this, UNHEALTHY, PROBING)) return false;
    trialDeadline = now + TRIAL_TIMEOUT_MILLIS;
    return true;
  }

  /** Whether the running trial has gone unanswered past its deadline. */
  boolean trialLost(long now) {
    return now >= trialDeadline;
  }

  /** Takes over a trial that went unanswered past its deadline; one caller wins. */
  boolean tryRetakeTrial(long now) {
    long deadline = trialDeadline;
    return deadline != Long.MAX_VALUE && now >= deadline
        && TRIAL_DEADLINE.compareAndSet(this, deadline, now + TRIAL_TIMEOUT_MILLIS);
  }

  double health() {
    return health;
  }

  void setHealth(double value) {
    health = value;
  }

  /** Applies a success; skips the write when already at 1.0 so hot keys share no cache line. */
  double raiseHealth(double alpha) {
    for (;;) {
      double h = health;
      if (h >= 1.0) return 1.0;
      double next = Math.min(1.0, h + alpha * (1.0 - h));
      if (next - h < 1e-9) next = 1.0;
      if (HEALTH.compareAndSet(this, h, next)) return next;
    }
  }

  double lowerHealth(double alpha) {
    for (;;) {
      double h = health;
      double next = h - alpha * h;
      if (HEALTH.compareAndSet(this, h, next)) return next;
    }
  }

  long successes() {
    return successes;
  }

  long failures() {
    return failures;
  }

  void countSuccess() {
    SUCCESSES.getAndAdd(this, 1L);
  }

  void countFailure() {
    FAILURES.getAndAdd(this, 1L);
  }

  /** Carries the counters of the slot this one replaces. */
  void inherit(KeySlot previous) {
    SUCCESSES.getAndAdd(this, previous.successes);
    FAILURES.getAndAdd(this, previous.failures);
  }

  long cooldownHint() {
    return cooldownHint;
  }

  /** Raises the hint to {@code until} unless it is already later. */
  void raiseCooldownHint(long until) {
    for (;;) {
      long current = cooldownHint;
      if (current >= until || COOLDOWN_HINT.compareAndSet(this, current, until)) return;
    }
  }

  void setCooldownHint(long value) {
    cooldownHint = value;
  }

  /** Clears an expired hint; fails harmlessly when a new cooldown raised it meanwhile. */
  void clearCooldownHint(long expired) {
    COOLDOWN_HINT.compareAndSet(this, expired, 0L);
  }

  int inFlight() {
    return inFlight;
  }

  void enter() {
    IN_FLIGHT.getAndAdd(this, 1);
  }

  void exit() {
    IN_FLIGHT.getAndAdd(this, -1);
  }

  /** The pool-wide state; RATE_LIMITED is decided by the caller from the project's cooldowns. */
  KeyState baseState() {
    if (disabled) return KeyState.DISABLED;
    return switch (status) {
      case HEALTHY -> KeyState.HEALTHY;
      case INVALID -> KeyState.INVALID;
      default -> KeyState.UNHEALTHY;
    };
  }

  static int statusOf(KeyState state) {
    return switch (state) {
      case INVALID -> INVALID;
      case UNHEALTHY -> UNHEALTHY;
      default -> HEALTHY;
    };
  }
}
