package dev.geminirotator.core.internal.exchange;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * Takes every pool secret out of an upstream body before it reaches a client: Gemini names the
 * key in some error messages ("Consumer 'api_key:AIza…' has been suspended"), and an answer to
 * one attempt may name the key of another. Each occurrence of any secret of the pool, written
 * plainly or with any of its bytes percent-encoded ({@code %41Iza…}), becomes the key's
 * {@linkplain ApiKey#id() id}, which never reveals the secret; every other byte passes unchanged.
 * Both transports use it, so what counts as a pool secret and what replaces it is decided here.
 *
 * <p>Matching is a set lookup, not a loop over keys: a rolling hash of every window of each
 * distinct secret length is tested against a bit filter and a hash table built once from the keys,
 * and only a hit is compared byte for byte. Scrubbing costs time linear in the body and in the
 * number of distinct secret lengths (one for Gemini's 39-character keys), whether the pool holds
 * ten keys or a hundred thousand. Bodies are handled as bytes (secrets as their UTF-8 bytes), so a
 * body in any encoding stays byte for byte where it holds no secret; the length of a scrubbed body
 * changes whenever a secret was replaced.
 *
 * <p>A body that arrives in chunks goes through a {@link Stream}, which finds a secret split
 * across chunks and holds back at most {@link #maxHeldBytes()} bytes between chunks: a streamed
 * body is never buffered whole.
 *
 * <p>Immutable and thread-safe; a {@link Stream} is not (one per body).
 * {@link #forAttempt(KeyRotator, ApiKey)} gives the scrubber a transport uses for one attempt's
 * answer: the pool's current keys, and the attempt's own key even if it left the pool meanwhile.
 */
public final class SecretScrubber {

  private static final SecretScrubber NONE = new SecretScrubber(new Index[0]);
  private static final long BASE = 0x9E3779B97F4A7C15L | 1L;
  private static final byte[] EMPTY = new byte[0];

  private final Index[] indexes;
  /** Every distinct secret length (in decoded bytes), longest first. */
  private final int[] lengths;
  /** {@code BASE^(length-1)} for each of {@link #lengths}, to roll a window on by one byte. */
  private final long[] powers;
  private final int maxLength;
  /** Which byte values occur in any secret (as the scan sees it). */
  private final boolean[] secretBytes = new boolean[256];

  private SecretScrubber(Index[] indexes) {
    this.indexes = indexes;
    for (Index index : indexes) {
      for (int b = 0; b < 256; b++) secretBytes[b] |= index.secretBytes[b];
    }
    TreeSet<Integer> all = new TreeSet<>();
    for (Index index : indexes) {
      for (int length : index.lengths) all.add(length);
    }
    this.lengths = all.descendingSet().stream().mapToInt(Integer::intValue).toArray();
    this.powers = new long[lengths.length];
    for (int t = 0; t < lengths.length; t++) {
      long p = 1;
      for (int i = 1; i < lengths[t]; i++) p *= BASE;
      powers[t] = p;
    }
    this.maxLength = lengths.length == 0 ? 0 : lengths[0];
  }

  /** A scrubber that finds nothing. */
  public static SecretScrubber none() {
    return NONE;
  }

  /** A scrubber for the secrets of these keys. Builds in time linear in the keys. */
  public static SecretScrubber of(Collection<ApiKey> keys) {
    Objects.requireNonNull(keys, "keys");
    if (keys.isEmpty()) return NONE;
    return new SecretScrubber(new Index[] {new Index(keys)});
  }

  /**
   * What a transport scrubs an attempt's answer with: every key of {@code rotator}'s pool (kept
   * current as keys are added, replaced or removed, when it is a {@link GeminiKeyRotator}; a
   * rotator of another kind cannot list its secrets) and {@code attemptKey}, the key that made
   * the attempt, even when it was removed from the pool while the attempt ran.
   */
  public static SecretScrubber forAttempt(KeyRotator rotator, ApiKey attemptKey) {
    return ofPool(rotator).including(attemptKey);
  }

  /**
   * Every secret of {@code rotator}'s current keys when it is a {@link GeminiKeyRotator} (built on
   * first use after its membership changed, then shared: every call until the next change returns
   * the same instance), else {@link #NONE}: a rotator of another kind cannot list its secrets.
   */
  public static SecretScrubber ofPool(KeyRotator rotator) {
    return rotator instanceof GeminiKeyRotator g ? poolScrubbers.apply(g) : NONE;
  }

  /**
   * How {@link GeminiKeyRotator} hands its pool's scrubber to the transports without a public
   * method on its API: its class initialiser installs the function, so it is set before any
   * instance exists (the JDK's {@code SharedSecrets} pattern).
   */
  private static volatile Function<GeminiKeyRotator, SecretScrubber> poolScrubbers = g -> NONE;
  private static boolean poolScrubbersInstalled; // guarded by SecretScrubber.class

  /**
   * Called once, by {@link GeminiKeyRotator}'s class initialiser. Any later call is refused, so
   * no other code can swap the pool's scrubber (and with it what is taken out of answers).
   *
   * @throws IllegalStateException when the scrubbers were installed already
   */
  public static synchronized void installPoolScrubbers(
      Function<GeminiKeyRotator, SecretScrubber> access) {
    Objects.requireNonNull(access, "access");
    if (poolScrubbersInstalled) {
      throw new IllegalStateException("the pool scrubbers are installed once, by GeminiKeyRotator");
    }
    poolScrubbers = access;
    poolScrubbersInstalled = true;
  }

  /** This scrubber, also finding {@code key}'s secret (itself when it already does). */
  public SecretScrubber including(ApiKey key) {
    Objects.requireNonNull(key, "key");
    String plain = key.secret();
    for (Index index : indexes) {
      // every call's path: the pool's own key, held under its own secret instance (see Index),
      // found by identity: no character compared, no hash computed (a String caches it)
      if (index.bySecret.get(plain) == key) return this;
    }
    if (plainAscii(plain)) { // the key is in the pool; find it without copying
      for (Index index : indexes) {
        if (index.bySecret.containsKey(plain)) return this;
      }
    }
    byte[] secret = view(key.secret().getBytes(StandardCharsets.UTF_8));
    String text = new String(secret, StandardCharsets.ISO_8859_1);
    for (Index index : indexes) {
      if (index.bySecret.containsKey(text)) return this;
    }
    Index[] more = Arrays.copyOf(indexes, indexes.length + 1);
    more[indexes.length] = new Index(List.of(key));
    return new SecretScrubber(more);
  }

  /**
   * The most bytes a {@link Stream} holds back between chunks: a secret's length, each byte
   * possibly written as a 3-byte {@code %XX} escape, less one.
   */
  public int maxHeldBytes() {
    return maxLength == 0 ? 0 : 3 * (maxLength - 1) + 2;
  }

  /**
   * The fewest characters a text can have and still hold one of these secrets (a character is at
   * most three UTF-8 bytes, and an escaped byte takes three characters); {@link
   * Integer#MAX_VALUE} when there is none. A transport need not scrub a shorter text, such as
   * most response header values.
   */
  public int shortestSecretChars() {
    if (lengths.length == 0) return Integer.MAX_VALUE;
    return (lengths[lengths.length - 1] + 2) / 3;
  }

  /** {@code body} with every pool secret replaced; the same array when it holds none. */
  public byte[] scrub(byte[] body) {
    Objects.requireNonNull(body, "body");
    if (maxLength == 0 || body.length == 0) return body;
    Scan scan = scan(body, body.length, true);
    return scan.out == null ? body : scan.out;
  }

  /**
   * {@code text} with every pool secret replaced; the same instance when it holds none. A text of
   * ASCII without {@code %} and without a run of secret characters as long as the shortest secret
   * (most header values: {@code application/json; charset=UTF-8}) is returned without being
   * copied or scanned.
   */
  public String scrub(String text) {
    Objects.requireNonNull(text, "text");
    if (maxLength == 0 || text.isEmpty() || cannotHold(text)) return text;
    byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
    byte[] scrubbed = scrub(bytes);
    return scrubbed == bytes ? text : new String(scrubbed, StandardCharsets.UTF_8);
  }

  /**
   * Whether {@code text} cannot hold a secret, decided without allocating: it is ASCII without
   * {@code %} (so its UTF-8 bytes are its characters and the scan's view is the text itself), and
   * no run of characters that occur in secrets is as long as the shortest secret. False when in
   * doubt: the full scan decides.
   */
  private boolean cannotHold(String text) {
    int shortest = lengths[lengths.length - 1];
    int run = 0;
    for (int i = 0, n = text.length(); i < n; i++) {
      char c = text.charAt(i);
      if (c >= 0x80 || c == '%') return false;
      if (!secretBytes[c]) {
        run = 0;
      } else if (++run >= shortest) {
        return false;
      }
    }
    return true;
  }

  /**
   * The start of a body that was cut short (a classifier's peek, the bytes kept of a failed
   * attempt) with every pool secret replaced, and without any trailing bytes that could begin a
   * secret whose rest was cut off: a cut secret leaks no prefix either. The same array when there
   * was nothing to take out.
   */
  public byte[] scrubTruncated(byte[] start) {
    Objects.requireNonNull(start, "start");
    if (maxLength == 0 || start.length == 0) return start;
    // decided by what the scan did, never by lengths: a secret replaced by an id and the
    // held-back tail can add up to exactly the length of what came in
    Scan scan = scan(start, start.length, false);
    if (scan.out != null) return scan.out;
    return scan.consumed == start.length ? start : Arrays.copyOf(start, scan.consumed);
  }

  /** A scrubber for one body that arrives in chunks. */
  public Stream stream() {
    return new Stream();
  }

  /**
   * Scrubs one body that arrives in chunks: a secret split across chunks is found too. Each
   * {@link #next} returns what may be sent now and holds back at most {@link #maxHeldBytes()}
   * bytes (the longest text that could still begin a secret) until the next chunk or the last.
   * Not thread-safe: one per body.
   */
  public final class Stream {
    private byte[] carry = EMPTY;

    private Stream() {
    }

    /** What of the body so far may be sent, scrubbed; everything left when {@code last}. */
    public byte[] next(byte[] chunk, boolean last) {
      Objects.requireNonNull(chunk, "chunk");
      if (maxLength == 0) return chunk;
      byte[] data;
      if (carry.length == 0) {
        data = chunk;
      } else {
        data = Arrays.copyOf(carry, carry.length + chunk.length);
        System.arraycopy(chunk, 0, data, carry.length, chunk.length);
      }
      Scan scan = scan(data, data.length, last);
      carry = scan.consumed >= data.length ? EMPTY
          : Arrays.copyOfRange(data, scan.consumed, data.length);
      if (scan.out != null) return scan.out;
      return scan.consumed == data.length ? data : Arrays.copyOf(data, scan.consumed);
    }

    /** How many bytes are held back now. */
    public int held() {
      return carry.length;
    }
  }

  /** The result of one scan: the scrubbed output (null when unchanged) and the bytes it covers. */
  private record Scan(byte[] out, int consumed) {
  }

  /**
   * Scrubs {@code data[0, n)}. When not {@code last}, windows that could still continue into the
   * next chunk are not decided: the output covers {@code data[0, consumed)} only.
   */
  private Scan scan(byte[] data, int n, boolean last) {
    // An escape cut by the chunk's end ("%" or "%4") is left out of this scan: it waits for the
    // rest of it, so no window is decided on half an escape.
    int end = n;
    if (!last) {
      if (n >= 1 && data[n - 1] == '%') {
        end = n - 1;
      } else if (n >= 2 && data[n - 2] == '%' && hex(data[n - 1]) >= 0) {
        end = n - 2;
      }
    }
    // The decoded view of data[0, end): %XX escapes read as the byte they stand for, with where
    // each view byte starts in data. Without a '%' the view is data itself.
    byte[] dec = data;
    int[] src = null;
    int m = end;
    if (indexOf(data, end, (byte) '%') >= 0) {
      dec = new byte[end];
      src = new int[end + 1];
      m = 0;
      for (int i = 0; i < end; ) {
        src[m] = i;
        int hi;
        int lo;
        if (data[i] == '%' && i + 2 < end && (hi = hex(data[i + 1])) >= 0
            && (lo = hex(data[i + 2])) >= 0) {
          dec[m++] = (byte) (hi << 4 | lo);
          i += 3;
        } else {
          dec[m++] = data[i++];
        }
      }
      src[m] = end;
    }
    // Windows starting before startLimit fit whole in what has arrived.
    int startLimit = last ? m : Math.max(0, m - (maxLength - 1));
    byte[] out = null;
    int outLen = 0;
    int copiedSrc = 0; // data[0, copiedSrc) is accounted for in out
    int matchEndSrc = 0;
    long[] hashes = new long[lengths.length];
    // Per length, the last position in its window holding a byte no secret has: a window with
    // one cannot match, so most windows of ordinary text are never looked up.
    int[] lastForeign = new int[lengths.length];
    boolean[] inSecrets = secretBytes;
    int k = 0;
    boolean fresh = true;
    while (k < startLimit) {
      if (fresh) {
        for (int t = 0; t < lengths.length; t++) {
          if (k + lengths[t] <= m) {
            hashes[t] = hash(dec, k, lengths[t]);
            lastForeign[t] = -1;
            for (int i = k; i < k + lengths[t]; i++) {
              if (!inSecrets[dec[i] & 0xFF]) lastForeign[t] = i;
            }
          }
        }
        fresh = false;
      }
      ApiKey found = null;
      int foundLength = 0;
      for (int t = 0; t < lengths.length && found == null; t++) {
        int len = lengths[t];
        if (k + len > m || lastForeign[t] >= k) continue;
        long h = hashes[t];
        for (Index index : indexes) {
          if (index.holds(h, len)) {
            ApiKey key = index.bySecret.get(new String(dec, k, len, StandardCharsets.ISO_8859_1));
            if (key != null) {
              found = key;
              foundLength = len;
              break;
            }
          }
        }
      }
      if (found != null) {
        int startSrc = src == null ? k : src[k];
        int endSrc = src == null ? k + foundLength : src[k + foundLength];
        byte[] replacement = replacement(found);
        if (out == null) out = new byte[n + Math.max(16, replacement.length * 2)];
        int copy = startSrc - copiedSrc;
        out = ensure(out, outLen + copy + replacement.length);
        System.arraycopy(data, copiedSrc, out, outLen, copy);
        outLen += copy;
        System.arraycopy(replacement, 0, out, outLen, replacement.length);
        outLen += replacement.length;
        copiedSrc = endSrc;
        matchEndSrc = endSrc;
        k += foundLength;
        fresh = true;
        continue;
      }
      // Roll every window on by one byte.
      for (int t = 0; t < lengths.length; t++) {
        int len = lengths[t];
        if (k + len < m) {
          int front = dec[k + len] & 0xFF;
          hashes[t] = (hashes[t] - (dec[k] & 0xFF) * powers[t]) * BASE + front;
          if (!inSecrets[front]) lastForeign[t] = k + len;
        }
      }
      k++;
    }
    int consumed = last ? n
        : Math.max(src == null ? startLimit : src[startLimit], matchEndSrc);
    if (out == null) return new Scan(null, consumed);
    int copy = consumed - copiedSrc;
    out = ensure(out, outLen + copy);
    System.arraycopy(data, copiedSrc, out, outLen, copy);
    outLen += copy;
    return new Scan(Arrays.copyOf(out, outLen), consumed);
  }

  private static byte[] replacement(ApiKey key) {
    return key.id().getBytes(StandardCharsets.US_ASCII);
  }

  private static byte[] ensure(byte[] out, int size) {
    return size <= out.length ? out : Arrays.copyOf(out, Math.max(size, out.length * 2));
  }

  private static int indexOf(byte[] data, int n, byte b) {
    for (int i = 0; i < n; i++) {
      if (data[i] == b) return i;
    }
    return -1;
  }

  private static int hex(byte b) {
    if (b >= '0' && b <= '9') return b - '0';
    if (b >= 'a' && b <= 'f') return b - 'a' + 10;
    if (b >= 'A' && b <= 'F') return b - 'A' + 10;
    return -1;
  }

  private static long hash(byte[] bytes, int from, int length) {
    long h = 0;
    for (int i = from; i < from + length; i++) h = h * BASE + (bytes[i] & 0xFF);
    return h;
  }

  /**
   * Whether {@code secret} is printable ASCII without {@code %}: then its {@link #view} is its
   * own bytes, and its index key is the string itself.
   */
  private static boolean plainAscii(String secret) {
    for (int i = 0, n = secret.length(); i < n; i++) {
      char c = secret.charAt(i);
      if (c < 0x20 || c >= 0x7f || c == '%') return false;
    }
    return !secret.isEmpty();
  }

  /** A secret as the scan sees it: its %XX escapes decoded, like a body's. */
  private static byte[] view(byte[] secret) {
    if (indexOf(secret, secret.length, (byte) '%') < 0) return secret;
    byte[] out = new byte[secret.length];
    int m = 0;
    for (int i = 0; i < secret.length; ) {
      int hi;
      int lo;
      if (secret[i] == '%' && i + 2 < secret.length && (hi = hex(secret[i + 1])) >= 0
          && (lo = hex(secret[i + 2])) >= 0) {
        out[m++] = (byte) (hi << 4 | lo);
        i += 3;
      } else {
        out[m++] = secret[i++];
      }
    }
    return Arrays.copyOf(out, m);
  }

  /** How many keys and distinct secret lengths this scrubber knows; never a secret. */
  @Override
  public String toString() {
    int keys = 0;
    for (Index index : indexes) keys += index.bySecret.size();
    return "SecretScrubber{keys=" + keys + ", lengths=" + Arrays.toString(lengths) + '}';
  }

  /**
   * The secrets of a set of keys: a bit filter over their hashes (about 16 bits a key, so a miss,
   * nearly every window of a body, is one cache-friendly bit test), the full hashes in an
   * open-addressing table (so a filter's false hit costs one probe, not a string), and a map from
   * the secret's bytes to its key, to confirm a hit.
   */
  private static final class Index {
    final int[] lengths;
    final long[] filter;
    final int filterMask;
    /** Full (mixed, never 0) hashes, open addressing; 0 is an empty slot. */
    final long[] exact;
    final Map<String, ApiKey> bySecret;
    final boolean[] secretBytes = new boolean[256];

    Index(Collection<ApiKey> keys) {
      bySecret = new HashMap<>(Math.max(16, keys.size() * 2));
      TreeSet<Integer> lengthSet = new TreeSet<>();
      List<long[]> hashes = new ArrayList<>(keys.size());
      for (ApiKey key : keys) {
        byte[] secret = view(key.secret().getBytes(StandardCharsets.UTF_8));
        if (secret.length == 0) continue;
        String text = new String(secret, StandardCharsets.ISO_8859_1);
        // A secret that reads as it is written is held under the key's own instance, so that
        // including(key) finds it by identity.
        bySecret.putIfAbsent(text.equals(key.secret()) ? key.secret() : text, key);
        lengthSet.add(secret.length);
        for (byte b : secret) secretBytes[b & 0xFF] = true;
        hashes.add(new long[] {hash(secret, 0, secret.length), secret.length});
      }
      lengths = lengthSet.stream().mapToInt(Integer::intValue).toArray();
      int bits = Integer.highestOneBit(Math.max(4096, hashes.size() * 16 - 1)) << 1;
      filter = new long[bits >>> 6];
      filterMask = bits - 1;
      exact = new long[Integer.highestOneBit(Math.max(16, hashes.size() * 2 - 1)) << 1];
      for (long[] h : hashes) {
        int bit = bit(h[0], (int) h[1]);
        filter[bit >>> 6] |= 1L << bit;
        long x = mixed(h[0], (int) h[1]);
        int mask = exact.length - 1;
        for (int i = (int) x & mask; ; i = (i + 1) & mask) {
          if (exact[i] == x) break;
          if (exact[i] == 0) {
            exact[i] = x;
            break;
          }
        }
      }
    }

    static long mixed(long hash, int length) {
      long x = (hash + length) * 0xBF58476D1CE4E5B9L;
      x ^= x >>> 31;
      return x == 0 ? 1 : x;
    }

    /** Whether a secret of this length may have this hash: the filter, then the exact table. */
    boolean holds(long hash, int length) {
      if (!maybe(hash, length)) return false;
      long x = mixed(hash, length);
      int mask = exact.length - 1;
      for (int i = (int) x & mask; ; i = (i + 1) & mask) {
        long e = exact[i];
        if (e == x) return true;
        if (e == 0) return false;
      }
    }

    int bit(long hash, int length) {
      long x = (hash ^ (length * 0xC2B2AE3D27D4EB4FL)) * 0x165667B19E3779F9L;
      return (int) (x >>> 32) & filterMask;
    }

    boolean maybe(long hash, int length) {
      int bit = bit(hash, length);
      return (filter[bit >>> 6] & (1L << bit)) != 0;
    }
  }
}
