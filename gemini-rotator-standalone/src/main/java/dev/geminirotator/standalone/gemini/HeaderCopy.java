package dev.geminirotator.standalone.gemini;

import dev.geminirotator.core.internal.exchange.ClientCredentials;
import dev.geminirotator.core.internal.exchange.SecretScrubber;
import dev.geminirotator.standalone.http.HeaderNames;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.Map;
import java.util.Set;

/**
 * Which headers cross the proxy, in each direction: client→proxy headers forwarded upstream (no
 * hop-by-hop header, none the proxy sets, no client credential), upstream→proxy headers copied to
 * the client (no hop-by-hop header, no cookie of the pool key's session, every pool key scrubbed
 * out of every value). Stateless and thread-safe.
 */
final class HeaderCopy {

  private HeaderCopy() {
  }

  /** Hop-by-hop headers (RFC 9110 7.6.1), dropped in both directions. */
  private static final String[] HOP_BY_HOP = {"connection", "keep-alive", "proxy-authenticate",
      "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade"};

  /**
   * Request headers the proxy never forwards: hop-by-hop ones, ones it sets itself, the ones that
   * describe the client's hop to this proxy ({@code X-Forwarded-*}, {@code Forwarded}), and every
   * header core's {@link ClientCredentials#isCredentialHeader} refuses: the client's credentials
   * and quota attribution ({@code Authorization}, {@code x-goog-api-key}, {@code Cookie},
   * {@code X-Goog-User-Project}, {@code X-Goog-IAM-*}, ...), the method overrides, and every
   * {@code x-goog-*} header but the few a Gemini client needs (an allowlist inside Google's own
   * namespace, a denylist outside it: {@link ClientCredentials#GOOGLE_HEADERS_FORWARDED} says
   * why). The interceptor strips by the same rule.
   */
  static final HeaderNames.NameSet NOT_FORWARDED = new HeaderNames.NameSet(
      ClientCredentials::isCredentialHeader, HOP_BY_HOP,
      "host", "content-length", "accept-encoding", "expect",
      "x-forwarded-for", "x-forwarded-host", "x-forwarded-proto", "x-forwarded-port", "forwarded",
      "x-real-ip", "x-http2-stream-id", "x-http2-scheme",
      "x-http2-path", "x-http2-stream-promise-id", "x-http2-stream-dependency-id",
      "x-http2-stream-weight");

  /**
   * Response headers not passed on: hop-by-hop ones, the ones the proxy sets itself, and the
   * upstream's cookies (they belong to the pool key's session, not to any one client).
   */
  static final HeaderNames.NameSet NOT_RETURNED =
      new HeaderNames.NameSet(HOP_BY_HOP, "date", "x-request-id", "set-cookie", "set-cookie2");

  /** Upstream→proxy headers that hold a resumable-upload URL, rewritten to point at the proxy. */
  static final AsciiString[] UPLOAD_URL_HEADERS = {HeaderNames.X_GOOG_UPLOAD_URL,
      HeaderNames.X_GOOG_UPLOAD_CONTROL_URL};

  static Set<String> connectionTokens(HttpHeaders fields) {
    if (!fields.contains(HttpHeaderNames.CONNECTION)) return Set.of(); // no list to allocate
    java.util.List<String> values = fields.getAll(HttpHeaderNames.CONNECTION);
    if (values.size() == 1 && (values.get(0).equalsIgnoreCase("keep-alive")
        || values.get(0).equalsIgnoreCase("close"))) {
      return Set.of(); // the usual values name no other header
    }
    java.util.TreeSet<String> out = new java.util.TreeSet<>(String.CASE_INSENSITIVE_ORDER);
    for (String value : values) {
      for (String t : value.split(",")) out.add(t.trim());
    }
    return out;
  }

  /** Copies upstream→proxy headers to proxy→client, minus hop-by-hop and proxy-owned ones. */
  static void copyResponseHeaders(HttpHeaders from, HttpHeaders to) {
    copyHeaders(from, to, NOT_RETURNED, null);
  }

  /**
   * Copies upstream→proxy headers to proxy→client, minus hop-by-hop and proxy-owned ones, with
   * every secret {@code scrubber} knows (every pool key, see {@link
   * SecretScrubber#forAttempt}) taken out of every value (any header name; plain or
   * percent-encoded), the same way as from bodies.
   */
  static void copyResponseHeaders(HttpHeaders from, HttpHeaders to, SecretScrubber scrubber) {
    copyHeaders(from, to, NOT_RETURNED, scrubber);
  }

  /**
   * Copies every header of {@code from} to {@code to} except those named in {@code dropped} or in
   * {@code from}'s {@code Connection} header, and with every secret of {@code scrubber} (when not
   * null) replaced in every value. As CharSequences: names and values go on as decoded, and only a
   * value that may hold a secret is turned into a String to be scrubbed.
   */
  private static void copyHeaders(HttpHeaders from, HttpHeaders to,
      HeaderNames.NameSet dropped, SecretScrubber scrubber) {
    Set<String> connectionTokens = connectionTokens(from);
    int shortest = scrubber == null ? Integer.MAX_VALUE : scrubber.shortestSecretChars();
    for (java.util.Iterator<Map.Entry<CharSequence, CharSequence>> it =
        from.iteratorCharSequence(); it.hasNext(); ) {
      Map.Entry<CharSequence, CharSequence> f = it.next();
      CharSequence name = f.getKey();
      if (dropped.contains(name)
          || !connectionTokens.isEmpty() && connectionTokens.contains(name.toString())) {
        continue;
      }
      CharSequence value = f.getValue();
      // Only a value at least as long as the shortest secret can hold one: most are shorter.
      if (value.length() >= shortest) {
        value = scrubber.scrub(value.toString());
      }
      to.add(name, value);
    }
  }

  /** Copies client→proxy headers to proxy→upstream, minus {@link #NOT_FORWARDED}. */
  static void copyRequestHeaders(HttpHeaders from, HttpHeaders to) {
    copyHeaders(from, to, NOT_FORWARDED, null);
  }
}
