package dev.geminirotator.api.event;

import dev.geminirotator.api.QuotaScope;
import java.time.Instant;
import java.util.List;

/**
 * A 429 cooled a project for a model: every key of the project skips that model until
 * {@code until}.
 *
 * @param keyId the key whose response was rate-limited, or {@code null} when the cooldown was
 *     learnt from another instance through the store
 * @param project the project that shares the quota
 * @param model the model, or {@code *} when the request named none
 * @param scope the quota window that was hit
 * @param until when the cooldown ends
 * @param affectedKeyIds every key that now skips the model (the key and its project siblings)
 * @param at when
 * @param quotaId the quota Gemini named ({@code QuotaFailure} {@code quotaId}), or {@code null}
 * @param reason the cooldown in words fit for a log line, e.g. "per-day quota of project p for
 *     gemini-2.5-flash (GenerateRequestsPerDayPerProjectPerModel-FreeTier) until
 *     2026-12-08T08:00Z (midnight Pacific)"; never {@code null} when the rotator fires it
 */
public record CooldownStarted(String keyId, String project, String model, QuotaScope scope,
    Instant until, List<String> affectedKeyIds, Instant at, String quotaId, String reason)
    implements RotatorEvent {
  public CooldownStarted {
    affectedKeyIds = List.copyOf(affectedKeyIds);
  }

  /** A cooldown without quota id or reason. */
  public CooldownStarted(String keyId, String project, String model, QuotaScope scope,
      Instant until, List<String> affectedKeyIds, Instant at) {
    this(keyId, project, model, scope, until, affectedKeyIds, at, null, null);
  }
}
