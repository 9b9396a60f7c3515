package dev.geminirotator.standalone;

import dev.geminirotator.api.ApiKey;

/**
 * Takes the attempt's pool key out of upstream→proxy header values before they go proxy→client:
 * every occurrence of the secret, written plainly or with any of its characters percent-encoded
 * ({@code %41Iza…}), becomes the key's id (or {@code redacted} when the id is not URL-safe).
 * Bodies are scrubbed of every pool key by core's
 * {@link dev.geminirotator.core.exchange.SecretScrubber}.
 *
 * <p>Cheap where it matters: a value shorter than the secret cannot hold it and is not scanned,
 * and most of Gemini's response headers are ({@code Content-Type}, {@code Vary},
 * {@code Server-Timing}); a longer one is scanned once, without allocating unless it holds the
 * key. Stateless and thread-safe.
 */
final class SecretScrub {

  private SecretScrub() {
  }

  /** What stands for {@code key} in a scrubbed value: its id when URL-safe, else {@code redacted}. */
  static String replacement(ApiKey key) {
    String id = key.id();
    if (id.isEmpty() || id.length() > 64) return "redacted";
    for (int i = 0; i < id.length(); i++) {
      char c = id.charAt(i);
      boolean safe = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || c == '-' || c == '.' || c == '_' || c == '~';
      if (!safe) return "redacted";
    }
    return id;
  }

  /**
   * {@code value} with every occurrence of {@code key}'s secret replaced by its {@link
   * #replacement}; the same instance when there is none.
   */
  static CharSequence scrub(CharSequence value, ApiKey key) {
    return scrub(value, key.secret(), null, key);
  }

  /**
   * {@code value} with every occurrence of {@code secret} replaced by {@code replacement}; the
   * same instance when there is none.
   */
  static CharSequence scrub(CharSequence value, String secret, String replacement) {
    return scrub(value, secret, replacement, null);
  }

  /** The replacement is {@code replacement}, or worked out from {@code key} at the first match. */
  private static CharSequence scrub(CharSequence value, String secret, String replacement,
      ApiKey key) {
    int n = value.length();
    if (secret.isEmpty() || n < secret.length()) return value;
    StringBuilder sb = null;
    int copied = 0;
    for (int i = 0; i <= n - secret.length(); ) {
      int end = matchAt(value, i, secret);
      if (end < 0) {
        i++;
        continue;
      }
      if (sb == null) {
        sb = new StringBuilder(n);
        if (replacement == null) replacement = replacement(key);
      }
      sb.append(value, copied, i).append(replacement);
      copied = end;
      i = end;
    }
    if (sb == null) return value;
    return sb.append(value, copied, n).toString();
  }

  /**
   * The end of {@code secret} written at {@code from}, each character plainly or as a {@code %XX}
   * escape of its (ASCII) code, or -1.
   */
  private static int matchAt(CharSequence value, int from, String secret) {
    int n = value.length();
    int p = from;
    for (int j = 0; j < secret.length(); j++) {
      if (p >= n) return -1;
      char want = secret.charAt(j);
      char c = value.charAt(p);
      if (c == want) {
        p++;
      } else if (c == '%' && p + 2 < n && want < 0x80
          && Character.digit(value.charAt(p + 1), 16) == (want >> 4)
          && Character.digit(value.charAt(p + 2), 16) == (want & 0xF)) {
        p += 3;
      } else {
        return -1;
      }
    }
    return p;
  }
}
