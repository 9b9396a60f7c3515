package dev.geminirotator.core.internal;

import java.math.BigDecimal;
import java.time.Duration;

/**
 * Prints durations the way config files and Gemini write them: 500ms, 45.8s, 5m (the config
 * module parses them).
 */
public final class Durations {

  private Durations() {
  }

  /** Prints a duration compactly: {@code 250ms}, {@code 45.8s}, {@code 5m}. */
  public static String format(Duration d) {
    long ms = d.toMillis();
    if (d.isNegative()) return "-" + format(d.negated());
    if (ms == 0 && !d.isZero()) return d.toNanos() + "ns";
    if (ms % 86_400_000 == 0 && ms != 0) return ms / 86_400_000 + "d";
    if (ms % 3_600_000 == 0 && ms != 0) return ms / 3_600_000 + "h";
    if (ms % 60_000 == 0 && ms != 0) return ms / 60_000 + "m";
    if (ms % 1_000 == 0) return ms / 1_000 + "s";
    if (ms >= 1_000) return BigDecimal.valueOf(ms, 3).stripTrailingZeros().toPlainString() + "s";
    return ms + "ms";
  }
}
