package dev.geminirotator.core.health;

import dev.geminirotator.core.internal.Backoff;
import dev.geminirotator.core.internal.Checks;
import dev.geminirotator.core.internal.Durations;
import java.time.Duration;

/**
 * How a key's health score moves and what happens when it falls too low.
 *
 * <p>The score is an exponentially weighted moving average of outcomes, 0.0 to 1.0: a success
 * moves it {@code alpha} of the way up to 1.0, an upstream or transport error {@code alpha} of the
 * way down to 0.0. Rate limits, client errors and cancellations leave it alone; "model overloaded"
 * (503) does too, since it is not the key's fault. Under {@code threshold} the key leaves rotation
 * and cools down with exponential backoff and jitter ({@code cooldownBase * 2^n}, capped at
 * {@code cooldownMax}); then a single trial request decides: success brings it back at
 * {@code recoveredScore}, failure doubles the cooldown.
 *
 * <p>Immutable and thread-safe.
 */
public final class HealthPolicy {

  public static final double DEFAULT_ALPHA = 0.1;
  public static final double DEFAULT_THRESHOLD = 0.5;
  public static final double DEFAULT_RECOVERED_SCORE = 0.75;
  public static final Duration DEFAULT_COOLDOWN_BASE = Duration.ofSeconds(15);
  public static final Duration DEFAULT_COOLDOWN_MAX = Duration.ofMinutes(10);
  public static final double DEFAULT_JITTER = 0.2;

  private static final HealthPolicy DEFAULTS = builder().build();

  private final double alpha;
  private final double threshold;
  private final double recoveredScore;
  private final Duration cooldownBase;
  private final Duration cooldownMax;
  private final double jitter;

  private HealthPolicy(Builder b) {
    this.alpha = b.alpha;
    this.threshold = b.threshold;
    this.recoveredScore = b.recoveredScore;
    this.cooldownBase = b.cooldownBase;
    this.cooldownMax = b.cooldownMax;
    this.jitter = b.jitter;
  }

  public static HealthPolicy defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder().alpha(alpha).threshold(threshold).recoveredScore(recoveredScore)
        .cooldownBase(cooldownBase).cooldownMax(cooldownMax).jitter(jitter);
  }

  public double alpha() {
    return alpha;
  }

  public double threshold() {
    return threshold;
  }

  public double recoveredScore() {
    return recoveredScore;
  }

  public Duration cooldownBase() {
    return cooldownBase;
  }

  public Duration cooldownMax() {
    return cooldownMax;
  }

  public double jitter() {
    return jitter;
  }

  /** The score after a success. */
  public double afterSuccess(double score) {
    return score + alpha * (1.0 - score);
  }

  /** The score after a failure that counts against the key. */
  public double afterFailure(double score) {
    return score - alpha * score;
  }

  /**
   * The cooldown of an unhealthy key that has failed {@code streak} trials (0 for the first).
   *
   * @param random a uniform value in [0, 1) that spreads the jitter
   */
  public Duration cooldown(int streak, double random) {
    return Backoff.exponential(cooldownBase, cooldownMax, streak, jitter, random);
  }

  @Override
  public String toString() {
    return "HealthPolicy{alpha=" + alpha + ", threshold=" + threshold + ", recoveredScore="
        + recoveredScore + ", cooldownBase=" + Durations.format(cooldownBase) + ", cooldownMax="
        + Durations.format(cooldownMax) + ", jitter=" + jitter + '}';
  }

  /** Builds a {@link HealthPolicy} from the {@code DEFAULT_*} values. Not thread-safe. */
  public static final class Builder {
    private double alpha = DEFAULT_ALPHA;
    private double threshold = DEFAULT_THRESHOLD;
    private double recoveredScore = DEFAULT_RECOVERED_SCORE;
    private Duration cooldownBase = DEFAULT_COOLDOWN_BASE;
    private Duration cooldownMax = DEFAULT_COOLDOWN_MAX;
    private double jitter = DEFAULT_JITTER;

    private Builder() {
    }

    /** Weight of the newest outcome, greater than 0.0 and at most 1.0. */
    public Builder alpha(double alpha) {
      this.alpha = Checks.fraction("alpha", alpha);
      return this;
    }

    /** Score under which a key leaves rotation, 0.0 to 1.0 (0.0 never removes a key). */
    public Builder threshold(double threshold) {
      this.threshold = Checks.between("threshold", threshold, 0.0, 1.0);
      return this;
    }

    /** Score a key gets back when its trial succeeds, 0.0 to 1.0; must exceed the threshold. */
    public Builder recoveredScore(double recoveredScore) {
      this.recoveredScore = Checks.between("recovered-score", recoveredScore, 0.0, 1.0);
      return this;
    }

    public Builder cooldownBase(Duration cooldownBase) {
      this.cooldownBase = Checks.positive("cooldown-base", cooldownBase);
      return this;
    }

    public Builder cooldownMax(Duration cooldownMax) {
      this.cooldownMax = Checks.positive("cooldown-max", cooldownMax);
      return this;
    }

    /** Fraction of a cooldown that is randomised, 0.0 to 1.0. */
    public Builder jitter(double jitter) {
      this.jitter = Checks.between("jitter", jitter, 0.0, 1.0);
      return this;
    }

    public HealthPolicy build() {
      Checks.ordered("cooldown-base", cooldownBase, "cooldown-max", cooldownMax);
      if (recoveredScore < threshold) {
        throw new IllegalArgumentException("recovered-score (" + recoveredScore
            + ") must be >= threshold (" + threshold + "), or a recovered key would leave at once");
      }
      return new HealthPolicy(this);
    }
  }
}
