package dev.geminirotator.core.internal.exchange;

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
 *       among the credentials it accepts), and {@code authuser} / {@code X-Goog-AuthUser} picks
 *       which of a cookie's signed-in accounts acts.
 *   <li>{@code X-Goog-IAM-Authorization-Token}, {@code X-Goog-IAM-Authority-Selector}: legacy
 *       IAM credentials and the principal they act for.
 *   <li>{@code X-Goog-Request-Params}: the resource a request is routed by; a REST call names its
 *       resource in the path, which the proxy has seen and routed.
 *   <li>{@code X-HTTP-Method-Override}: see {@link #HEADERS}.
 *   <li>Any other {@code x-goog-*} header: see {@link #GOOGLE_HEADERS_FORWARDED}.
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
      "bearer_token", "passwd", "password", "quotauser", "userproject", "userip", "authuser");

  /**
   * Request header names (lower case) never forwarded upstream, besides every {@code x-goog-*}
   * header outside {@link #GOOGLE_HEADERS_FORWARDED}: the client's credentials, the headers that
   * move quota or billing attribution, and the method overrides.
   * <ul>
   *   <li>{@code x-http-method-override} (Google's system parameter), and the
   *       {@code x-method-override} / {@code x-http-method} spellings other front ends honour:
   *       they change which method Google runs, and so what the pool key is used for, behind
   *       the method the proxy saw and routed.
   * </ul>
   */
  public static final Set<String> HEADERS = Set.of("x-goog-api-key", "authorization",
      "proxy-authorization", "cookie", "x-goog-user-project", "x-goog-quota-user",
      "x-goog-iam-authorization-token", "x-goog-iam-authority-selector", "x-goog-authuser",
      "x-goog-request-params", "x-http-method-override", "x-method-override", "x-http-method");

  /**
   * The only {@code x-goog-*} request headers forwarded; every other one is dropped.
   *
   * <p>Why an allowlist for this prefix and a denylist for the rest. {@code x-goog-} is the
   * namespace Google's front end reads its own controls from, and it keeps adding credential and
   * identity headers there ({@code X-Goog-IAM-Authorization-Token},
   * {@code X-Goog-IAM-Authority-Selector}, {@code X-Goog-AuthUser}, {@code X-Goog-User-Project},
   * routing in {@code X-Goog-Request-Params}, ...): a name we have not heard of in that namespace
   * is more likely a new way to move a credential or an attribution than something a Gemini call
   * needs, so it does not cross. Outside it, a full allowlist would break clients for nothing:
   * {@code Content-Type}, {@code Accept}, {@code Accept-Language}, {@code User-Agent},
   * {@code X-Server-Timeout}, trace headers and whatever an SDK adds carry no Google credential,
   * and the generic ones that do ({@code Authorization}, {@code Cookie},
   * {@code Proxy-Authorization}) and the method overrides are named in {@link #HEADERS}. What a
   * Gemini client does send in the namespace is kept: {@code X-Goog-Api-Client} (client
   * identification, Google's system parameter), {@code X-Goog-Api-Version},
   * {@code X-Goog-FieldMask} (response filtering) and the resumable-upload protocol headers
   * ({@code X-Goog-Upload-*}, matched by prefix).
   */
  public static final Set<String> GOOGLE_HEADERS_FORWARDED = Set.of("x-goog-api-client",
      "x-goog-api-version", "x-goog-fieldmask");

  /** Forwarded by prefix: the resumable-upload protocol headers. */
  public static final String GOOGLE_UPLOAD_HEADER_PREFIX = "x-goog-upload-";

  private static final String GOOGLE_PREFIX = "x-goog-";

  private static final String[] HEADER_ARRAY = HEADERS.toArray(new String[0]);
  private static final String[] GOOGLE_FORWARDED_ARRAY =
      GOOGLE_HEADERS_FORWARDED.toArray(new String[0]);

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

  /**
   * Whether a request header must not be forwarded upstream: one of {@link #HEADERS}, or an
   * {@code x-goog-*} header that is neither in {@link #GOOGLE_HEADERS_FORWARDED} nor an
   * {@code x-goog-upload-*} header; in any case. Allocates nothing.
   */
  public static boolean isCredentialHeader(CharSequence name) {
    if (name == null) return false;
    if (startsWithIgnoreAsciiCase(name, GOOGLE_PREFIX)) {
      if (startsWithIgnoreAsciiCase(name, GOOGLE_UPLOAD_HEADER_PREFIX)) return false;
      return !anyEquals(GOOGLE_FORWARDED_ARRAY, name);
    }
    return anyEquals(HEADER_ARRAY, name);
  }

  private static boolean anyEquals(String[] lowerNames, CharSequence name) {
    for (String h : lowerNames) {
      if (h.length() == name.length() && equalsIgnoreAsciiCase(h, name)) return true;
    }
    return false;
  }

  private static boolean startsWithIgnoreAsciiCase(CharSequence name, String lowerPrefix) {
    if (name.length() < lowerPrefix.length()) return false;
    for (int i = 0; i < lowerPrefix.length(); i++) {
      char c = name.charAt(i);
      if (c >= 'A' && c <= 'Z') c = (char) (c + ('a' - 'A'));
      if (c != lowerPrefix.charAt(i)) return false;
    }
    return true;
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
