package dev.geminirotator.api.event;

import dev.geminirotator.api.QuotaScope;
import java.time.Instant;
import java.util.List;

/**
 * A 429 cooled a project for a model: every key of the project skips that model until
 * {@code until}.
 *
 * @param keyId the key whose response was rate-limited
 * @param project the project that shares the quota
 * @param model the model, or {@code *} when the request named none
 * @param scope the quota window that was hit
 * @param until when the cooldown ends
 * @param affectedKeyIds every key that now skips the model (the key and its project siblings)
 * @param at when
 */
public record CooldownStarted(String keyId, String project, String model, QuotaScope scope,
    Instant until, List<String> affectedKeyIds, Instant at) implements RotatorEvent {
  public CooldownStarted {
    affectedKeyIds = List.copyOf(affectedKeyIds);
  }
}
