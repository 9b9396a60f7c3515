package dev.geminirotator.redis;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.spi.StateChange;

/**
 * A change waiting to be written to Redis. Writes with the same {@link #slot()} describe the same
 * piece of state, so a newer one replaces (or merges with) an older one still queued: while Redis
 * is slow or down, the queue holds one entry per key, cooldown, breaker and so on, not one per
 * change. Immutable.
 */
sealed interface Write {

  /** What this write sets; two writes with the same slot are merged. */
  String slot();

  /** The write that leaves the state as applying {@code older} then this one would. */
  Write mergeAfter(Write older);

  /** A key's status with its version. */
  record Status(StateChange.KeyStatus status, String version) implements Write {
    @Override
    public String slot() {
      return "s\u0000" + status.keyId();
    }

    @Override
    public Write mergeAfter(Write older) {
      return older instanceof Status o && o.version.compareTo(version) > 0 ? o : this;
    }
  }

  /**
   * A cooldown to move later, optionally after clearing the one stored. A class rather than a
   * record so its slot is built once: 429s are the most frequent change.
   */
  final class Cooldown implements Write {
    private final String project;
    private final String model;
    private final long until;
    private final boolean clearFirst;
    private final String slot;

    Cooldown(String project, String model, long until, boolean clearFirst) {
      this(project, model, until, clearFirst, slotOf(project, model));
    }

    private Cooldown(String project, String model, long until, boolean clearFirst, String slot) {
      this.project = project;
      this.model = model;
      this.until = until;
      this.clearFirst = clearFirst;
      this.slot = slot;
    }

    static String slotOf(String project, String model) {
      return "c\u0000" + project + "\u0000" + model;
    }

    String project() {
      return project;
    }

    String model() {
      return model;
    }

    /** End in epoch millis, or 0 for a clear alone. */
    long until() {
      return until;
    }

    boolean clearFirst() {
      return clearFirst;
    }

    @Override
    public String slot() {
      return slot;
    }

    @Override
    public Write mergeAfter(Write older) {
      if (clearFirst || !(older instanceof Cooldown o)) return this;
      return o.until >= until && o.clearFirst == clearFirst ? o
          : new Cooldown(project, model, Math.max(o.until, until), o.clearFirst, slot);
    }

    @Override
    public String toString() {
      return "Cooldown[" + project + ", " + model + ", until=" + until + ", clearFirst="
          + clearFirst + ']';
    }
  }

  /** A health score, written behind. */
  record Health(String keyId, double score) implements Write {
    @Override
    public String slot() {
      return "h\u0000" + keyId;
    }

    @Override
    public Write mergeAfter(Write older) {
      return this;
    }
  }

  /** A key added at run time. */
  record Added(ApiKey key) implements Write {
    @Override
    public String slot() {
      return "m\u0000" + key.id();
    }

    @Override
    public Write mergeAfter(Write older) {
      return this;
    }
  }

  /** A key removed at run time. */
  record Removed(String keyId) implements Write {
    @Override
    public String slot() {
      return "m\u0000" + keyId;
    }

    @Override
    public Write mergeAfter(Write older) {
      return this;
    }
  }

  /** A breaker's state. */
  record Breaker(StateChange.Breaker breaker) implements Write {
    @Override
    public String slot() {
      return "b\u0000" + breaker.name();
    }

    @Override
    public Write mergeAfter(Write older) {
      return this;
    }
  }

  /** The slot a change sets. */
  static String slotOf(StateChange change) {
    return of(change, "").slot();
  }

  /** The write for a change; {@code version} is used for statuses only. */
  static Write of(StateChange change, String version) {
    if (change instanceof StateChange.KeyStatus s) return new Status(s, version);
    if (change instanceof StateChange.Cooldown c) {
      return c.cleared() ? new Cooldown(c.project(), c.model(), 0, true)
          : new Cooldown(c.project(), c.model(), Math.max(1, c.until().toEpochMilli()), false);
    }
    if (change instanceof StateChange.Health h) return new Health(h.keyId(), h.score());
    if (change instanceof StateChange.KeyAdded a) return new Added(a.key());
    if (change instanceof StateChange.KeyRemoved r) return new Removed(r.keyId());
    if (change instanceof StateChange.Breaker b) return new Breaker(b);
    throw new IllegalArgumentException("unknown change " + change.getClass().getName());
  }
}
