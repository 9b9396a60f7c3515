package dev.geminirotator.core.rotation;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.internal.quota.SharedQuota;
import dev.geminirotator.core.internal.quota.SharedQuotas;

/**
 * A key's own request quotas (per minute, per day) as {@link SharedQuota}s, so that every rotator
 * sharing the store counts them together. Checked before the key is handed out, so a key at its
 * quota is skipped instead of earning a 429. Never waits: permits are claimed from the store in the
 * background. The per-day window runs from midnight to midnight in the cooldown policy's daily
 * reset zone, where Gemini resets its per-day quotas.
 */
final class QuotaGate {

  private final SharedQuota perMinute;
  private final SharedQuota perDay;

  QuotaGate(SharedQuota perMinute, SharedQuota perDay) {
    this.perMinute = perMinute;
    this.perDay = perDay;
  }

  /** A gate for the key's quotas, or {@code null} when it has none. */
  static QuotaGate forKey(ApiKey key, SharedQuotas quotas) {
    if (key.requestsPerMinute().isEmpty() && key.requestsPerDay().isEmpty()) {
      return null;
    }
    SharedQuota rpm = key.requestsPerMinute().isPresent()
        ? quotas.perMinute("quota:" + key.id() + ":rpm", key.requestsPerMinute().getAsInt())
        : null;
    SharedQuota rpd = key.requestsPerDay().isPresent()
        ? quotas.perDay("quota:" + key.id() + ":rpd", key.requestsPerDay().getAsInt())
        : null;
    return new QuotaGate(rpm, rpd);
  }

  /** Takes one permit from each quota, or none when any is spent. */
  boolean tryAcquire() {
    if (perDay != null && perDay.spent()) {
      return false;
    }
    if (perMinute == null) {
      return perDay.tryAcquire();
    }
    long minuteWindow = perMinute.take();
    if (minuteWindow == SharedQuota.REFUSED) {
      return false;
    }
    if (perDay != null && !perDay.tryAcquire()) {
      // another request took the last daily permit since the check above: the request is not
      // sent, so its minute permit goes back (on a small daily limit it would be lost otherwise)
      perMinute.giveBack(minuteWindow);
      return false;
    }
    return true;
  }

  /** Nanoseconds until a permit frees up in every quota that is spent now, or 0. */
  long nanosToWait() {
    long wait = 0;
    if (perMinute != null) wait = Math.max(wait, perMinute.nanosToWait());
    if (perDay != null) wait = Math.max(wait, perDay.nanosToWait());
    return wait;
  }

  boolean spent() {
    return (perMinute != null && perMinute.spent()) || (perDay != null && perDay.spent());
  }
}
