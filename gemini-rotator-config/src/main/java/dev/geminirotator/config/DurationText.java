package dev.geminirotator.config;

import java.math.BigDecimal;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Durations as configuration files write them: {@code 500ms}, {@code 45.8s}, {@code 5m},
 * {@code 2h}, {@code 1d} or ISO-8601. Stateless.
 */
final class DurationText {

  private static final Pattern PATTERN =
      Pattern.compile("\\s*(\\d+(?:\\.\\d+)?)\\s*(ms|s|m|h|d)\\s*");

  private DurationText() {
  }

  /**
   * Parses {@code 250ms}, {@code 45.8s}, {@code 5m}, {@code 2h}, {@code 1d}, or an ISO-8601
   * duration ({@code PT30S}).
   *
   * @throws IllegalArgumentException naming the accepted forms
   */
  static Duration parse(String text) {
    Matcher m = PATTERN.matcher(text);
    if (m.matches()) {
      BigDecimal amount = new BigDecimal(m.group(1));
      long nanosPerUnit = switch (m.group(2)) {
        case "ms" -> 1_000_000L;
        case "s" -> 1_000_000_000L;
        case "m" -> 60_000_000_000L;
        case "h" -> 3_600_000_000_000L;
        default -> 86_400_000_000_000L;
      };
      BigDecimal nanos = amount.multiply(BigDecimal.valueOf(nanosPerUnit));
      if (nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
        throw new IllegalArgumentException("duration '" + text + "' is too long");
      }
      return Duration.ofNanos(nanos.longValue());
    }
    try {
      return Duration.parse(text.trim());
    } catch (RuntimeException e) {
      throw new IllegalArgumentException("'" + text
          + "' is not a duration: use a number with ms, s, m, h or d (250ms, 45.8s, 5m) or"
          + " ISO-8601 (PT30S)");
    }
  }

  /**
   * Prints a duration so that {@link #parse} reads it back exactly: {@code 250ms}, {@code 45.8s},
   * {@code 5m}; ISO-8601 for what those cannot write (negative, or finer than a millisecond).
   */
  static String format(Duration d) {
    if (d.isNegative() || d.getNano() % 1_000_000 != 0) return d.toString();
    long ms = d.toMillis();
    if (ms % 86_400_000 == 0 && ms != 0) return ms / 86_400_000 + "d";
    if (ms % 3_600_000 == 0 && ms != 0) return ms / 3_600_000 + "h";
    if (ms % 60_000 == 0 && ms != 0) return ms / 60_000 + "m";
    if (ms % 1_000 == 0) return ms / 1_000 + "s";
    if (ms >= 1_000) return BigDecimal.valueOf(ms, 3).stripTrailingZeros().toPlainString() + "s";
    return ms + "ms";
  }
}
