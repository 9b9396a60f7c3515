package dev.geminirotator.standalone.http;

import io.netty.util.AsciiString;
import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Request ids: the client's {@code X-Request-Id} when it is sane (at most 64 characters of
 * {@code [A-Za-z0-9._-]}), else a fresh random (version 4) UUID. Stored on the request. Thread-safe.
 *
 * <p>Ids correlate log lines; they are not secrets, so they come from {@link ThreadLocalRandom}
 * (122 random bits, no lock, no system call) rather than {@link UUID#randomUUID()}, whose
 * {@code SecureRandom} took a lock and read {@code /dev/urandom} on every request under load. They
 * are made as {@link AsciiString}s, which go into the response head with one bulk copy.
 */
public final class RequestIds {

  public static final AsciiString HEADER = HeaderNames.X_REQUEST_ID;
  private static final Pattern SANE = Pattern.compile("[A-Za-z0-9._-]{1,64}");
  private static final byte[] HEX =
      "0123456789abcdef".getBytes(java.nio.charset.StandardCharsets.US_ASCII);

  private RequestIds() {
  }

  /** Assigns the request its id and returns it. */
  public static AsciiString assign(ProxyRequest request) {
    String given = request.header(HEADER);
    AsciiString id = given != null && SANE.matcher(given).matches() ? new AsciiString(given)
        : newId();
    request.requestId(id);
    return id;
  }

  /** A fresh id: a random version 4 (IETF variant) UUID in its usual 36-character form. */
  public static AsciiString newId() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long msb = (random.nextLong() & ~0xF000L) | 0x4000L;
    long lsb = (random.nextLong() & ~(0xC000L << 48)) | (0x8000L << 48);
    byte[] b = new byte[36];
    hex(msb >>> 32, b, 0, 8);
    b[8] = '-';
    hex(msb >>> 16, b, 9, 4);
    b[13] = '-';
    hex(msb, b, 14, 4);
    b[18] = '-';
    hex(lsb >>> 48, b, 19, 4);
    b[23] = '-';
    hex(lsb, b, 24, 12);
    return new AsciiString(b, false);
  }

  /** Writes the low {@code digits} hex digits of {@code value} into {@code to} at {@code at}. */
  private static void hex(long value, byte[] to, int at, int digits) {
    for (int i = at + digits - 1; i >= at; i--) {
      to[i] = HEX[(int) (value & 0xF)];
      value >>>= 4;
    }
  }
}
