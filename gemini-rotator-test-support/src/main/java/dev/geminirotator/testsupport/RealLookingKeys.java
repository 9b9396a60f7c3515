package dev.geminirotator.testsupport;

import java.util.Random;

/**
 * Secrets shaped like real Gemini API keys, {@code AIza} and 35 characters of
 * {@code [A-Za-z0-9_-]} (39 in all), for tests that must prove such a key never reaches a client.
 * The same index always gives the same key. Stateless and thread-safe.
 */
public final class RealLookingKeys {

  private static final String CHARS =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

  private RealLookingKeys() {
  }

  /** The {@code index}th real-looking key; distinct indexes give distinct keys. */
  public static String key(long index) {
    Random random = new Random(0x5EC2E7L * 31 + index);
    StringBuilder sb = new StringBuilder("AIza");
    while (sb.length() < 39) sb.append(CHARS.charAt(random.nextInt(CHARS.length())));
    return sb.toString();
  }

  /** Gemini's suspended-consumer error body ({@code 403-consumer-suspended}) naming {@code key}. */
  public static String consumerSuspended(String key) {
    return Fixtures.geminiError("403-consumer-suspended")
        .replace("AIzaSyD-EXAMPLE-ONLY-000000000000000", key);
  }
}
