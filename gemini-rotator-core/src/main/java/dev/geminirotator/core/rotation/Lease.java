package dev.geminirotator.core.rotation;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.Outcome;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.Objects;

/** A {@link KeyLease} of {@link GeminiKeyRotator}. The first completion wins, by CAS. */
final class Lease implements KeyLease {

  private static final VarHandle DONE;

  static {
    try {
      DONE = MethodHandles.lookup().findVarHandle(Lease.class, "done", boolean.class);
    } catch (ReflectiveOperationException e) {
      throw new ExceptionInInitializerError(e);
    }
  }

  private final GeminiKeyRotator rotator;
  final KeySlot slot;
  final String model;
  private final boolean trial;
  private volatile boolean done;

  Lease(GeminiKeyRotator rotator, KeySlot slot, String model, boolean trial) {
    this.rotator = rotator;
    this.slot = slot;
    this.model = model;
    this.trial = trial;
  }

  @Override
  public ApiKey key() {
    return slot.key;
  }

  @Override
  public boolean isTrial() {
    return trial;
  }

  @Override
  public boolean complete(Outcome outcome) {
    Objects.requireNonNull(outcome, "outcome");
    if (done || !DONE.compareAndSet(this, false, true)) {
      return false;
    }
    rotator.onComplete(this, outcome);
    return true;
  }

  @Override
  public boolean isCompleted() {
    return done;
  }

  @Override
  public String toString() {
    return "KeyLease{key=" + slot.id + ", model=" + model + (trial ? ", trial" : "")
        + (done ? ", completed" : "") + '}';
  }
}
