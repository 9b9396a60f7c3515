package dev.geminirotator.standalone;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;

/**
 * Request ids: the client's {@code X-Request-Id} when it is sane (at most 64 characters of
 * {@code [A-Za-z0-9._-]}), else a fresh random (version 4) UUID. Stored as a request attribute.
 * Thread-safe.
 *
 * <p>Ids correlate log lines; they are not secrets, so they come from {@link ThreadLocalRandom}
 * (122 random bits, no lock, no system call) rather than {@link UUID#randomUUID()}, whose
 * {@code SecureRandom} took a lock and read {@code /dev/urandom} on every request under load.
 */
final class RequestIds {

  static final String HEADER = "X-Request-Id";
  private static final Pattern SANE = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private RequestIds() {
  }

  /** Assigns the request its id and returns it. */
  static String assign(ProxyRequest request) {
    String given = request.header(HEADER);
    String id = given != null && SANE.matcher(given).matches() ? given : newId();
    request.requestId(id);
    return id;
  }

  /** A fresh id: a random version 4 (IETF variant) UUID in its usual 36-character form. */
  static String newId() {
    ThreadLocalRandom random = ThreadLocalRandom.current();
    long msb = (random.nextLong() & ~0xF000L) | 0x4000L;
    long lsb = (random.nextLong() & ~(0xC000L << 48)) | (0x8000L << 48);
    return new UUID(msb, lsb).toString();
  }
}
