package dev.geminirotator.core.affinity;

import dev.geminirotator.core.internal.Checks;
import dev.geminirotator.core.internal.Durations;
import dev.geminirotator.core.internal.affinity.ResourceAffinity;
import java.time.Duration;
import java.util.Objects;

/**
 * The settings of resource affinity a deployment chooses (the configuration's {@code affinity}
 * section): whether it is on, and the bounds of a {@link ResourceAffinity}. Files, uploads in
 * progress, context caches, batches, file search stores, operations and interactions belong to
 * the Google Cloud project of the key that created them; with affinity on, a request naming one
 * goes only to keys of that project (see {@link ResourceAffinity}); off, every key serves every
 * request and another project's key gets Gemini's 403 or 404 for it. Immutable.
 */
public final class AffinityPolicy {

  public static final boolean DEFAULT_ENABLED = true;
  public static final int DEFAULT_MAX_PINS = ResourceAffinity.DEFAULT_MAX_PINS;
  public static final int DEFAULT_MAX_NOT_FOUND = ResourceAffinity.DEFAULT_MAX_NOT_FOUND;
  public static final Duration DEFAULT_NOT_FOUND_FOR = ResourceAffinity.DEFAULT_NOT_FOUND_FOR;
  public static final Duration DEFAULT_RENEW_EVERY = ResourceAffinity.DEFAULT_RENEW_EVERY;

  /** The longest {@code not-found-for}: a resource created meanwhile stays unreachable as long. */
  public static final Duration MAX_NOT_FOUND_FOR = Duration.ofHours(1);

  private static final AffinityPolicy DEFAULTS = builder().build();

  private final boolean enabled;
  private final int maxPins;
  private final int maxNotFound;
  private final Duration notFoundFor;
  private final Duration renewEvery;

  private AffinityPolicy(Builder b) {
    this.enabled = b.enabled;
    this.maxPins = b.maxPins;
    this.maxNotFound = b.maxNotFound;
    this.notFoundFor = b.notFoundFor;
    this.renewEvery = b.renewEvery;
  }

  public static AffinityPolicy defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return builder().enabled(enabled).maxPins(maxPins).maxNotFound(maxNotFound)
        .notFoundFor(notFoundFor).renewEvery(renewEvery);
  }

  public boolean enabled() {
    return enabled;
  }

  public int maxPins() {
    return maxPins;
  }

  public int maxNotFound() {
    return maxNotFound;
  }

  public Duration notFoundFor() {
    return notFoundFor;
  }

  public Duration renewEvery() {
    return renewEvery;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof AffinityPolicy p && enabled == p.enabled && maxPins == p.maxPins
        && maxNotFound == p.maxNotFound && notFoundFor.equals(p.notFoundFor)
        && renewEvery.equals(p.renewEvery);
  }

  @Override
  public int hashCode() {
    return Objects.hash(enabled, maxPins, maxNotFound, notFoundFor, renewEvery);
  }

  @Override
  public String toString() {
    if (!enabled) return "AffinityPolicy{disabled}";
    return "AffinityPolicy{maxPins=" + maxPins + ", maxNotFound=" + maxNotFound
        + ", notFoundFor=" + Durations.format(notFoundFor) + ", renewEvery="
        + Durations.format(renewEvery) + '}';
  }

  /** Builds an {@link AffinityPolicy} from the {@code DEFAULT_*} values. Not thread-safe. */
  public static final class Builder {
    private boolean enabled = DEFAULT_ENABLED;
    private int maxPins = DEFAULT_MAX_PINS;
    private int maxNotFound = DEFAULT_MAX_NOT_FOUND;
    private Duration notFoundFor = DEFAULT_NOT_FOUND_FOR;
    private Duration renewEvery = DEFAULT_RENEW_EVERY;

    private Builder() {
    }

    /** Whether requests naming a project-bound resource go only to its project's keys. */
    public Builder enabled(boolean enabled) {
      this.enabled = enabled;
      return this;
    }

    /**
     * The most pins one instance holds in memory, 1 to 10,000,000, least recently used first
     * out; a pin dropped here is read back from a shared store, or found again by discovery.
     */
    public Builder maxPins(int maxPins) {
      this.maxPins = Checks.between("max-pins", maxPins, 1, 10_000_000);
      return this;
    }

    /** The most resources remembered as held by no project, 1 to 1,000,000. */
    public Builder maxNotFound(int maxNotFound) {
      this.maxNotFound = Checks.between("max-not-found", maxNotFound, 1, 1_000_000);
      return this;
    }

    /**
     * How long a resource every project said it does not hold is answered 404 without asking
     * Gemini again: more than 0, at most {@link #MAX_NOT_FOUND_FOR}.
     */
    public Builder notFoundFor(Duration notFoundFor) {
      Checks.positive("not-found-for", notFoundFor);
      if (notFoundFor.compareTo(MAX_NOT_FOUND_FOR) > 0) {
        throw new IllegalArgumentException("not-found-for must be <= "
            + Durations.format(MAX_NOT_FOUND_FOR) + " but was " + Durations.format(notFoundFor));
      }
      this.notFoundFor = notFoundFor;
      return this;
    }

    /**
     * How often at most a long-lived resource's pin (a file search store, a tuned model),
     * renewed by each use, is written to a shared store: more than 0.
     */
    public Builder renewEvery(Duration renewEvery) {
      this.renewEvery = Checks.positive("renew-every", renewEvery);
      return this;
    }

    public AffinityPolicy build() {
      return new AffinityPolicy(this);
    }
  }
}
