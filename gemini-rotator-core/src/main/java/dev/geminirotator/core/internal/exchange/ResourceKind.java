package dev.geminirotator.core.internal.exchange;

import java.time.Duration;

/**
 * The kinds of project-bound Gemini resource: each is visible only to keys of the Google Cloud
 * project whose key created it, so a request that names one must go to a key of that project.
 * Names, lifetimes and the evidence for them are in {@code docs/gemini-resources.md}.
 *
 * <p>{@link #lifetime()} is how long a pin is kept when the creating answer gives no expiry of its
 * own: the resource's documented lifetime, or, where Google documents none, a bound that keeps
 * the pin table from growing without end (a pin that outlives its resource costs nothing: a
 * request naming a deleted resource gets Gemini's 404 from the right project).
 */
public enum ResourceKind {
  /**
   * A resumable upload session, named by the {@code upload_id} query parameter of the URL that
   * Gemini returns in {@code X-Goog-Upload-URL}; continued only with the key that started it (the
   * safe choice: whether the same project would do is unconfirmed). Its lifetime is unconfirmed;
   * one day bounds it.
   */
  UPLOAD(null, Duration.ofDays(1)),
  /**
   * {@code files/{id}}: "Files are stored for 48 hours" (https://ai.google.dev/gemini-api/docs/files);
   * the creating answer's {@code expirationTime} gives the exact instant.
   */
  FILE("files", Duration.ofHours(48)),
  /**
   * {@code cachedContents/{id}}: until its {@code expireTime} (always in the creating answer; a
   * PATCH may move it); one hour by default (https://ai.google.dev/gemini-api/docs/caching).
   */
  CACHED_CONTENT("cachedContents", Duration.ofHours(1)),
  /**
   * {@code batches/{id}}: no retention is documented; batches aim to finish within 24 hours
   * (https://ai.google.dev/gemini-api/docs/batch-mode) and their results are read afterwards, so
   * pins are kept 30 days.
   */
  BATCH("batches", Duration.ofDays(30)),
  /**
   * {@code fileSearchStores/{id}} with its documents and operations: "stored indefinitely until
   * you choose to delete it" (https://ai.google.dev/gemini-api/docs/file-search); pins are kept
   * 365 days, renewed whenever a request uses one.
   */
  FILE_SEARCH_STORE("fileSearchStores", Duration.ofDays(365)),
  /** {@code operations/{id}} at the top level: no retention documented; 30 days. */
  OPERATION("operations", Duration.ofDays(30)),
  /**
   * {@code interactions/{id}}: kept 55 days on paid tiers, 1 day on the free tier (secondary
   * sources quoting https://ai.google.dev/gemini-api/docs/interactions-overview); 55 days.
   */
  INTERACTION("interactions", Duration.ofDays(55)),
  /** {@code tunedModels/{id}}: until deleted; 365 days, renewed on use. */
  TUNED_MODEL("tunedModels", Duration.ofDays(365));

  private final String collection;
  private final Duration lifetime;

  ResourceKind(String collection, Duration lifetime) {
    this.collection = collection;
    this.lifetime = lifetime;
  }

  /** The collection segment of the resource's name ({@code files}), or {@code null} for uploads. */
  public String collection() {
    return collection;
  }

  /** How long a pin lasts when the creating answer names no expiry. */
  public Duration lifetime() {
    return lifetime;
  }
}
