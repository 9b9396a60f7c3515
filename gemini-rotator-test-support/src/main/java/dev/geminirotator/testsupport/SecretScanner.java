package dev.geminirotator.testsupport;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Looks for secrets (API keys, access and admin tokens) in text a test observed: logs, response
 * headers and bodies, exception messages, {@code toString()} output. It finds a secret whole, and
 * any {@value #WINDOW} or more characters of one (so a secret cut short, or printed around a mask,
 * is still found), and each of those URL-encoded ({@code %41} or {@code %2B} for a {@code +}, in
 * either case, encoded once or twice). A masked form such as {@code AIza…x9Qw} shows at most four
 * characters on each side, so it is never a finding.
 *
 * <p>Windows made of fewer than {@value #MIN_DISTINCT} distinct characters (the {@code 00000000}
 * of a zero-padded test secret) are left out: ordinary output prints such runs, and they say
 * nothing about which secret they came from. Findings and {@link #redact} never print a secret:
 * a finding names the secret by its index and shows the line with every match masked.
 *
 * <p>Immutable and thread-safe.
 */
public final class SecretScanner {

  /** The shortest part of a secret that counts as a leak. */
  public static final int WINDOW = 8;
  /** Fewer distinct characters than this and a window is too plain to identify a secret. */
  public static final int MIN_DISTINCT = 3;
  private static final int MAX_SHOWN = 400;

  private final List<String> secrets;
  /** Every scanned window of every secret, to the index of the first secret holding it. */
  private final Map<String, Integer> windows = new HashMap<>();

  private SecretScanner(List<String> secrets) {
    this.secrets = List.copyOf(secrets);
    for (int s = 0; s < this.secrets.size(); s++) {
      String secret = this.secrets.get(s);
      if (secret.isEmpty()) throw new IllegalArgumentException("secrets[" + s + "] is empty");
      if (secret.length() < WINDOW) {
        windows.putIfAbsent(secret, s);
        continue;
      }
      for (int i = 0; i + WINDOW <= secret.length(); i++) {
        String w = secret.substring(i, i + WINDOW);
        if (distinct(w) >= MIN_DISTINCT) windows.putIfAbsent(w, s);
      }
    }
  }

  /** A scanner for these secrets. */
  public static SecretScanner of(Collection<String> secrets) {
    return new SecretScanner(new ArrayList<>(secrets));
  }

  /** A scanner for these secrets. */
  public static SecretScanner of(String... secrets) {
    return new SecretScanner(List.of(secrets));
  }

  /** The secrets looked for, in order (their indexes name them in findings). */
  public List<String> secrets() {
    return secrets;
  }

  /**
   * Every line of {@code text} holding a secret or a part of one, plain or URL-encoded, as
   * {@code "secret #2 (part) in: <line with the matches masked>"}; empty when there is none.
   */
  public List<String> findings(CharSequence text) {
    List<String> found = new ArrayList<>();
    for (String line : text.toString().split("\n", -1)) {
      Set<Integer> plain = hits(line);
      String decoded = line;
      Set<Integer> encoded = new HashSet<>();
      for (int round = 0; round < 2 && decoded.indexOf('%') >= 0; round++) {
        decoded = percentDecode(decoded);
        encoded.addAll(hits(decoded));
      }
      encoded.removeAll(plain);
      for (int s : plain) {
        found.add("secret #" + s + " (" + (line.contains(secrets.get(s)) ? "whole" : "part")
            + ") in: " + shown(line));
      }
      for (int s : encoded) {
        found.add("secret #" + s + " (URL-encoded) in: " + shown(line));
      }
    }
    return found;
  }

  /** Whether {@code text} holds no secret and no part of one. */
  public boolean clean(CharSequence text) {
    return findings(text).isEmpty();
  }

  /**
   * {@code text} with every secret and every part of one replaced by {@code <secret #i>} or
   * asterisks, safe to print in a failure message.
   */
  public String redact(String text) {
    String out = text;
    for (int s = 0; s < secrets.size(); s++) {
      out = out.replace(secrets.get(s), "<secret #" + s + ">");
    }
    if (out.length() < WINDOW) return windows.containsKey(out) ? "*".repeat(out.length()) : out;
    boolean[] masked = new boolean[out.length()];
    for (int i = 0; i + WINDOW <= out.length(); i++) {
      if (windows.containsKey(out.substring(i, i + WINDOW))) {
        for (int j = i; j < i + WINDOW; j++) masked[j] = true;
      }
    }
    StringBuilder sb = new StringBuilder(out.length());
    for (int i = 0; i < out.length(); i++) sb.append(masked[i] ? '*' : out.charAt(i));
    return sb.toString();
  }

  private String shown(String line) {
    String r = redact(line);
    return r.length() > MAX_SHOWN ? r.substring(0, MAX_SHOWN) + "…" : r;
  }

  /** The indexes of the secrets {@code line} holds a scanned part of. */
  private Set<Integer> hits(String line) {
    Set<Integer> hit = new HashSet<>();
    for (int s = 0; s < secrets.size(); s++) {
      String secret = secrets.get(s);
      if (secret.length() < WINDOW && line.contains(secret)) hit.add(s);
    }
    for (int i = 0; i + WINDOW <= line.length(); i++) {
      Integer s = windows.get(line.substring(i, i + WINDOW));
      if (s != null) {
        // a window two secrets share is reported for each secret holding it
        String w = line.substring(i, i + WINDOW);
        for (int t = s; t < secrets.size(); t++) {
          if (secrets.get(t).contains(w)) hit.add(t);
        }
      }
    }
    return hit;
  }

  private static int distinct(String s) {
    return (int) s.chars().distinct().count();
  }

  /** Decodes {@code %XX} escapes (either case); anything else, malformed ones included, stays. */
  static String percentDecode(String s) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(s.length());
    StringBuilder out = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); ) {
      char c = s.charAt(i);
      if (c == '%' && i + 2 < s.length() && hex(s.charAt(i + 1)) >= 0
          && hex(s.charAt(i + 2)) >= 0) {
        bytes.write(hex(s.charAt(i + 1)) * 16 + hex(s.charAt(i + 2)));
        i += 3;
        continue;
      }
      if (bytes.size() > 0) {
        out.append(bytes.toString(StandardCharsets.UTF_8));
        bytes.reset();
      }
      out.append(c);
      i++;
    }
    if (bytes.size() > 0) out.append(bytes.toString(StandardCharsets.UTF_8));
    return out.toString();
  }

  private static int hex(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  }
}
