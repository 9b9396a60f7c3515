package dev.geminirotator.standalone.gemini;

import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequests;
import io.netty.util.concurrent.FastThreadLocal;

/**
 * Core's parse of the request heads an event loop saw last, with what the proxy derives from it
 * (the route label and the upstream request target). Clients call the same few models over and
 * over, so the same method, path and query come again and again; their parse is immutable, so it
 * is looked up instead of made again (segment strings, the model's canonical name, the target's
 * escaping). Direct-mapped on the path's hash: one lookup, a bounded number of entries however
 * many paths clients invent (a new head replaces the one in its slot), and only heads of at most
 * {@value #MAX_LENGTH} characters of path and of query are kept. A query that carries a client
 * credential ({@code key=}, {@code access_token=}, ...) or an upload session's {@code upload_id}
 * (which lets whoever holds it write to the upload) is never kept: no client secret outlives its
 * request here. One table per thread (the event loops are Netty's {@link
 * io.netty.util.concurrent.FastThreadLocalThread}s), so no lock: thread-safe.
 */
final class HeadCache {

  /** Entries per thread (a power of two). */
  static final int SLOTS = 128;
  /** The longest path, and the longest query, whose parse is kept. */
  static final int MAX_LENGTH = 512;

  private static final FastThreadLocal<Head[]> TABLE = new FastThreadLocal<>() {
    @Override
    protected Head[] initialValue() {
      return new Head[SLOTS];
    }
  };

  private HeadCache() {
  }

  /**
   * One request head as core parses it (without its body), its metrics route label and its
   * upstream target (the path and the query without client credentials, illegal characters
   * percent-encoded; without the upstream base path). Immutable.
   */
  record Head(String method, String path, String query, GeminiRequest request, String route,
      String target) {
  }

  /** The head of a request with this method, raw path and raw query ({@code null} for none). */
  static Head of(String method, String path, String query) {
    if (path.length() > MAX_LENGTH || query != null
        && (query.length() > MAX_LENGTH || UrlHygiene.forwardedQuery(query) != query
        || query.contains("upload_id"))) {
      return parse(method, path, query); // too long to keep, or holds a credential or capability
    }
    int hash = path.hashCode() * 31 + (query == null ? 0 : query.hashCode());
    int slot = (hash ^ (hash >>> 16)) & (SLOTS - 1);
    Head[] table = TABLE.get();
    Head head = table[slot];
    if (head != null && head.path.equals(path) && head.method.equals(method)
        && (query == null ? head.query == null : query.equals(head.query))) {
      return head;
    }
    head = parse(method, path, query);
    table[slot] = head;
    return head;
  }

  private static Head parse(String method, String path, String query) {
    GeminiRequest request = GeminiRequests.parse(method, path, query, null);
    String forwarded = UrlHygiene.forwardedQuery(query);
    // Characters a strict parser would refuse (| { } ^ ...) go percent-encoded, which means the
    // same to the upstream.
    String target = UrlHygiene.encodeIllegal(path)
        + (forwarded == null ? "" : "?" + UrlHygiene.encodeIllegal(forwarded));
    return new Head(method, path, query, request, GeminiProxy.routeOf(request, path), target);
  }
}
