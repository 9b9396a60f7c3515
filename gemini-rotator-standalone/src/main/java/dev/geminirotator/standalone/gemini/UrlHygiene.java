package dev.geminirotator.standalone.gemini;

import dev.geminirotator.core.internal.exchange.ClientCredentials;
import dev.geminirotator.standalone.http.ClientIdentity;
import dev.geminirotator.standalone.http.HeaderNames;
import dev.geminirotator.standalone.http.ProxyRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.nio.charset.StandardCharsets;

/**
 * URL hygiene of the proxy: which raw paths and queries it forwards (canonical, valid escapes,
 * valid UTF-8), how it spells them upstream (illegal characters percent-encoded, the client's
 * credential parameters stripped), and how an upstream URL meant for the client (a resumable
 * upload's) is pointed back at this proxy without any key. Transport hygiene only: what a request
 * means to Gemini is core's. Stateless and thread-safe.
 */
final class UrlHygiene {

  private UrlHygiene() {
  }

  /**
   * Whether a raw path is in canonical form: no empty, {@code .} or {@code ..} segments, no
   * {@code ;} parameters and no encoded dot, slash or backslash. Gemini's paths never have them,
   * and forwarding them would let a client steer a pool key to other upstream paths.
   */
  static boolean isCanonical(String rawPath) {
    if (rawPath.isEmpty() || rawPath.charAt(0) != '/' || rawPath.contains("//")
        || rawPath.indexOf(';') >= 0 || rawPath.indexOf('\\') >= 0) {
      return false;
    }
    int n = rawPath.length();
    for (int i = rawPath.indexOf('%'); i >= 0; i = rawPath.indexOf('%', i + 1)) {
      if (i + 2 >= n) continue;
      char hi = rawPath.charAt(i + 1);
      char lo = Character.toLowerCase(rawPath.charAt(i + 2));
      if ((hi == '2' && (lo == 'e' || lo == 'f')) || (hi == '5' && lo == 'c')) return false;
    }
    // No "." or ".." segment: a dot run of length 1 or 2 between slashes (or at the end).
    for (int start = 1; start <= n; ) {
      int end = rawPath.indexOf('/', start);
      if (end < 0) end = n;
      int len = end - start;
      if ((len == 1 || len == 2) && rawPath.charAt(start) == '.'
          && rawPath.charAt(end - 1) == '.') {
        return false;
      }
      start = end + 1;
    }
    return true;
  }

  /**
   * Whether a raw path's escapes are well formed and decode to valid UTF-8 (as the upstream will
   * decode them); a path that does not is refused rather than forwarded.
   */
  static boolean isUtf8Path(String rawPath) {
    if (rawPath.indexOf('%') < 0) return true;
    if (!hasValidEscapes(rawPath)) return false;
    java.io.ByteArrayOutputStream bytes = new java.io.ByteArrayOutputStream(rawPath.length());
    for (int i = 0; i < rawPath.length(); i++) {
      char c = rawPath.charAt(i);
      if (c == '%') {
        bytes.write(Integer.parseInt(rawPath, i + 1, i + 3, 16));
        i += 2;
      } else {
        byte[] b = String.valueOf(c).getBytes(StandardCharsets.UTF_8);
        bytes.write(b, 0, b.length);
      }
    }
    try {
      StandardCharsets.UTF_8.newDecoder()
          .onMalformedInput(java.nio.charset.CodingErrorAction.REPORT)
          .onUnmappableCharacter(java.nio.charset.CodingErrorAction.REPORT)
          .decode(java.nio.ByteBuffer.wrap(bytes.toByteArray()));
      return true;
    } catch (java.nio.charset.CharacterCodingException e) {
      return false;
    }
  }

  /** Percent-encodes every character that may not appear raw in a URI path or query. */
  static String encodeIllegal(String text) {
    StringBuilder sb = null;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean legal = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
          || "-._~!$&'()*+,;=:@/?%".indexOf(c) >= 0;
      if (legal) {
        if (sb != null) sb.append(c);
        continue;
      }
      if (sb == null) sb = new StringBuilder(text.length() + 16).append(text, 0, i);
      int end = Character.isHighSurrogate(c) && i + 1 < text.length() ? i + 2 : i + 1;
      for (byte b : text.substring(i, end).getBytes(java.nio.charset.StandardCharsets.UTF_8)) {
        sb.append('%').append(Character.toUpperCase(Character.forDigit((b >> 4) & 0xF, 16)))
            .append(Character.toUpperCase(Character.forDigit(b & 0xF, 16)));
      }
      i = end - 1;
    }
    return sb == null ? text : sb.toString();
  }

  /** A query parameter's raw value, or {@code null}. */
  static String queryParam(String query, String name) {
    if (query == null) return null;
    for (String part : query.split("&")) {
      if (part.startsWith(name + "=")) return part.substring(name.length() + 1);
    }
    return null;
  }

  /**
   * The scheme and authority the client used to reach this proxy; behind a trusted proxy, from
   * its {@code X-Forwarded-Proto} and {@code X-Forwarded-Host}.
   */
  static String clientBase(ProxyRequest request, ClientIdentity identity) {
    HttpHeaders h = request.headers();
    String fwdProto = h.get(HeaderNames.X_FORWARDED_PROTO);
    String fwdHost = h.get(HeaderNames.X_FORWARDED_HOST);
    if (fwdHost != null && identity.isTrustedProxy(request.remoteAddress())) {
      String proto = "https".equalsIgnoreCase(fwdProto) ? "https" : "http";
      String host = fwdHost.split(",")[0].trim();
      if (host.matches("[A-Za-z0-9.\\-\\[\\]:]{1,255}")) return proto + "://" + host;
    }
    String scheme = request.secure() ? "https" : "http";
    String host = hostOf(h.get(HttpHeaderNames.HOST));
    int port = request.localPort();
    if (host == null) {
      host = request.localAddress();
    } else {
      int colon = host.lastIndexOf(':');
      if (colon > 0 && host.indexOf(']') < colon) {
        try {
          port = Integer.parseInt(host.substring(colon + 1));
        } catch (NumberFormatException e) {
          port = -1;
        }
        host = host.substring(0, colon);
      } else {
        port = request.secure() ? 443 : 80;
      }
    }
    if (host.contains(":") && !host.startsWith("[")) host = "[" + host + "]";
    boolean defaultPort = (scheme.equals("http") && port == 80)
        || (scheme.equals("https") && port == 443);
    return scheme + "://" + host + (defaultPort || port <= 0 ? "" : ":" + port);
  }

  /** A Host header's value if it is a plausible host[:port], else {@code null}. */
  static String hostOf(String hostHeader) {
    if (hostHeader == null) return null;
    String h = hostHeader.trim();
    return h.matches("[A-Za-z0-9.\\-\\[\\]:]{1,255}") ? h : null;
  }

  /**
   * The query as forwarded: without any credential or attribution parameter core names in
   * {@link ClientCredentials#QUERY_PARAMETERS} ({@code key}, {@code access_token},
   * {@code oauth_token}, {@code quotaUser}, {@code userProject}, ...), however the name is spelled
   * ({@code KEY}, {@code %6Bey}, {@code $key}, {@code %24key}): the upstream decodes names the
   * same way, and a client's credential must never reach it next to a pool key. {@code null} when
   * nothing is left.
   */
  static String forwardedQuery(String query) {
    return ClientCredentials.stripQuery(query);
  }

  /**
   * Whether every {@code %} in a raw query starts a two-hex-digit escape. The server passes
   * the query on undecoded; the upstream request cannot be built from a broken escape.
   */
  static boolean hasValidEscapes(String raw) {
    for (int i = raw.indexOf('%'); i >= 0; i = raw.indexOf('%', i + 1)) {
      if (i + 2 >= raw.length() || Character.digit(raw.charAt(i + 1), 16) < 0
          || Character.digit(raw.charAt(i + 2), 16) < 0) {
        return false;
      }
    }
    return true;
  }

  /**
   * Points a resumable-upload URL back at this proxy ({@code clientBase}), without the key or
   * any other credential parameter it may carry; {@code null} when the URL is not an absolute
   * http(s) URL with a path, and so cannot be rewritten (it is then never passed on).
   */
  static String rewriteUploadUrl(String url, String clientBase) {
    java.net.URI u;
    try {
      u = new java.net.URI(url.trim());
    } catch (java.net.URISyntaxException e) {
      return null;
    }
    if (u.isOpaque() || u.getRawPath() == null || !u.getRawPath().startsWith("/")
        || u.getScheme() == null || !(u.getScheme().equalsIgnoreCase("http")
            || u.getScheme().equalsIgnoreCase("https"))) {
      return null;
    }
    String query = forwardedQuery(u.getRawQuery());
    return clientBase + u.getRawPath() + (query == null ? "" : "?" + query);
  }
}
