package dev.geminirotator.core.rotation;

import dev.geminirotator.core.internal.Checks;
import dev.geminirotator.core.internal.Durations;
import java.time.Duration;

/**
 * When many keys fail the same way at once, the keys are probably not to blame: an IP-level block,
 * a regional outage or a proxy in between. A storm starts when, within {@code window}, at least
 * {@code fraction} of the pool (and at least {@code minKeys} keys) were rate-limited, or had their
 * credential rejected. During a rejection storm keys are cooled and probed instead of being made
 * {@code INVALID}, and the keys invalidated in the window are given the same chance. A storm ends
 * when fewer than half that many keys are hit within a window.
 *
 * <p>Immutable and thread-safe.
 */
public final class StormPolicy {

  public static final Duration DEFAULT_WINDOW = Duration.ofSeconds(10);
  public static final double DEFAULT_FRACTION = 0.8;
  public static final int DEFAULT_MIN_KEYS = 3;

  private static final StormPolicy DEFAULTS = builder().build();

  private final Duration window;
  private final double fraction;
  private final int minKeys;

  private StormPolicy(Builder b) {
    this.window = b.window;
    this.fraction = b.fraction;
    this.minKeys = b.minKeys;
  }

  public static StormPolicy defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder().window(window).fraction(fraction).minKeys(minKeys);
  }

  public Duration window() {
    return window;
  }

  public double fraction() {
    return fraction;
  }

  public int minKeys() {
    return minKeys;
  }

  /** How many distinct keys hit within a window start a storm in a pool of this size. */
  public int threshold(int poolSize) {
    return Math.max(minKeys, (int) Math.ceil(fraction * poolSize));
  }

  @Override
  public String toString() {
    return "StormPolicy{window=" + Durations.format(window) + ", fraction=" + fraction
        + ", minKeys=" + minKeys + '}';
  }

  /** Builds a {@link StormPolicy} from the {@code DEFAULT_*} values. Not thread-safe. */
  public static final class Builder {
    private Duration window = DEFAULT_WINDOW;
    private double fraction = DEFAULT_FRACTION;
    private int minKeys = DEFAULT_MIN_KEYS;

    private Builder() {
    }

    public Builder window(Duration window) {
      this.window = Checks.positive("window", window);
      return this;
    }

    /** Share of the pool, more than 0.0 and at most 1.0. */
    public Builder fraction(double fraction) {
      this.fraction = Checks.between("fraction", fraction, 0.01, 1.0);
      return this;
    }

    public Builder minKeys(int minKeys) {
      this.minKeys = Checks.atLeast("min-keys", minKeys, 2);
      return this;
    }

    public StormPolicy build() {
      return new StormPolicy(this);
    }
  }
}
