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

  /**
   * A key's status, and the generation of the stored status it replaces as this instance knew it
   * when the change was made ({@code base}): Redis refuses it if another instance wrote a status
   * for the key after that, whatever the writers' clocks say.
   */
  record Status(StateChange.KeyStatus status, long base) implements Write {
    static String slotOf(String keyId) {
      return "s\u0000" + keyId;
    }

    @Override
    public String slot() {
      return slotOf(status.keyId());
    }

    /** The newer change was made knowing at least what the older one knew: it replaces it. */
    @Override
    public Write mergeAfter(Write older) {
      return this;
    }
  }

  /**
   * A cooldown to move later, optionally after clearing the one stored. A clear carries the
   * generation of the cooldown it clears as this instance knew it when the clear was made
   * ({@code base}): Redis skips the clear if another instance set the cooldown after that, so a
   * reset queued during an outage never wipes a cooldown set meanwhile. A class rather than a
   * record so its slot is built once: 429s are the most frequent change.
   */
  final class Cooldown implements Write {
    private final String project;
    private final String model;
    private final long until;
    private final boolean clearFirst;
    private final long base;
    private final String slot;

    Cooldown(String project, String model, long until, boolean clearFirst) {
      this(project, model, until, clearFirst, 0, slotOf(project, model));
    }

    Cooldown(String project, String model, long until, boolean clearFirst, long base) {
      this(project, model, until, clearFirst, base, slotOf(project, model));
    }

    private Cooldown(String project, String model, long until, boolean clearFirst, long base,
        String slot) {
      this.project = project;
      this.model = model;
      this.until = until;
      this.clearFirst = clearFirst;
      this.base = base;
      this.slot = slot;
    }

    /** The same write, its clear based on generation {@code base}. */
    Cooldown withBase(long base) {
      return new Cooldown(project, model, until, clearFirst, base, slot);
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

    /** The generation the clear is based on; meaningless without {@link #clearFirst()}. */
    long base() {
      return base;
    }

    @Override
    public String slot() {
      return slot;
    }

    @Override
    public Write mergeAfter(Write older) {
      if (clearFirst || !(older instanceof Cooldown o)) return this;
      return o.until >= until && o.clearFirst == clearFirst ? o
          : new Cooldown(project, model, Math.max(o.until, until), o.clearFirst, o.base, slot);
    }

    @Override
    public String toString() {
      return "Cooldown[" + project + ", " + model + ", until=" + until + ", clearFirst="
          + clearFirst + ", base=" + base + ']';
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
    return of(change).slot();
  }

  /** The write for a change, based on nothing (a status or clear then needs its base). */
  static Write of(StateChange change) {
    if (change instanceof StateChange.KeyStatus s) return new Status(s, 0);
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
