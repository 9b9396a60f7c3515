package dev.geminirotator.core.config;

import dev.geminirotator.core.internal.Checks;
import dev.geminirotator.core.internal.Durations;
import java.time.Duration;

/**
 * How often and how patiently a request is retried on another key: at most {@code maxAttempts}
 * keys per request; rate-limited and rejected keys are retried at once, upstream errors (when
 * {@code retryUpstreamErrors}) after exponential backoff from {@code backoffBase}, capped at
 * {@code backoffMax} and spread by {@code jitter}.
 *
 * <p>The configuration side of the attempt policy; the policy itself maps from it. Immutable and
 * thread-safe.
 */
public final class AttemptConfig {

  public static final int DEFAULT_MAX_ATTEMPTS = 4;
  /** The most attempts a request may be given. */
  public static final int MAX_ATTEMPTS_LIMIT = 20;
  public static final Duration DEFAULT_BACKOFF_BASE = Duration.ofMillis(200);
  public static final Duration DEFAULT_BACKOFF_MAX = Duration.ofSeconds(2);
  public static final double DEFAULT_JITTER = 0.2;
  public static final boolean DEFAULT_RETRY_UPSTREAM_ERRORS = true;

  private static final AttemptConfig DEFAULTS = builder().build();

  private final int maxAttempts;
  private final Duration backoffBase;
  private final Duration backoffMax;
  private final double jitter;
  private final boolean retryUpstreamErrors;

  private AttemptConfig(Builder b) {
    this.maxAttempts = b.maxAttempts;
    this.backoffBase = b.backoffBase;
    this.backoffMax = b.backoffMax;
    this.jitter = b.jitter;
    this.retryUpstreamErrors = b.retryUpstreamErrors;
  }

  public static AttemptConfig defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder().maxAttempts(maxAttempts).backoffBase(backoffBase).backoffMax(backoffMax)
        .jitter(jitter).retryUpstreamErrors(retryUpstreamErrors);
  }

  /** Keys a request may be tried on, the first included. */
  public int maxAttempts() {
    return maxAttempts;
  }

  public Duration backoffBase() {
    return backoffBase;
  }

  public Duration backoffMax() {
    return backoffMax;
  }

  public double jitter() {
    return jitter;
  }

  /** Whether 5xx, I/O errors and timeouts are retried on another key. */
  public boolean retryUpstreamErrors() {
    return retryUpstreamErrors;
  }

  @Override
  public String toString() {
    return "AttemptConfig{maxAttempts=" + maxAttempts + ", backoffBase="
        + Durations.format(backoffBase) + ", backoffMax=" + Durations.format(backoffMax)
        + ", jitter=" + jitter + ", retryUpstreamErrors=" + retryUpstreamErrors + '}';
  }

  /** Builds an {@link AttemptConfig} from the {@code DEFAULT_*} values. Not thread-safe. */
  public static final class Builder {
    private int maxAttempts = DEFAULT_MAX_ATTEMPTS;
    private Duration backoffBase = DEFAULT_BACKOFF_BASE;
    private Duration backoffMax = DEFAULT_BACKOFF_MAX;
    private double jitter = DEFAULT_JITTER;
    private boolean retryUpstreamErrors = DEFAULT_RETRY_UPSTREAM_ERRORS;

    private Builder() {
    }

    /** 1 (never retry) to {@value AttemptConfig#MAX_ATTEMPTS_LIMIT}. */
    public Builder maxAttempts(int maxAttempts) {
      this.maxAttempts = Checks.between("max-attempts", maxAttempts, 1, MAX_ATTEMPTS_LIMIT);
      return this;
    }

    /** The first backoff before retrying an upstream error. */
    public Builder backoffBase(Duration backoffBase) {
      this.backoffBase = Checks.positive("backoff-base", backoffBase);
      return this;
    }

    public Builder backoffMax(Duration backoffMax) {
      this.backoffMax = Checks.positive("backoff-max", backoffMax);
      return this;
    }

    /** Fraction of a backoff that is randomised, 0.0 to 1.0. */
    public Builder jitter(double jitter) {
      this.jitter = Checks.between("jitter", jitter, 0.0, 1.0);
      return this;
    }

    public Builder retryUpstreamErrors(boolean retryUpstreamErrors) {
      this.retryUpstreamErrors = retryUpstreamErrors;
      return this;
    }

    public AttemptConfig build() {
      Checks.ordered("backoff-base", backoffBase, "backoff-max", backoffMax);
      return new AttemptConfig(this);
    }
  }
}
