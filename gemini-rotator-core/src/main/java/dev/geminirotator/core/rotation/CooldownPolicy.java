package dev.geminirotator.core.rotation;

import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.core.internal.Backoff;
import dev.geminirotator.core.internal.Checks;
import dev.geminirotator.core.internal.Durations;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.util.Objects;

/**
 * How long a rate-limited project skips a model.
 *
 * <ul>
 *   <li>A per-day quota cools until the next daily reset, midnight in {@code dailyResetZone}
 *       (America/Los_Angeles, where Gemini resets), whatever delay the response gave.
 *   <li>Otherwise the delay Gemini gave ({@code RetryInfo.retryDelay} or {@code Retry-After}),
 *       at least {@code minimum} and at most {@code maximum}.
 *   <li>With no delay, exponential backoff with jitter from {@code backoffBase}, doubling with
 *       each consecutive 429 for the same project and model, capped at {@code backoffMax}.
 * </ul>
 * Immutable and thread-safe.
 */
public final class CooldownPolicy {

  public static final Duration DEFAULT_MINIMUM = Duration.ofSeconds(1);
  public static final Duration DEFAULT_MAXIMUM = Duration.ofHours(25);
  public static final Duration DEFAULT_BACKOFF_BASE = Duration.ofSeconds(10);
  public static final Duration DEFAULT_BACKOFF_MAX = Duration.ofMinutes(5);
  public static final double DEFAULT_JITTER = 0.2;
  public static final ZoneId DEFAULT_DAILY_RESET_ZONE = ZoneId.of("America/Los_Angeles");

  private static final CooldownPolicy DEFAULTS = builder().build();

  private final Duration minimum;
  private final Duration maximum;
  private final Duration backoffBase;
  private final Duration backoffMax;
  private final double jitter;
  private final ZoneId dailyResetZone;

  private CooldownPolicy(Builder b) {
    this.minimum = b.minimum;
    this.maximum = b.maximum;
    this.backoffBase = b.backoffBase;
    this.backoffMax = b.backoffMax;
    this.jitter = b.jitter;
    this.dailyResetZone = b.dailyResetZone;
  }

  public static CooldownPolicy defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder().minimum(minimum).maximum(maximum).backoffBase(backoffBase)
        .backoffMax(backoffMax).jitter(jitter).dailyResetZone(dailyResetZone);
  }

  public Duration minimum() {
    return minimum;
  }

  public Duration maximum() {
    return maximum;
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

  public ZoneId dailyResetZone() {
    return dailyResetZone;
  }

  /**
   * When a cooldown for this 429 ends.
   *
   * @param streak earlier consecutive 429s for the same project and model (0 for the first)
   * @param random a uniform value in [0, 1) for the jitter
   */
  public Instant cooldownUntil(Outcome.RateLimited outcome, Instant now, int streak,
      double random) {
    return decide(outcome, now, streak, random).until();
  }

  /**
   * When a cooldown for this 429 ends, and why then.
   *
   * @param streak earlier consecutive 429s for the same project and model (0 for the first)
   * @param random a uniform value in [0, 1) for the jitter
   */
  public Decision decide(Outcome.RateLimited outcome, Instant now, int streak, double random) {
    if (outcome.scope() == QuotaScope.PER_DAY) {
      return new Decision(nextDailyReset(now), "midnight " + zoneName(dailyResetZone));
    }
    Duration delay = outcome.retryDelay();
    String basis;
    if (delay == null) {
      delay = Backoff.exponential(backoffBase, backoffMax, streak, jitter, random);
      basis = "backoff " + Durations.format(delay.truncatedTo(java.time.temporal.ChronoUnit.MILLIS))
          + ": no retry delay given"
          + (streak > 0 ? ", " + (streak + 1) + " such 429s in a row" : "");
    } else {
      basis = "retry delay " + Durations.format(delay.truncatedTo(
          java.time.temporal.ChronoUnit.MILLIS));
    }
    if (delay.compareTo(minimum) < 0) {
      delay = minimum;
      basis += ", raised to the " + Durations.format(minimum) + " minimum";
    }
    if (delay.compareTo(maximum) > 0) {
      delay = maximum;
      basis += ", cut to the " + Durations.format(maximum) + " maximum";
    }
    return new Decision(now.plus(delay), basis);
  }

  /** "Pacific" for Gemini's own reset zone, else the zone's id. */
  private static String zoneName(ZoneId zone) {
    String id = zone.getId();
    return id.equals("America/Los_Angeles") || id.equals("US/Pacific") ? "Pacific" : id;
  }

  /**
   * When a cooldown ends and why then, in words: {@code "midnight Pacific"},
   * {@code "retry delay 37s"}, {@code "backoff 10s: no retry delay given"}. Immutable.
   *
   * @param until when the cooldown ends
   * @param basis why it ends then
   */
  public record Decision(Instant until, String basis) {
  }

  /** The next midnight in the daily reset zone strictly after {@code now}. */
  public Instant nextDailyReset(Instant now) {
    return now.atZone(dailyResetZone).toLocalDate().plusDays(1)
        .atStartOfDay(dailyResetZone).toInstant();
  }

  @Override
  public String toString() {
    return "CooldownPolicy{minimum=" + Durations.format(minimum) + ", maximum="
        + Durations.format(maximum) + ", backoffBase=" + Durations.format(backoffBase)
        + ", backoffMax=" + Durations.format(backoffMax) + ", jitter=" + jitter
        + ", dailyResetZone=" + dailyResetZone + '}';
  }

  /** Builds a {@link CooldownPolicy} from the {@code DEFAULT_*} values. Not thread-safe. */
  public static final class Builder {
    private Duration minimum = DEFAULT_MINIMUM;
    private Duration maximum = DEFAULT_MAXIMUM;
    private Duration backoffBase = DEFAULT_BACKOFF_BASE;
    private Duration backoffMax = DEFAULT_BACKOFF_MAX;
    private double jitter = DEFAULT_JITTER;
    private ZoneId dailyResetZone = DEFAULT_DAILY_RESET_ZONE;

    private Builder() {
    }

    /** The shortest cooldown, even when Gemini asks for less. */
    public Builder minimum(Duration minimum) {
      this.minimum = Checks.notNegative("minimum", minimum);
      return this;
    }

    /** The longest cooldown a retry delay may ask for. */
    public Builder maximum(Duration maximum) {
      this.maximum = Checks.positive("maximum", maximum);
      return this;
    }

    public Builder backoffBase(Duration backoffBase) {
      this.backoffBase = Checks.positive("backoff-base", backoffBase);
      return this;
    }

    public Builder backoffMax(Duration backoffMax) {
      this.backoffMax = Checks.positive("backoff-max", backoffMax);
      return this;
    }

    public Builder jitter(double jitter) {
      this.jitter = Checks.between("jitter", jitter, 0.0, 1.0);
      return this;
    }

    public Builder dailyResetZone(ZoneId zone) {
      this.dailyResetZone = Objects.requireNonNull(zone, "daily-reset-zone");
      return this;
    }

    public CooldownPolicy build() {
      Checks.ordered("minimum", minimum, "maximum", maximum);
      Checks.ordered("backoff-base", backoffBase, "backoff-max", backoffMax);
      return new CooldownPolicy(this);
    }
  }
}
