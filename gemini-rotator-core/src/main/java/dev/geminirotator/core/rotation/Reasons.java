package dev.geminirotator.core.rotation;

import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;

/**
 * The words of cooldown reasons: "per-day quota of project p for gemini-2.5-flash
 * (GenerateRequestsPerDayPerProjectPerModel-FreeTier) until 2026-12-08T08:00Z (midnight Pacific)".
 * Reasons go to logs and the admin API, so every name in one is made safe first: a model comes
 * from the client's request path and could otherwise forge a log line. Stateless.
 */
final class Reasons {

  /** The longest model or project name a reason quotes; longer ones are cut. */
  static final int MAX_NAME = 96;

  private Reasons() {
  }

  /** Why a 429 cooled a project for a model. */
  static String cooldown(QuotaScope scope, String project, String model, String quotaId,
      long until, String basis) {
    StringBuilder sb = new StringBuilder(160);
    sb.append(switch (scope) {
      case PER_DAY -> "per-day quota";
      case PER_MINUTE -> "per-minute quota";
      case UNKNOWN -> "rate limit";
    });
    sb.append(" of ").append(owner(project)).append(" for ").append(model(model));
    if (quotaId != null) sb.append(" (").append(safe(quotaId)).append(')');
    sb.append(" until ").append(instant(until));
    if (basis != null) sb.append(" (").append(basis).append(')');
    return sb.toString();
  }

  /** A cooldown another instance started; the store does not carry its reason. */
  static String remoteCooldown(String project, String model, long until) {
    return "rate limit of " + owner(project) + " for " + model(model) + " until " + instant(until)
        + " (learnt from another instance)";
  }

  /** "project p", or "key k1" for a key without a project (its project is {@code key:<id>}). */
  static String owner(String project) {
    return project.startsWith("key:") ? "key " + safe(project.substring(4))
        : "project " + safe(project);
  }

  static String model(String model) {
    return RequestContext.ANY_MODEL.equals(model) ? "every model" : safe(model);
  }

  /** An instant to the second, UTC, seconds left out when zero: 2026-12-08T08:00Z. */
  static String instant(long epochMillis) {
    return OffsetDateTime.ofInstant(Instant.ofEpochMilli(epochMillis).truncatedTo(ChronoUnit.SECONDS),
        ZoneOffset.UTC).toString();
  }

  /**
   * The text with anything but letters, digits and {@code . _ - : / @ +} replaced by {@code ?},
   * cut to {@link #MAX_NAME} characters: no line breaks, quotes or control characters.
   */
  static String safe(String text) {
    if (text == null) return "?";
    int n = Math.min(text.length(), MAX_NAME);
    StringBuilder sb = null;
    for (int i = 0; i < n; i++) {
      char c = text.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '.' || c == '_' || c == '-' || c == ':' || c == '/' || c == '@' || c == '+';
      if (!ok && sb == null) sb = new StringBuilder(n + 1).append(text, 0, i);
      if (sb != null) sb.append(ok ? c : '?');
    }
    String result = sb != null ? sb.toString() : text.substring(0, n);
    return text.length() > MAX_NAME ? result + "…" : result;
  }
}
