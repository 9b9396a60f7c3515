package dev.geminirotator.standalone;

import dev.geminirotator.api.ApiKey;

/**
 * Takes a pool key out of upstream→proxy header values, and out of the error bodies the proxy
 * returns (buffered to classify, and the rest of a longer one as it streams, {@link Chunks}),
 * before they go proxy→client: every
 * occurrence of the secret, written plainly or with any of its characters percent-encoded
 * ({@code %41Iza…}), becomes the key's id (or {@code redacted} when the id is not URL-safe).
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
   * A buffered (error) body with every occurrence of {@code key}'s secret replaced; the same array
   * when there is none. Bytes are read as ISO-8859-1, so everything but the secret stays byte for
   * byte.
   */
  static byte[] scrub(byte[] body, ApiKey key) {
    if (body.length < key.secret().length()) return body;
    String text = new String(body, java.nio.charset.StandardCharsets.ISO_8859_1);
    CharSequence scrubbed = scrub(text, key);
    return scrubbed == text ? body
        : scrubbed.toString().getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
  }

  /**
   * Scrubs a body that arrives in chunks, such as an upstream error body longer than the peek:
   * a secret split across two chunks is found too. Each call returns what may go out now, with
   * every occurrence of the key replaced, and holds back the last {@code 3 × secret length - 1}
   * bytes (the longest text that could still begin the secret, every character percent-encoded)
   * until the next chunk or the last one. Holds at most that many bytes between calls. Bytes are
   * read as ISO-8859-1, so everything but the secret stays byte for byte. Not thread-safe: one
   * per response.
   */
  static final class Chunks {
    private static final byte[] NONE = new byte[0];

    private final ApiKey key;
    private final String secret;
    private final int hold;
    private byte[] carry = NONE;
    private String replacement;

    Chunks(ApiKey key) {
      this.key = key;
      this.secret = key.secret();
      this.hold = Math.max(0, 3 * secret.length() - 1);
    }

    /** What of the body so far may be sent; everything left when {@code last}. */
    byte[] next(byte[] chunk, boolean last) {
      byte[] data = carry.length == 0 ? chunk : concat(carry, chunk);
      String text = new String(data, java.nio.charset.StandardCharsets.ISO_8859_1);
      int n = text.length();
      // Below limit a match, if any, lies wholly within what has arrived.
      int limit = last ? n : n - hold;
      StringBuilder out = new StringBuilder(Math.max(0, limit));
      int i = 0;
      while (i < limit) {
        int end = secret.isEmpty() ? -1 : matchAt(text, i, secret);
        if (end < 0) {
          out.append(text.charAt(i++));
        } else {
          if (replacement == null) replacement = replacement(key);
          out.append(replacement);
          i = end;
        }
      }
      carry = i >= n ? NONE : java.util.Arrays.copyOfRange(data, i, n);
      return out.toString().getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
    }

    private static byte[] concat(byte[] a, byte[] b) {
      byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
      System.arraycopy(b, 0, out, a.length, b.length);
      return out;
    }
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
