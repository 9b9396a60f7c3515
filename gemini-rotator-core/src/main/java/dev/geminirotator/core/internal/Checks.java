package dev.geminirotator.core.internal;

import java.time.Duration;
import java.util.Objects;

/**
 * Argument checks for config builders. Each message names the field, shows the bad value and
 * says what would be accepted, e.g. {@code "threshold must be >= 0.0 and <= 1.0 but was 1.5"}.
 */
public final class Checks {

  private Checks() {
  }

  public static int atLeast(String field, int value, int min) {
    if (value < min) {
      throw new IllegalArgumentException(field + " must be >= " + min + " but was " + value);
    }
    return value;
  }

  public static int between(String field, int value, int min, int max) {
    if (value < min || value > max) {
      throw new IllegalArgumentException(
          field + " must be >= " + min + " and <= " + max + " but was " + value);
    }
    return value;
  }

  public static double between(String field, double value, double min, double max) {
    if (!(value >= min && value <= max)) {
      throw new IllegalArgumentException(
          field + " must be >= " + min + " and <= " + max + " but was " + value);
    }
    return value;
  }

  /** A share in (0, 1]: more than nothing, at most all. */
  public static double fraction(String field, double value) {
    if (!(value > 0.0 && value <= 1.0)) {
      throw new IllegalArgumentException(field + " must be > 0.0 and <= 1.0 but was " + value);
    }
    return value;
  }

  public static Duration positive(String field, Duration value) {
    Objects.requireNonNull(value, field);
    if (value.isNegative() || value.isZero()) {
      throw new IllegalArgumentException(field + " must be > 0 but was " + Durations.format(value));
    }
    return value;
  }

  public static Duration notNegative(String field, Duration value) {
    Objects.requireNonNull(value, field);
    if (value.isNegative()) {
      throw new IllegalArgumentException(field + " must be >= 0 but was " + Durations.format(value));
    }
    return value;
  }

  /** Checks that {@code min <= max}, naming both fields. For use in {@code build()}. */
  public static void ordered(String minField, Duration min, String maxField, Duration max) {
    if (min.compareTo(max) > 0) {
      throw new IllegalArgumentException(minField + " (" + Durations.format(min)
          + ") must not be greater than " + maxField + " (" + Durations.format(max) + ")");
    }
  }
}
