package dev.geminirotator.core.rotation;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.QuotaScope;
import java.time.Instant;
import java.util.List;
import java.util.function.Supplier;
import org.slf4j.Logger;

/**
 * The rotator's operator log of key states and cooldowns, at INFO (WARN for keys going or
 * leaving {@code INVALID}): one line when a cooldown starts (project, model, scope, quota id,
 * until, the keys it affects), one when it ends or is cleared, one when a key changes state.
 *
 * <p>A storm must not flood the log, so lines are throttled by {@link LogThrottle}: at most one
 * per {@link #INTERVAL_MILLIS} for each key's transitions, each project and model's cooldown
 * starts, and each project and model's cooldown ends. The lines held back are counted and the
 * count goes out with that subject's next line ("12 more cooldown starts not logged since the last
 * such line");
 * the end of a cooldown also reports the starts held back for it. WARN lines are never held back:
 * a key can become invalid only once until an operator resets it.
 *
 * <p>Thread-safe.
 */
final class StateLog {

  /** The least time between two lines about the same subject. */
  static final long INTERVAL_MILLIS = 30_000;
  /** Subjects tracked at once (keys, project-and-model pairs); beyond, they share one. */
  static final int MAX_SUBJECTS = 8_192;
  /** Key ids named in one cooldown line; the rest are counted. */
  static final int MAX_IDS = 10;

  private final Logger log;
  private final LogThrottle throttle;

  StateLog(Logger log) {
    this(log, new LogThrottle(INTERVAL_MILLIS, MAX_SUBJECTS));
  }

  StateLog(Logger log, LogThrottle throttle) {
    this.log = log;
    this.throttle = throttle;
  }

  /** A cooldown started; {@code members} lists the keys it affects, asked only for a line. */
  void cooldownStarted(String project, String model, QuotaScope scope, String quotaId,
      ProjectState.Cooling cooling, Supplier<List<String>> members, long now) {
    if (!log.isInfoEnabled()) return;
    long held = throttle.tryLog(subject("start", project, model), now);
    if (held == LogThrottle.HOLD) return;
    List<String> keyIds = members.get();
    log.atInfo().addKeyValue("project", Reasons.safe(project))
        .addKeyValue("model", Reasons.safe(model)).addKeyValue("scope", scope.name())
        .addKeyValue("quotaId", quotaId)
        .addKeyValue("until", Instant.ofEpochMilli(cooling.until()).toString())
        .addKeyValue("keyIds", ids(keyIds))
        .log("cooldown started: {}; keys {} skip it{}", cooling.reason(), ids(keyIds),
            held(held, "cooldown starts"));
  }

  /**
   * A cooldown ended ({@code how} "ended") or was cleared ("cleared by an operator reset",
   * "cleared by another instance").
   */
  void cooldownEnded(String project, String model, ProjectState.Cooling cooling, String how,
      long now) {
    if (!log.isInfoEnabled()) return;
    long held = throttle.tryLog(subject("end", project, model), now);
    if (held == LogThrottle.HOLD) return;
    long starts = throttle.takeHeld(subject("start", project, model));
    log.atInfo().addKeyValue("project", Reasons.safe(project))
        .addKeyValue("model", Reasons.safe(model))
        .addKeyValue("until", Instant.ofEpochMilli(cooling.until()).toString())
        .log("cooldown {}: {}{}{}", how, cooling.reason(), held(held, "cooldown ends"),
            held(starts, "cooldown starts"));
  }

  void transition(String keyId, KeyState from, KeyState to, String reason, Instant until,
      long now) {
    boolean warn = to == KeyState.INVALID || from == KeyState.INVALID;
    if (warn) {
      if (!log.isWarnEnabled()) return;
    } else if (!log.isInfoEnabled()) {
      return;
    }
    long held = throttle.tryLog("key\u0000" + keyId, now);
    if (held == LogThrottle.HOLD) {
      if (!warn) return;
      held = 0;
    }
    String untilText = until == null ? "" : "; until " + Reasons.instant(until.toEpochMilli());
    (warn ? log.atWarn() : log.atInfo()).addKeyValue("keyId", keyId)
        .addKeyValue("from", from.name()).addKeyValue("to", to.name())
        .addKeyValue("until", until == null ? null : until.toString())
        .log("key {} went {} -> {}: {}{}{}", keyId, from, to, reason, untilText,
            held(held, "state changes of this key"));
  }

  private static String subject(String kind, String project, String model) {
    return kind + '\u0000' + project + '\u0000' + model;
  }

  private static String held(long count, String what) {
    return count <= 0 ? ""
        : " (" + count + " more " + what + " not logged since the last such line)";
  }

  private static String ids(List<String> keyIds) {
    if (keyIds.size() <= MAX_IDS) return String.join(", ", keyIds);
    return String.join(", ", keyIds.subList(0, MAX_IDS)) + " and " + (keyIds.size() - MAX_IDS)
        + " more";
  }
}
