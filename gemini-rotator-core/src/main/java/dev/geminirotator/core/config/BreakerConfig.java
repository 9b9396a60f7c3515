package dev.geminirotator.core.config;

import dev.geminirotator.core.internal.Checks;
import dev.geminirotator.core.internal.Durations;
import java.time.Duration;
import java.util.Objects;

/**
 * The circuit guard in front of the upstream: over the last {@code slidingWindowSize} calls (once
 * at least {@code minimumCalls} were made), when {@code failureRateThreshold} percent or more were
 * upstream errors, the breaker opens and fails fast for {@code waitInOpen}; then
 * {@code permittedCallsInHalfOpen} trial calls decide. One breaker per upstream, or per model with
 * {@code perModel}. Rate limits and client errors never count.
 *
 * <p>The configuration side of the breaker policy; the guard maps from it. Immutable and
 * thread-safe.
 */
public final class BreakerConfig {

  public static final boolean DEFAULT_ENABLED = true;
  public static final double DEFAULT_FAILURE_RATE_THRESHOLD = 50.0;
  public static final int DEFAULT_MINIMUM_CALLS = 20;
  public static final int DEFAULT_SLIDING_WINDOW_SIZE = 50;
  public static final Duration DEFAULT_WAIT_IN_OPEN = Duration.ofSeconds(10);
  public static final int DEFAULT_PERMITTED_CALLS_IN_HALF_OPEN = 3;
  public static final boolean DEFAULT_PER_MODEL = false;
  /** The largest sliding window accepted; the window holds one slot per call. */
  public static final int MAX_SLIDING_WINDOW_SIZE = 100_000;

  private static final BreakerConfig DEFAULTS = builder().build();

  private final boolean enabled;
  private final double failureRateThreshold;
  private final int minimumCalls;
  private final int slidingWindowSize;
  private final Duration waitInOpen;
  private final int permittedCallsInHalfOpen;
  private final boolean perModel;

  private BreakerConfig(Builder b) {
    this.enabled = b.enabled;
    this.failureRateThreshold = b.failureRateThreshold;
    this.minimumCalls = b.minimumCalls;
    this.slidingWindowSize = b.slidingWindowSize;
    this.waitInOpen = b.waitInOpen;
    this.permittedCallsInHalfOpen = b.permittedCallsInHalfOpen;
    this.perModel = b.perModel;
  }

  public static BreakerConfig defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder().enabled(enabled).failureRateThreshold(failureRateThreshold)
        .minimumCalls(minimumCalls).slidingWindowSize(slidingWindowSize).waitInOpen(waitInOpen)
        .permittedCallsInHalfOpen(permittedCallsInHalfOpen).perModel(perModel);
  }

  public boolean enabled() {
    return enabled;
  }

  /** Percentage of failed calls, 1.0 to 100.0, at or above which the breaker opens. */
  public double failureRateThreshold() {
    return failureRateThreshold;
  }

  public int minimumCalls() {
    return minimumCalls;
  }

  public int slidingWindowSize() {
    return slidingWindowSize;
  }

  public Duration waitInOpen() {
    return waitInOpen;
  }

  public int permittedCallsInHalfOpen() {
    return permittedCallsInHalfOpen;
  }

  public boolean perModel() {
    return perModel;
  }

  @Override
  public String toString() {
    return "BreakerConfig{enabled=" + enabled + ", failureRateThreshold=" + failureRateThreshold
        + ", minimumCalls=" + minimumCalls + ", slidingWindowSize=" + slidingWindowSize
        + ", waitInOpen=" + Durations.format(waitInOpen) + ", permittedCallsInHalfOpen="
        + permittedCallsInHalfOpen + ", perModel=" + perModel + '}';
  }

  /** Builds a {@link BreakerConfig} from the {@code DEFAULT_*} values. Not thread-safe. */
  public static final class Builder {
    private boolean enabled = DEFAULT_ENABLED;
    private double failureRateThreshold = DEFAULT_FAILURE_RATE_THRESHOLD;
    private int minimumCalls = DEFAULT_MINIMUM_CALLS;
    private int slidingWindowSize = DEFAULT_SLIDING_WINDOW_SIZE;
    private Duration waitInOpen = DEFAULT_WAIT_IN_OPEN;
    private int permittedCallsInHalfOpen = DEFAULT_PERMITTED_CALLS_IN_HALF_OPEN;
    private boolean perModel = DEFAULT_PER_MODEL;

    private Builder() {
    }

    public Builder enabled(boolean enabled) {
      this.enabled = enabled;
      return this;
    }

    /** Percent, 1.0 to 100.0. */
    public Builder failureRateThreshold(double percent) {
      this.failureRateThreshold = Checks.between("failure-rate-threshold", percent, 1.0, 100.0);
      return this;
    }

    /** Calls the window must hold before the failure rate counts, at least 1. */
    public Builder minimumCalls(int minimumCalls) {
      this.minimumCalls = Checks.atLeast("minimum-calls", minimumCalls, 1);
      return this;
    }

    /** Calls the failure rate is computed over, 1 to {@value BreakerConfig#MAX_SLIDING_WINDOW_SIZE}. */
    public Builder slidingWindowSize(int slidingWindowSize) {
      this.slidingWindowSize =
          Checks.between("sliding-window-size", slidingWindowSize, 1, MAX_SLIDING_WINDOW_SIZE);
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

    public Builder permittedCallsInHalfOpen(int calls) {
      this.permittedCallsInHalfOpen = Checks.atLeast("permitted-calls-in-half-open", calls, 1);
      return this;
    }

    public Builder perModel(boolean perModel) {
      this.perModel = perModel;
      return this;
    }

    public BreakerConfig build() {
      if (minimumCalls > slidingWindowSize) {
        throw new IllegalArgumentException("minimum-calls (" + minimumCalls
            + ") must not be greater than sliding-window-size (" + slidingWindowSize
            + "), or the breaker could never open");
      }
      return new BreakerConfig(this);
    }
  }
}
