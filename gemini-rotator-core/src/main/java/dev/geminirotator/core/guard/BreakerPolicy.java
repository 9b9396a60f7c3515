package dev.geminirotator.core.guard;

import dev.geminirotator.core.internal.Checks;
import dev.geminirotator.core.internal.Durations;
import java.time.Duration;
import java.util.Objects;

/**
 * When the {@link ResilientCircuitGuard} opens, how long it stays open and how it closes again.
 *
 * <p>The breaker looks at the last {@code slidingWindowSize} calls that said something about the
 * upstream (successes, upstream errors and transport errors; never 429s, client errors, key
 * rejections or cancellations). Once at least {@code minimumCalls} of them are recorded and
 * {@code failureRateThreshold} percent or more failed, it opens: calls fail fast for
 * {@code waitInOpen}. The first call after that half-opens it and {@code permittedCallsInHalfOpen}
 * trial calls go through; if fewer than {@code failureRateThreshold} percent of them fail it
 * closes, otherwise it opens again for another {@code waitInOpen}.
 *
 * <p>With {@code perModel} the guard keeps one breaker per model (Gemini overloads models one at a
 * time), up to {@code maxModelBreakers}; models beyond that, and requests that name no model, share
 * the upstream-wide breaker. With {@code enabled} false the guard never refuses a call.
 *
 * <p>Immutable and thread-safe.
 */
public final class BreakerPolicy {

  public static final double DEFAULT_FAILURE_RATE_THRESHOLD = 50.0;
  public static final int DEFAULT_MINIMUM_CALLS = 20;
  public static final int DEFAULT_SLIDING_WINDOW_SIZE = 50;
  public static final Duration DEFAULT_WAIT_IN_OPEN = Duration.ofSeconds(10);
  public static final int DEFAULT_PERMITTED_CALLS_IN_HALF_OPEN = 3;
  public static final boolean DEFAULT_PER_MODEL = false;
  public static final int DEFAULT_MAX_MODEL_BREAKERS = 256;
  public static final boolean DEFAULT_ENABLED = true;

  /** The largest sliding window accepted; the window holds one slot per call. */
  public static final int MAX_SLIDING_WINDOW_SIZE = 100_000;
  /** The largest number of per-model breakers accepted. */
  public static final int MAX_MODEL_BREAKERS = 10_000;

  private static final BreakerPolicy DEFAULTS = builder().build();

  private final double failureRateThreshold;
  private final int minimumCalls;
  private final int slidingWindowSize;
  private final Duration waitInOpen;
  private final int permittedCallsInHalfOpen;
  private final boolean perModel;
  private final int maxModelBreakers;
  private final boolean enabled;

  private BreakerPolicy(Builder b) {
    this.failureRateThreshold = b.failureRateThreshold;
    this.minimumCalls = b.minimumCalls;
    this.slidingWindowSize = b.slidingWindowSize;
    this.waitInOpen = b.waitInOpen;
    this.permittedCallsInHalfOpen = b.permittedCallsInHalfOpen;
    this.perModel = b.perModel;
    this.maxModelBreakers = b.maxModelBreakers;
    this.enabled = b.enabled;
  }

  /** The policy built from the {@code DEFAULT_*} values. */
  public static BreakerPolicy defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** Returns a builder preloaded with this policy. */
  public Builder toBuilder() {
    return new Builder().failureRateThreshold(failureRateThreshold).minimumCalls(minimumCalls)
        .slidingWindowSize(slidingWindowSize).waitInOpen(waitInOpen)
        .permittedCallsInHalfOpen(permittedCallsInHalfOpen).perModel(perModel)
        .maxModelBreakers(maxModelBreakers).enabled(enabled);
  }

  /** Percentage of failed calls, 1.0 to 100.0, at or above which the breaker opens. */
  public double failureRateThreshold() {
    return failureRateThreshold;
  }

  /** Calls the window must hold before the failure rate is judged. */
  public int minimumCalls() {
    return minimumCalls;
  }

  /** How many of the latest calls the failure rate is computed over. */
  public int slidingWindowSize() {
    return slidingWindowSize;
  }

  /** How long an open breaker fails fast before it lets trial calls through. */
  public Duration waitInOpen() {
    return waitInOpen;
  }

  /** Trial calls let through while half-open; their outcome decides. */
  public int permittedCallsInHalfOpen() {
    return permittedCallsInHalfOpen;
  }

  /** Whether each model gets its own breaker. */
  public boolean perModel() {
    return perModel;
  }

  /** With {@link #perModel()}, the most per-model breakers kept; later models share one. */
  public int maxModelBreakers() {
    return maxModelBreakers;
  }

  /** Whether the guard may refuse calls at all. */
  public boolean enabled() {
    return enabled;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof BreakerPolicy p && p.failureRateThreshold == failureRateThreshold
        && p.minimumCalls == minimumCalls && p.slidingWindowSize == slidingWindowSize
        && p.waitInOpen.equals(waitInOpen) && p.permittedCallsInHalfOpen == permittedCallsInHalfOpen
        && p.perModel == perModel && p.maxModelBreakers == maxModelBreakers && p.enabled == enabled;
  }

  @Override
  public int hashCode() {
    return Objects.hash(failureRateThreshold, minimumCalls, slidingWindowSize, waitInOpen,
        permittedCallsInHalfOpen, perModel, maxModelBreakers, enabled);
  }

  @Override
  public String toString() {
    return "BreakerPolicy{failureRateThreshold=" + failureRateThreshold + ", minimumCalls="
        + minimumCalls + ", slidingWindowSize=" + slidingWindowSize + ", waitInOpen="
        + Durations.format(waitInOpen) + ", permittedCallsInHalfOpen=" + permittedCallsInHalfOpen
        + ", perModel=" + perModel + ", maxModelBreakers=" + maxModelBreakers + ", enabled="
        + enabled + '}';
  }

  /** Builds a {@link BreakerPolicy} from the {@code DEFAULT_*} values. Not thread-safe. */
  public static final class Builder {
    private double failureRateThreshold = DEFAULT_FAILURE_RATE_THRESHOLD;
    private int minimumCalls = DEFAULT_MINIMUM_CALLS;
    private int slidingWindowSize = DEFAULT_SLIDING_WINDOW_SIZE;
    private Duration waitInOpen = DEFAULT_WAIT_IN_OPEN;
    private int permittedCallsInHalfOpen = DEFAULT_PERMITTED_CALLS_IN_HALF_OPEN;
    private boolean perModel = DEFAULT_PER_MODEL;
    private int maxModelBreakers = DEFAULT_MAX_MODEL_BREAKERS;
    private boolean enabled = DEFAULT_ENABLED;

    private Builder() {
    }

    /** Percentage of failed calls at or above which the breaker opens, 1.0 to 100.0. */
    public Builder failureRateThreshold(double percent) {
      this.failureRateThreshold = Checks.between("failure-rate-threshold", percent, 1.0, 100.0);
      return this;
    }

    /** Calls recorded before the failure rate is judged, at least 1. */
    public Builder minimumCalls(int minimumCalls) {
      this.minimumCalls = Checks.atLeast("minimum-calls", minimumCalls, 1);
      return this;
    }

    /**
     * The number of latest calls the failure rate covers, 1 to
     * {@value BreakerPolicy#MAX_SLIDING_WINDOW_SIZE}.
     */
    public Builder slidingWindowSize(int calls) {
      this.slidingWindowSize =
          Checks.between("sliding-window-size", calls, 1, MAX_SLIDING_WINDOW_SIZE);
      return this;
    }

    /** How long to fail fast once open, at least 1ms. */
    public Builder waitInOpen(Duration waitInOpen) {
      Objects.requireNonNull(waitInOpen, "wait-in-open");
      if (waitInOpen.toNanos() < 1_000_000L) {
        throw new IllegalArgumentException(
            "wait-in-open must be >= 1ms but was " + Durations.format(waitInOpen));
      }
      this.waitInOpen = waitInOpen;
      return this;
    }

    /** Trial calls let through while half-open, at least 1. */
    public Builder permittedCallsInHalfOpen(int calls) {
      this.permittedCallsInHalfOpen = Checks.atLeast("permitted-calls-in-half-open", calls, 1);
      return this;
    }

    /** One breaker per model ({@code true}) or one for the whole upstream ({@code false}). */
    public Builder perModel(boolean perModel) {
      this.perModel = perModel;
      return this;
    }

    /** The most per-model breakers kept, 1 to {@value BreakerPolicy#MAX_MODEL_BREAKERS}. */
    public Builder maxModelBreakers(int max) {
      this.maxModelBreakers = Checks.between("max-model-breakers", max, 1, MAX_MODEL_BREAKERS);
      return this;
    }

    /** Whether the guard may refuse calls; {@code false} turns it into a no-op. */
    public Builder enabled(boolean enabled) {
      this.enabled = enabled;
      return this;
    }

    /**
     * Builds the policy.
     *
     * @throws IllegalArgumentException when {@code minimumCalls} exceeds
     *     {@code slidingWindowSize}: the window could never hold enough calls to open
     */
    public BreakerPolicy build() {
      if (minimumCalls > slidingWindowSize) {
        throw new IllegalArgumentException("minimum-calls (" + minimumCalls
            + ") must not be greater than sliding-window-size (" + slidingWindowSize
            + "), or the breaker could never open");
      }
      return new BreakerPolicy(this);
    }
  }
}
