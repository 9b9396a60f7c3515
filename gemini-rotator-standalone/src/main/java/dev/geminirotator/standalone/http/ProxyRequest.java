package dev.geminirotator.standalone.http;

import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.util.AsciiString;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/**
 * One client→proxy request: its head as received, its raw path and query, the client's address,
 * its request id, and (once read) its body. Touched by the connection's event loop only, except
 * for the immutable head fields.
 */
public final class ProxyRequest {

  private final HttpRequest head;
  private final String path;
  private final String query;
  private final String remoteAddress;
  private final String localAddress;
  private final int localPort;
  private final boolean secure;
  private AsciiString requestId;
  private byte[] body = new byte[0];

  ProxyRequest(HttpRequest head, String path, String query, Peer peer, boolean secure) {
    this.head = head;
    this.path = path;
    this.query = query;
    this.remoteAddress = peer.remote;
    this.localAddress = peer.local;
    this.localPort = peer.localPort;
    this.secure = secure;
  }

  /** A connection's two ends as text, worked out once per connection. */
  static final class Peer {
    final String remote;
    final String local;
    public final int localPort;

    Peer(SocketAddress remote, SocketAddress local) {
      this.remote = remote instanceof InetSocketAddress a && a.getAddress() != null
          ? a.getAddress().getHostAddress() : "";
      if (local instanceof InetSocketAddress a && a.getAddress() != null) {
        this.local = a.getAddress().getHostAddress();
        this.localPort = a.getPort();
      } else {
        this.local = "127.0.0.1";
        this.localPort = -1;
      }
    }
  }

  /**
   * Whether a request target is all visible ASCII, as RFC 3986 requires: anything else (raw UTF-8,
   * control characters) must arrive percent-encoded.
   */
  static boolean isPrintableAscii(String uri) {
    for (int i = 0; i < uri.length(); i++) {
      char c = uri.charAt(i);
      if (c <= 0x20 || c >= 0x7f) return false;
    }
    return !uri.isEmpty();
  }

  /**
   * The raw path and query of a request target: origin form ({@code /path?query}) or absolute
   * form ({@code http://host/path?query}); {@code null} for anything else ({@code *}, an
   * authority, garbage). A fragment is dropped.
   */
  static String[] splitTarget(String uri) {
    String target = uri;
    int hash = target.indexOf('#');
    if (hash >= 0) target = target.substring(0, hash);
    if (!target.startsWith("/")) {
      int scheme = target.indexOf("://");
      if (scheme <= 0) return null;
      String s = target.substring(0, scheme);
      if (!s.equalsIgnoreCase("http") && !s.equalsIgnoreCase("https")) return null;
      int slash = target.indexOf('/', scheme + 3);
      int q = target.indexOf('?', scheme + 3);
      if (slash < 0 || (q >= 0 && q < slash)) {
        target = "/" + (q >= 0 ? target.substring(q) : "");
      } else {
        target = target.substring(slash);
      }
    }
    int q = target.indexOf('?');
    return q < 0 ? new String[] {target, null}
        : new String[] {target.substring(0, q), target.substring(q + 1)};
  }

  public HttpRequest head() {
    return head;
  }

  public String method() {
    return head.method().name();
  }

  /** The raw (undecoded) path. */
  public String path() {
    return path;
  }

  /** The raw query, or {@code null}. */
  public String query() {
    return query;
  }

  public HttpHeaders headers() {
    return head.headers();
  }

  public String header(CharSequence name) {
    return head.headers().get(name);
  }

  /** The declared body length, or -1. */
  public long contentLength() {
    return HttpUtil.getContentLength(head, -1L);
  }

  /** The peer's IP address, as text. */
  public String remoteAddress() {
    return remoteAddress;
  }

  public String localAddress() {
    return localAddress;
  }

  public int localPort() {
    return localPort;
  }

  public boolean secure() {
    return secure;
  }

  public String requestId() {
    return requestId == null ? null : requestId.toString(); // AsciiString keeps the String
  }

  /** The request id as assigned, without making a {@code String} of it. */
  public AsciiString requestIdText() {
    return requestId;
  }

  public void requestId(AsciiString id) {
    this.requestId = id;
  }

  public byte[] body() {
    return body;
  }

  public void body(byte[] body) {
    this.body = body;
  }
}
