package dev.geminirotator.standalone.config;

import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.config.Secret;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.standalone.http.ClientIdentity;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * The part of a {@link StandaloneConfig} that requests read on every call and that a reload may
 * replace as a whole: access tokens (kept as SHA-256 digests), the admin and metrics tokens,
 * limits, the attempt policy. Immutable; published through a volatile field so a request sees one
 * consistent set.
 */
public final class Settings {

  /** The configuration these settings come from. */
  public final StandaloneConfig config;
  /** The attempt policy in force (from the rotator's sections). */
  public final AttemptPolicy attempts;
  /** Who a request comes from, behind {@code server.trusted-proxies}. */
  public final ClientIdentity identity;
  /** The per-client request limits ({@code rate-limit.requests-per-minute}). */
  public final ClientRateLimits rateLimits;
  private final List<byte[]> tokenDigests;
  private final List<String> tokenClientIds;
  private final byte[] adminDigest;
  private final byte[] metricsDigest;

  /**
   * Settings whose per-client limits are shared through {@code store} when it is a shared one
   * (Redis); {@code previous} limits are kept when the limit did not change.
   */
  public Settings(StandaloneConfig config, ClientRateLimits previous, KeyStateStore store) {
    this.config = config;
    this.attempts = config.rotator().attempts();
    this.identity = new ClientIdentity(config.server().trustedProxies());
    int rpm = config.rateLimit().requestsPerMinute();
    this.rateLimits = previous != null && previous.requestsPerMinute() == rpm
        ? previous : new ClientRateLimits(rpm, store, Clock.systemUTC());
    List<byte[]> digests = new ArrayList<>();
    for (Secret t : config.access().tokens()) digests.add(sha256(t.reveal()));
    this.tokenDigests = List.copyOf(digests);
    List<String> ids = new ArrayList<>();
    for (byte[] d : digests) ids.add(clientId(d));
    this.tokenClientIds = List.copyOf(ids);
    this.adminDigest = digest(config.admin().token());
    this.metricsDigest = digest(config.server().metricsToken());
  }

  public boolean hasTokens() {
    return !tokenDigests.isEmpty();
  }

  /**
   * The index of the access token that matches, or -1. Compares digests in constant time and
   * always walks every token, so timing says nothing about which or how much matched.
   */
  public int matchToken(String presented) {
    byte[] d = sha256(presented);
    int found = -1;
    for (int i = 0; i < tokenDigests.size(); i++) {
      if (MessageDigest.isEqual(d, tokenDigests.get(i)) && found < 0) found = i;
    }
    return found;
  }

  /**
   * Who presented the access token at {@code index} of {@link #matchToken}, for per-client limits
   * (and their shared counters in the store): {@code token-} and the first 12 hex digits of the
   * token's SHA-256. The same token has the same id on every proxy, whatever its place in the
   * list; the token itself never appears.
   */
  public String tokenClientId(int index) {
    return tokenClientIds.get(index);
  }

  public static String clientId(byte[] tokenDigest) {
    return "token-" + HexFormat.of().formatHex(tokenDigest, 0, 6);
  }

  public boolean adminEnabled() {
    return adminDigest != null;
  }

  public boolean matchAdmin(String presented) {
    return adminDigest != null && MessageDigest.isEqual(sha256(presented), adminDigest);
  }

  /** Whether {@code /metrics} requires a bearer token. */
  public boolean metricsTokenRequired() {
    return metricsDigest != null;
  }

  /** Whether this is the metrics token; compares digests in constant time. */
  public boolean matchMetrics(String presented) {
    return metricsDigest != null && MessageDigest.isEqual(sha256(presented), metricsDigest);
  }

  private static byte[] digest(Secret secret) {
    return secret == null ? null : sha256(secret.reveal());
  }

  public static byte[] sha256(String s) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
