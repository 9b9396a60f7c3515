package dev.geminirotator.core.rotation;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.concurrent.atomic.LongAdder;

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

  static {
    try {
      MethodHandles.Lookup lookup = MethodHandles.lookup();
      STATUS = lookup.findVarHandle(KeySlot.class, "status", int.class);
      HEALTH = lookup.findVarHandle(KeySlot.class, "health", double.class);
      IN_FLIGHT = lookup.findVarHandle(KeySlot.class, "inFlight", int.class);
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
  /** For UNHEALTHY: when the trial may run, epoch millis. */
  volatile long statusUntil;
  volatile String reason;
  /** Failed trials in a row; guarded by this. */
  int trialFailures;
  volatile boolean removed;

  private volatile double health = 1.0;
  private volatile int inFlight;

  final LongAdder successes = new LongAdder();
  final LongAdder failures = new LongAdder();

  KeySlot(ApiKey key, ProjectState project, QuotaGate quota) {
    this.key = key;
    this.id = key.id();
    this.project = project;
    this.quota = quota;
  }

  boolean tryStartTrial() {
    return STATUS.compareAndSet(this, UNHEALTHY, PROBING);
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
