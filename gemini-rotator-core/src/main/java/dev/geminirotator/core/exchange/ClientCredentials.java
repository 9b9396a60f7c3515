package dev.geminirotator.core.exchange;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;

/**
 * What of a caller's request must never reach Gemini next to a pool key: the query parameters
 * and headers that carry a credential, or that move the billing and quota attribution of the key
 * to someone else. Both transports (the proxy and the OkHttp interceptor) drop them before they
 * add the pool key.
 *
 * <p>Why each one. Google's API platform reads a set of <em>system parameters</em> on every API,
 * Gemini's included, from the query (with or without a {@code $} prefix, percent-encoded or not)
 * or from a header; see <a href="https://cloud.google.com/apis/docs/system-parameters">System
 * parameters</a>:
 * <ul>
 *   <li>{@code key} / {@code $key} / {@code x-goog-api-key}: an API key. The pool key is the only
 *       one that may go upstream.
 *   <li>{@code access_token}, {@code oauth_token} (the page's older revisions list both next to
 *       {@code Authorization}) and {@code Authorization}: an OAuth credential. A request that
 *       carries an API key and an OAuth credential is answered {@code 401 UNAUTHENTICATED}, so a
 *       client could otherwise make every pool key look broken. {@code bearer_token} is dropped
 *       for the same reason.
 *   <li>{@code passwd}, {@code password}: reserved by the platform so that passwords are not put
 *       in URLs.
 *   <li>{@code quotaUser} / {@code X-Goog-Quota-User}, and the legacy {@code userIp}: whom the
 *       platform charges per-user quota to. The proxy's clients share the pool key's quota by the
 *       operator's rules, not by their own choice.
 *   <li>{@code userProject} / {@code X-Goog-User-Project}: the quota (billing) project of the
 *       request. Set in the request, it overrides the project of the API key (<a
 *       href="https://cloud.google.com/docs/quotas/set-quota-project">Set the quota project</a>),
 *       so a client could bill another project through a pool key, or get the pool key answered
 *       {@code 403 SERVICE_DISABLED} / {@code USER_PROJECT_DENIED} for a project it chose.
 *   <li>{@code Cookie}: a login cookie is a credential too (Google's 401 names "login cookie"
 *       among the credentials it accepts).
 * </ul>
 *
 * <p>Names are compared after percent-decoding (UTF-8), trimming, dropping one leading {@code $}
 * and ignoring case, so {@code %61ccess_token}, {@code ACCESS_TOKEN}, {@code $key} and
 * {@code %24key} all count. A name whose escapes do not decode is compared as written. Values are
 * never looked at.
 *
 * <p>Stateless and thread-safe.
 */
public final class ClientCredentials {

  /**
   * Query parameter names (lower case, without {@code $}) never forwarded upstream.
   */
  public static final Set<String> QUERY_PARAMETERS = Set.of("key", "access_token", "oauth_token",
      "bearer_token", "passwd", "password", "quotauser", "userproject", "userip");

  /**
   * Request header names (lower case) never forwarded upstream: the client's credentials and the
   * headers that move quota or billing attribution.
   */
  public static final Set<String> HEADERS = Set.of("x-goog-api-key", "authorization",
      "proxy-authorization", "cookie", "x-goog-user-project", "x-goog-quota-user");

  private static final String[] HEADER_ARRAY = HEADERS.toArray(new String[0]);

  private ClientCredentials() {
  }

  /**
   * Whether a raw query part ({@code name=value}, or a bare {@code name}) names a parameter of
   * {@link #QUERY_PARAMETERS}, in any spelling.
   */
  public static boolean isCredentialParameter(String rawPart) {
    int eq = rawPart.indexOf('=');
    String name = decode(eq < 0 ? rawPart : rawPart.substring(0, eq)).trim();
    if (name.startsWith("$")) name = name.substring(1).trim();
    return QUERY_PARAMETERS.contains(name.toLowerCase(Locale.ROOT));
  }

  /** Whether a header name is one of {@link #HEADERS}, in any case. Allocates nothing. */
  public static boolean isCredentialHeader(CharSequence name) {
    if (name == null) return false;
    for (String h : HEADER_ARRAY) {
      if (h.length() == name.length() && equalsIgnoreAsciiCase(h, name)) return true;
    }
    return false;
  }

  private static boolean equalsIgnoreAsciiCase(String lower, CharSequence name) {
    for (int i = 0; i < lower.length(); i++) {
      char c = name.charAt(i);
      if (c >= 'A' && c <= 'Z') c = (char) (c + ('a' - 'A'));
      if (c != lower.charAt(i)) return false;
    }
    return true;
  }

  /**
   * The raw query without any part {@link #isCredentialParameter} names, the other parts kept
   * byte for byte and in order; {@code null} when nothing is left. Returns {@code rawQuery} itself
   * when it has no such part.
   */
  public static String stripQuery(String rawQuery) {
    if (rawQuery == null || rawQuery.isEmpty()) return null;
    StringBuilder sb = null;
    int start = 0;
    int n = rawQuery.length();
    while (start <= n) {
      int amp = rawQuery.indexOf('&', start);
      int end = amp < 0 ? n : amp;
      String part = rawQuery.substring(start, end);
      boolean drop = part.isEmpty() || isCredentialParameter(part);
      if (drop && sb == null) {
        sb = new StringBuilder(n).append(rawQuery, 0, start);
        if (sb.length() > 0 && sb.charAt(sb.length() - 1) == '&') sb.setLength(sb.length() - 1);
      } else if (!drop && sb != null) {
        if (sb.length() > 0) sb.append('&');
        sb.append(part);
      }
      if (amp < 0) break;
      start = amp + 1;
    }
    if (sb == null) return rawQuery;
    return sb.length() == 0 ? null : sb.toString();
  }

  /**
   * Percent-decodes a query name as UTF-8, {@code +} as a space; the text as written when an
   * escape is malformed.
   */
  static String decode(String raw) {
    if (raw.indexOf('%') < 0 && raw.indexOf('+') < 0) return raw;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(raw.length());
    for (int i = 0; i < raw.length(); i++) {
      char c = raw.charAt(i);
      if (c == '%') {
        if (i + 2 >= raw.length()) return raw;
        int hi = Character.digit(raw.charAt(i + 1), 16);
        int lo = Character.digit(raw.charAt(i + 2), 16);
        if (hi < 0 || lo < 0) return raw;
        bytes.write((hi << 4) | lo);
        i += 2;
      } else if (c == '+') {
        bytes.write(' ');
      } else {
        byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        bytes.write(b, 0, b.length);
      }
    }
    return bytes.toString(StandardCharsets.UTF_8);
  }
}
