package dev.geminirotator.api;

/** Which Gemini quota window a rate limit hit, as far as the response says. */
public enum QuotaScope {
  /** A per-minute quota (requests or tokens). Cools for the retry delay. */
  PER_MINUTE,
  /** A per-day quota. Cools until the daily reset, midnight America/Los_Angeles. */
  PER_DAY,
  /** The response did not say. Cools for the retry delay, or with backoff. */
  UNKNOWN
}
