package dev.geminirotator.standalone.gemini;

import dev.geminirotator.standalone.config.Settings;
import dev.geminirotator.standalone.http.Call;
import dev.geminirotator.standalone.http.ClientIdentity;
import dev.geminirotator.standalone.http.HeaderNames;
import dev.geminirotator.standalone.http.ProxyRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;

/**
 * Admission of a client→proxy request on a proxied route, before any key is involved: a query
 * with broken escapes (400), the client's access token (401, 403; or, with no tokens configured,
 * loopback clients only), the per-client rate limit (429), the request size (413) and the shared
 * body budget (503); then the body is read and the request goes on to its {@link ProxyExchange}.
 * Stateless apart from the metrics it counts refusals in; thread-safe.
 */
final class Admission {

  private final ProxyMetrics metrics;

  Admission(ProxyMetrics metrics) {
    this.metrics = metrics;
  }

  /** Authenticates, limits and reads the body, then starts the attempt loop. */
  void admit(ProxyExchange exchange, Settings s) {
    Call call = exchange.call;
    ProxyRequest request = call.request;
    String path = request.path();

    String rawQuery = request.query();
    if (rawQuery != null && !UrlHygiene.hasValidEscapes(rawQuery)) {
      metrics.rejected("bad-query");
      exchange.problem(400, "bad-query", "Bad query string",
          "the query string has a '%' that is not followed by two hex digits", -1);
      return;
    }

    // Client authentication: the access token sits where Gemini clients put their key.
    String peer = request.remoteAddress();
    String clientId;
    String presented = presentedCredential(request);
    if (s.hasTokens()) {
      if (presented == null) {
        metrics.rejected("unauthenticated");
        exchange.problem(401, "unauthenticated", "Missing access token",
            "send a proxy access token as x-goog-api-key, ?key= or Authorization: Bearer", -1);
        return;
      }
      int index = s.matchToken(presented);
      if (index < 0) {
        metrics.rejected("forbidden");
        exchange.problem(403, "forbidden", "Invalid access token",
            "the access token is not valid for this proxy", -1);
        return;
      }
      clientId = s.tokenClientId(index); // a digest: the same on every proxy, never the token
      exchange.client = clientId;
    } else {
      // Behind a trusted reverse proxy the peer is the proxy: judge the forwarded client.
      String client = s.identity.clientAddress(peer, request.header(HeaderNames.X_FORWARDED_FOR));
      exchange.client = client;
      if (!ClientIdentity.isLoopback(client)) {
        metrics.rejected("forbidden");
        exchange.problem(403, "forbidden", "Access tokens required",
            "this proxy has no access tokens configured and only accepts loopback clients", -1);
        return;
      }
      clientId = client;
    }

    long retryAfter = s.rateLimits.tryAcquire(clientId);
    if (retryAfter >= 0) {
      metrics.rejected("client-rate-limit");
      exchange.problem(429, "client-rate-limited", "Too many requests",
          "this client exceeded " + s.config.rateLimit().requestsPerMinute()
              + " requests per minute",
          retryAfter);
      return;
    }

    long max = s.config.server().maxRequestSize();
    long declared = request.contentLength();
    if (declared > max) {
      metrics.rejected("too-large");
      String detail = "the request body is " + declared + " bytes; this proxy accepts at most "
          + max;
      call.discardThen(() -> exchange.problem(413, "request-too-large",
          "Request body too large", detail, -1));
      return;
    }
    call.budgetClient(clientId); // one client holds at most its share of the body budget
    call.readBody(max, exchange::bodyRead, exchange::bodyReadFailed, () -> {
      metrics.rejected("too-large");
      exchange.problem(413, "request-too-large", "Request body too large",
          "the request body exceeds the " + max + " bytes this proxy accepts", -1);
    }, () -> {
      metrics.rejected("body-budget");
      exchange.problem(503, Problems.OVER_BUDGET_SLUG, Problems.OVER_BUDGET_TITLE,
          Problems.OVER_BUDGET_DETAIL, Problems.OVER_BUDGET_RETRY_AFTER_SECONDS);
    });
  }

  /**
   * How much of an oversized body is read and dropped before the 413 goes out. Answering while the
   * client still sends, then closing with its bytes unread, makes the kernel reset the connection,
   * and the reset can destroy the 413 before the client reads it (nginx's lingering close solves
   * the same problem). Bodies beyond this get the 413 at once and may see a reset instead.
   */
  static final long DISCARD_BEFORE_413 = Call.DISCARD_BEFORE_413;

  /** The client's credential, from x-goog-api-key, then Authorization: Bearer, then ?key=. */
  static String presentedCredential(ProxyRequest request) {
    HttpHeaders h = request.headers();
    String key = h.get(HeaderNames.X_GOOG_API_KEY);
    if (key != null && !key.isBlank()) return key.trim();
    String auth = h.get(HttpHeaderNames.AUTHORIZATION);
    if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      String token = auth.substring(7).trim();
      if (!token.isEmpty()) return token;
    }
    String query = request.query();
    if (query != null) {
      for (String part : query.split("&")) {
        if (part.startsWith("key=")) {
          String v;
          try {
            v = URLDecoder.decode(part.substring(4), StandardCharsets.UTF_8);
          } catch (IllegalArgumentException e) {
            v = part.substring(4); // malformed escapes: compare the raw text (it will not match)
          }
          if (!v.isBlank()) return v;
        }
      }
    }
    return null;
  }
}
