package dev.geminirotator.standalone.http;

import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.util.AsciiString;

/**
 * Header names, fixed values and header-map factories the request path uses, as {@link
 * AsciiString}s. Netty hashes an {@code AsciiString} name once and writes an {@code AsciiString}
 * name or value with one bulk copy; a {@code String} is hashed on every lookup and written to the
 * socket buffer a character at a time. Measured on the proxy's hot path (perf, 64 connections):
 * header encoding of {@code String}s was 3% of all CPU and name hashing 1%. The standard names
 * repeat Netty's {@code HttpHeaderNames} on purpose: those are lower case, and HTTP/1.1 responses
 * carry names as written, here in their canonical case. Constants only: thread-safe.
 */
public final class HeaderNames {

  public static final AsciiString X_GOOG_API_KEY = AsciiString.cached("x-goog-api-key");
  static final AsciiString X_REQUEST_ID = AsciiString.cached("X-Request-Id");
  public static final AsciiString X_FORWARDED_FOR = AsciiString.cached("X-Forwarded-For");
  public static final AsciiString X_FORWARDED_PROTO = AsciiString.cached("X-Forwarded-Proto");
  public static final AsciiString X_FORWARDED_HOST = AsciiString.cached("X-Forwarded-Host");
  public static final AsciiString X_GOOG_UPLOAD_URL = AsciiString.cached("X-Goog-Upload-URL");
  public static final AsciiString X_GOOG_UPLOAD_CONTROL_URL =
      AsciiString.cached("X-Goog-Upload-Control-URL");
  public static final AsciiString X_CONTENT_TYPE_OPTIONS =
      AsciiString.cached("X-Content-Type-Options");
  public static final AsciiString X_FRAME_OPTIONS = AsciiString.cached("X-Frame-Options");
  public static final AsciiString REFERRER_POLICY = AsciiString.cached("Referrer-Policy");
  public static final AsciiString CONTENT_LENGTH = AsciiString.cached("Content-Length");
  static final AsciiString CONTENT_TYPE = AsciiString.cached("Content-Type");
  static final AsciiString TRANSFER_ENCODING = AsciiString.cached("Transfer-Encoding");
  static final AsciiString CONNECTION = AsciiString.cached("Connection");
  static final AsciiString DATE = AsciiString.cached("Date");
  public static final AsciiString HOST = AsciiString.cached("Host");
  public static final AsciiString AUTHORIZATION = AsciiString.cached("Authorization");

  public static final AsciiString NOSNIFF = AsciiString.cached("nosniff");
  public static final AsciiString DENY = AsciiString.cached("DENY");
  public static final AsciiString NO_REFERRER = AsciiString.cached("no-referrer");

  /**
   * Trailers of a message the proxy builds itself, which never has any: no map at all. Netty makes
   * a 16-slot map for every last piece of content otherwise (a quarter of the proxy's allocation
   * per request, measured with JFR).
   */
  public static final HttpHeadersFactory NO_TRAILERS = new HttpHeadersFactory() {
    @Override
    public HttpHeaders newHeaders() {
      return EmptyHttpHeaders.INSTANCE;
    }

    @Override
    public HttpHeaders newEmptyHeaders() {
      return EmptyHttpHeaders.INSTANCE;
    }
  };

  /**
   * Trailers of a decoded message, which the proxy never passes on (a request goes upstream whole
   * with none; a response's are dropped): one shared map that keeps nothing. Netty would otherwise
   * make a map for the last piece of every message with a Content-Length, two per request.
   */
  public static final HttpHeadersFactory DISCARDED_TRAILERS = new HttpHeadersFactory() {
    private final HttpHeaders discarding = new Discarding();

    @Override
    public HttpHeaders newHeaders() {
      return discarding;
    }

    @Override
    public HttpHeaders newEmptyHeaders() {
      return discarding;
    }
  };

  /** Always empty; what the decoder adds to it (trailer fields) is dropped, not refused. */
  private static final class Discarding extends EmptyHttpHeaders {
    @Override
    public HttpHeaders add(String name, Object value) {
      return this;
    }

    @Override
    public HttpHeaders add(CharSequence name, Object value) {
      return this;
    }
  }

  private HeaderNames() {
  }

  /**
   * Text known to be ASCII (a pool key, a number) as an {@link AsciiString}: one array copy here
   * (an intrinsic, unlike {@code AsciiString.of}'s loop over characters), one bulk copy into the
   * socket buffer.
   */
  public static AsciiString ascii(String text) {
    return new AsciiString(text.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1), false);
  }

  /** A whole number as header text, e.g. a {@code Content-Length}. */
  public static AsciiString decimal(long n) {
    return ascii(Long.toString(n));
  }

  /**
   * A fixed set of header names matched in any case, plus, optionally, a rule for the names a set
   * cannot list (a prefix). Backed by Netty's own header map, which hashes names
   * case-insensitively: a lookup neither lower-cases nor allocates. Immutable once built, so
   * thread-safe.
   */
  public static final class NameSet {
    private static final java.util.function.Predicate<CharSequence> NONE = name -> false;

    private final HttpHeaders names =
        DefaultHttpHeadersFactory.headersFactory().withValidation(false).newHeaders();
    private final java.util.function.Predicate<CharSequence> also;

    public NameSet(String[] shared, String... names) {
      this(NONE, shared, names);
    }

    /** The names given, and every name {@code also} accepts (it must not allocate). */
    public NameSet(java.util.function.Predicate<CharSequence> also, String[] shared,
        String... names) {
      this.also = also;
      for (String name : shared) this.names.add(AsciiString.cached(name), "");
      for (String name : names) this.names.add(AsciiString.cached(name), "");
    }

    public boolean contains(CharSequence name) {
      return names.contains(name) || also.test(name);
    }
  }
}
