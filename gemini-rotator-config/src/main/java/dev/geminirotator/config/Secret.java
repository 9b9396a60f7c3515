package dev.geminirotator.config;

import java.security.MessageDigest;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A configuration value that must never be shown: a token or a password. {@link #toString()} and
 * {@link ConfigYaml} print {@value #MASK}, so a section record holding one can be logged or printed
 * whole; only {@link #reveal()} gives the value, to the code that uses it. Two secrets are equal
 * when their values are (compared in constant time). Immutable and thread-safe.
 */
public final class Secret {

  /** How every secret is shown. */
  public static final String MASK = "****";

  private final String value;

  private Secret(String value) {
    this.value = value;
  }

  /** A secret, or {@code null} when {@code value} is {@code null} or blank (an unset secret). */
  public static Secret of(String value) {
    return value == null || value.isBlank() ? null : new Secret(value);
  }

  /** The value itself: pass it to what needs it, never to a log, a message or an answer. */
  public String reveal() {
    return value;
  }

  /** The value's length, for checks that must not show it. */
  public int length() {
    return value.length();
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Secret s && MessageDigest.isEqual(value.getBytes(StandardCharsets.UTF_8),
        s.value.getBytes(StandardCharsets.UTF_8));
  }

  @Override
  public int hashCode() {
    return Objects.hashCode(value);
  }

  /** {@value #MASK}, never the value. */
  @Override
  public String toString() {
    return MASK;
  }
}
