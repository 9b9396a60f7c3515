package dev.geminirotator.standalone;

import dev.geminirotator.standalone.config.Settings;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.standalone.http.Call;
import dev.geminirotator.standalone.http.ClientIdentity;
import dev.geminirotator.standalone.http.ContentDecoder;
import dev.geminirotator.standalone.http.HeaderNames;
import dev.geminirotator.standalone.http.ProxyRequest;
import dev.geminirotator.standalone.http.ProxyResponse;
import dev.geminirotator.standalone.http.Upstream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import dev.geminirotator.core.attempt.Attempts;
import dev.geminirotator.core.attempt.RetryAdvice;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.exchange.ClientCredentials;
import dev.geminirotator.core.exchange.GeminiRequest;
import dev.geminirotator.core.exchange.GeminiRequests;
import dev.geminirotator.core.exchange.SecretScrubber;
import io.netty.util.AsciiString;
import java.io.ByteArrayOutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.Locale;
import java.util.Set;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards Gemini REST calls ({@code /v1beta/**}, {@code /v1/**}, {@code /upload/**},
 * {@code /v1beta/openai/**}) to the upstream with a pool key, running core's attempt loop
 * asynchronously on the client connection's event loop: acquire a key, ask the circuit guard, send, classify the
 * status and at most {@link GeminiClassifier#MAX_PEEK_BYTES} of an error body, then return the
 * response or retry on another key. Directions are named client→proxy, proxy→upstream,
 * upstream→proxy, proxy→client.
 *
 * <p>Request bodies are buffered (so a retry can replay them), within the {@link BodyBudget};
 * response bodies are streamed chunk by chunk with back-pressure, never buffered, so server-sent
 * events reach the client as they arrive.
 * Thread-safe: one instance serves every request; per-request state lives in {@link Exchange}.
 */
final class GeminiProxy {

  private static final Logger log = LoggerFactory.getLogger(GeminiProxy.class);

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
  private static final HeaderNames.NameSet NOT_FORWARDED = new HeaderNames.NameSet(
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
  private static final HeaderNames.NameSet NOT_RETURNED =
      new HeaderNames.NameSet(HOP_BY_HOP, "date", "x-request-id", "set-cookie", "set-cookie2");

  /** Upstream→proxy headers that hold a resumable-upload URL, rewritten to point at the proxy. */
  private static final AsciiString[] UPLOAD_URL_HEADERS = {HeaderNames.X_GOOG_UPLOAD_URL,
      HeaderNames.X_GOOG_UPLOAD_CONTROL_URL};

  private static final io.netty.handler.codec.http.HttpHeadersFactory UNVALIDATED =
      io.netty.handler.codec.http.DefaultHttpHeadersFactory.headersFactory().withValidation(false);


  private final Upstream upstream;
  private final KeyRotator rotator;
  private final CircuitGuard guard;
  private final GeminiClassifier classifier;
  private final ProxyMetrics metrics;
  private final Executor blocking;
  private final Supplier<Settings> settings;
  private final Clock clock;
  private final FilePins pins;
  /**
   * The upstream base URL's path, prefixed to every forwarded path ({@code ""} for the usual
   * {@code https://generativelanguage.googleapis.com}). Fixed at start: a reload that changes it
   * is logged and needs a restart.
   */
  private final String upstreamPathPrefix;

  GeminiProxy(Upstream upstream, KeyRotator rotator, CircuitGuard guard,
      GeminiClassifier classifier, ProxyMetrics metrics, Executor blocking,
      Supplier<Settings> settings, Clock clock, FilePins pins, String upstreamPathPrefix) {
    this.pins = pins;
    this.upstreamPathPrefix = upstreamPathPrefix;
    this.upstream = upstream;
    this.rotator = rotator;
    this.guard = guard;
    this.classifier = classifier;
    this.metrics = metrics;
    this.blocking = blocking;
    this.settings = settings;
    this.clock = clock;
  }

  /** The operator log of the proxy's refusals, shared with the proxy's own routes. */
  RefusalLog refusals() {
    return metrics.refusals;
  }

  /** Methods the Gemini REST surface uses; anything else is answered 405 without going upstream. */
  static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE");

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

  /** Whether a path is one the proxy forwards. */
  static boolean isProxied(String path) {
    return path.startsWith("/v1beta/") || path.startsWith("/v1/") || path.startsWith("/upload/");
  }

  /** A low-cardinality route label for metrics, from the parsed route (no body needed). */
  static String routeOf(String method, String path, String query) {
    return routeOf(GeminiRequests.parse(method, path, query, null), path);
  }

  /**
   * A low-cardinality route label for metrics: the kind of route core's {@link GeminiRequests}
   * read, and for resource routes the collection the path names.
   */
  static String routeOf(GeminiRequest request, String path) {
    switch (request.route()) {
      case OPENAI:
        return "openai";
      case UPLOAD_START:
      case UPLOAD_CONTINUE:
        return "upload";
      case MODEL_CALL: {
        String action = request.action();
        if (action == null) return "models";
        switch (action) {
          case "streamGenerateContent":
            return "stream";
          case "generateContent":
            return "generate";
          case "countTokens":
            return "count-tokens";
          case "embedContent":
          case "batchEmbedContents":
            return "embed";
          default:
            return "models";
        }
      }
      case MODELS:
        return "models";
      case RESOURCE:
        if (path.contains("/files")) return "files";
        if (path.contains("/cachedContents")) return "cached-contents";
        return "other";
      default:
        return "other";
    }
  }

  /**
   * Handles one client→proxy request on a proxied route. The caller has assigned a request id;
   * this method authenticates, limits, reads the body and starts the attempt loop. Runs on the
   * client connection's event loop, as does everything of this request after it.
   */
  void handle(Call call) {
    ProxyRequest request = call.request;
    Settings s = settings.get();
    String route = routeOf(request.method(), request.path(), request.query());
    long start = System.nanoTime();
    metrics.requestStarted();
    Exchange exchange = new Exchange(s, call, route, start);
    try {
      admit(exchange, s);
    } catch (RuntimeException e) {
      exchange.unexpected(e);
    }
  }

  /** Authenticates, limits and reads the body, then starts the attempt loop. */
  private void admit(Exchange exchange, Settings s) {
    Call call = exchange.call;
    ProxyRequest request = call.request;
    String path = request.path();

    String rawQuery = request.query();
    if (rawQuery != null && !hasValidEscapes(rawQuery)) {
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
          "this client exceeded " + s.config.requestsPerMinute() + " requests per minute",
          retryAfter);
      return;
    }

    long max = s.config.maxRequestSize();
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
      exchange.problem(503, Routes.OVER_BUDGET_SLUG, Routes.OVER_BUDGET_TITLE,
          Routes.OVER_BUDGET_DETAIL, Routes.OVER_BUDGET_RETRY_AFTER_SECONDS);
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

  /** A response kept after a failed attempt, returned when no further attempt can be made. */
  private record Kept(int status, HttpHeaders headers, byte[] body, boolean complete, ApiKey key) {
  }

  /**
   * One client request through all its attempts. Each attempt has its own
   * {@link UpstreamListener}; only the current attempt may touch the proxy→client response.
   * Confined to the client connection's event loop (upstream connections and retry timers run on
   * the same loop).
   */
  private final class Exchange {
    final Settings s;
    final Call call;
    final ProxyRequest clientToProxyRequest;
    final ProxyResponse proxyToClientResponse;
    final EventLoop loop;
    final String route;
    final long start;
    final AsciiString requestId;
    boolean finished;
    byte[] body;
    String model;
    boolean openAi;
    /** The upstream request target, the same for every attempt. */
    String upstreamUri;
    RequestContext context;
    int attempt;
    Kept kept;
    int status;
    /** This request's attempts: core's budget and breaker rule; set when the request starts. */
    Attempts attempts;
    /** Why {@link #reserveNext} found no key, for the pool's answer. */
    NoKeyAvailableException noKey;
    /** The breaker's refusal when {@link #reserveNext} found it open, for the pool's answer. */
    CircuitOpenException circuitOpen;
    /** The last attempt's transport failure, answered when no further attempt can be made. */
    Outcome lastTransportFailure;
    boolean lastTimedOut;
    /** False for upload follow-ups: they must stay on the key that started the upload. */
    boolean replayable = true;
    /** A copy of a Files API success body, to learn which file names it declares. */
    ByteArrayOutputStream tap;
    /**
     * Who asked, for the operator's log: the token's client id, else the address; found only when
     * a refusal is logged, until then {@code null}.
     */
    String client;
    /** Set once the client→proxy connection failed: no further attempt, abort the current one. */
    Throwable clientGone;
    /** The attempt in flight, aborted when the client goes away. */
    Upstream.Attempt upstreamRequest;
    /**
     * Permission and a key already taken for the next attempt: taken before dropping a failed
     * response that is only partly read, which is returned whole when no next attempt is possible.
     */
    KeyLease reserved;

    Exchange(Settings s, Call call, String route, long start) {
      this.s = s;
      this.call = call;
      this.clientToProxyRequest = call.request;
      this.proxyToClientResponse = call.response;
      this.loop = call.eventLoop();
      this.route = route;
      this.start = start;
      this.requestId = call.request.requestIdText();
    }

    /**
     * The client went away (its connection closed or idled out): abort the attempt in flight, so
     * it stops holding an upstream connection and a key lease; its listener completes the lease
     * as cancelled, which does not blame the key.
     */
    void onClientFailure(Throwable failure) {
      if (clientGone != null) return;
      clientGone = failure;
      Upstream.Attempt current = upstreamRequest;
      if (current != null) {
        current.abort(clientLeft());
      } else if (!finished) {
        clientFailed(failure); // between attempts (a retry waits): nothing else will notice
      }
    }

    java.util.concurrent.CancellationException clientLeft() {
      return new java.util.concurrent.CancellationException("client disconnected");
    }

    /** If the client has gone: answer nothing more, record 499, and say so. */
    boolean abandonIfClientGone() {
      Throwable failure = clientGone;
      if (failure == null) return false;
      clientFailed(failure);
      return true;
    }

    void bodyRead(byte[] body) {
      call.onGone(this::onClientFailure);
      String path = clientToProxyRequest.path();
      GeminiRequest parsed = GeminiRequests.parse(clientToProxyRequest.method(), path,
          clientToProxyRequest.query(), body);
      openAi = parsed.route() == GeminiRequest.Route.OPENAI;
      model = parsed.model();
      if (pins.mayBlock(path, clientToProxyRequest.query(), body)) {
        // File pins may be read from a shared store: a blocking round trip, off the event loop.
        try {
          blocking.execute(() -> {
          RequestContext pinned;
          try {
            pinned = pinnedContext(path, body);
          } catch (RuntimeException e) {
            loop.execute(() -> unexpected(e));
            return;
          }
          loop.execute(() -> startSafely(body, pinned));
          });
        } catch (java.util.concurrent.RejectedExecutionException e) {
          metrics.rejected("overloaded");
          problem(503, "overloaded", "Proxy overloaded",
              "the proxy has too much work queued; try again shortly", 1);
        }
        return;
      }
      try {
        start(body, pinnedContext(path, body));
      } catch (RuntimeException e) {
        unexpected(e);
      }
    }

    private void startSafely(byte[] body, RequestContext pinned) {
      try {
        start(body, pinned);
      } catch (RuntimeException e) {
        unexpected(e);
      }
    }

    /** The context the file pins allow (a key or a project), with {@link #replayable} set. */
    private RequestContext pinnedContext(String path, byte[] body) {
      RequestContext c = RequestContext.forModel(model);
      String uploadId = queryParam(clientToProxyRequest.query(), "upload_id");
      if (path.startsWith("/upload/") && uploadId != null) {
        String keyId = pins.uploadKey(uploadId);
        if (keyId != null) {
          replayable = false;
          return FilePins.restrict(c, rotator, k -> k.id().equals(keyId));
        }
        return c;
      }
      String project = pins.projectFor(path, body);
      if (project != null) {
        return FilePins.restrict(c, rotator, k -> FilePins.projectOf(k).equals(project));
      }
      return c;
    }

    void start(byte[] body, RequestContext pinned) {
      this.body = body;
      this.context = pinned;
      String path = clientToProxyRequest.path();
      String query = forwardedQuery(clientToProxyRequest.query());
      // Forward characters a strict parser would refuse (| { } ^ ...) percent-encoded, which
      // means the same to the upstream. The same for every attempt.
      this.upstreamUri = upstreamPathPrefix + encodeIllegal(path)
          + (query == null ? "" : "?" + encodeIllegal(query));
      this.attempts = s.attempts.newAttempts(guard, guardModel(), replayable);
      nextAttempt();
    }

    String guardModel() {
      return context.model();
    }

    /**
     * Takes the guard's permission and a key for the attempt after the current one, whose failed
     * response is only partly read; {@code null} when no further attempt is possible now (the
     * caller then returns that response whole). Same order and bookkeeping as {@link
     * #nextAttempt()}.
     */
    KeyLease reserveNext(KeyLease current) {
      try {
        attempts.acquirePermission();
      } catch (CircuitOpenException e) {
        circuitOpen = e;
        return null;
      }
      try {
        return rotator.acquire(context.excluding(current.key().id()));
      } catch (NoKeyAvailableException e) {
        attempts.handBack(); // the permission, unused
        noKey = e;
        return null;
      } catch (RuntimeException e) {
        attempts.handBack();
        throw e;
      }
    }

    void nextAttempt() {
      KeyLease lease = reserved;
      reserved = null;
      if (clientGone != null && lease != null) {
        lease.close();
        attempts.handBack();
      }
      if (abandonIfClientGone()) return;
      attempt++;
      if (lease == null) lease = acquireForAttempt();
      if (lease == null) return; // answered
      try {
        send(lease);
      } catch (RuntimeException e) {
        lease.close();
        attempts.handBack();
        throw e;
      }
    }

    /** The guard's permission and a key for this attempt, or {@code null} once answered. */
    private KeyLease acquireForAttempt() {
      // The guard first: a request it fails fast must not spend a key's quota permit.
      try {
        attempts.acquirePermission();
      } catch (CircuitOpenException e) {
        settle(); // before the pool's advice is read: it sees the breaker this request leaves
        if (kept != null && !attempts.answerFromPool()) {
          sendKept(poolAdvice());
        } else if (lastTransportFailure != null) {
          transportProblem();
        } else {
          metrics.rejected("circuit-open");
          problem(503, "circuit-open", "Upstream unavailable", e.getMessage(),
              RetryAdvice.breakerOpen(e.retryAt(), clock).seconds());
        }
        return null;
      }
      try {
        return rotator.acquire(context);
      } catch (NoKeyAvailableException e) {
        attempts.handBack(); // the permission, unused
        settle(); // before the pool's advice is read: it sees the breaker this request leaves
        RetryAdvice advice = RetryAdvice.of(e, guard, clock);
        // After a key's own failure (rate-limited, rejected) the client gets the pool's answer,
        // never that key's response; after an upstream or transport error, that failure.
        if (advice.operatorNeeded()) {
          noKeyAvailable(e); // no key frees up by itself, whatever the last attempt answered
        } else if (kept != null && !attempts.answerFromPool()) {
          sendKept(advice); // an upstream failure, with the pool's Retry-After
        } else if (lastTransportFailure != null) {
          transportProblem();
        } else {
          noKeyAvailable(e);
        }
        return null;
      } catch (RuntimeException e) {
        attempts.handBack();
        throw e;
      }
    }

    /**
     * The pool's answer when no key can serve: 429 with {@code Retry-After} until a key frees up,
     * or, when none frees up by itself, the status that says an operator must act.
     */
    void noKeyAvailable(NoKeyAvailableException e) {
      settle();
      RetryAdvice advice = RetryAdvice.of(e, guard, clock);
      metrics.rejected("no-key");
      if (advice.operatorNeeded()) {
        problem(advice.noKeyStatus(), "no-key-available", "No usable key",
            e.getMessage() + " (an operator must act)", -1);
      } else {
        problem(advice.noKeyStatus(), "no-key-available", "No key available", e.getMessage(),
            advice.seconds());
      }
    }

    /**
     * The pool's answer after a key's own failure (rate-limited, rejected) whose response was only
     * partly read, when {@link #reserveNext} secured no further attempt, whatever the reason: the
     * rotator's refusal (429, or 503 when an operator must act), the breaker's 503, or, when
     * taking the next key failed, 503 with the pool's {@code Retry-After}. Never that key's
     * response.
     */
    void answerFromPool(String keyId) {
      if (noKey != null) {
        noKeyAvailable(noKey);
        return;
      }
      settle(); // before the pool's advice is read: it sees the breaker this request leaves
      if (circuitOpen != null) {
        metrics.rejected("circuit-open");
        problem(503, "circuit-open", "Upstream unavailable", circuitOpen.getMessage(),
            RetryAdvice.breakerOpen(circuitOpen.retryAt(), clock).seconds());
        return;
      }
      RetryAdvice advice = poolAdvice();
      metrics.rejected("no-key");
      problem(503, "no-key-available", "No key available", "key " + keyId
          + " failed on its own account and no other key could be taken for this request"
          + (advice.operatorNeeded() ? " (an operator must act)" : ""), advice.seconds());
    }

    /** What the pool says now about this request's model (see {@link RetryAdvice}). */
    RetryAdvice poolAdvice() {
      return RetryAdvice.of(rotator, guard, context.model(), clock);
    }

    /**
     * Sets the proxy→client {@code Retry-After} of an upstream 429 or 503 passed on to the
     * client from the pool ({@link RetryAdvice#forUpstream}), so it is never missing while the
     * pool can say when it serves again; other statuses are left alone.
     */
    void poolRetryAfter(int status, HttpHeaders upstreamHeaders, RetryAdvice advice) {
      if (status != 429 && status != 503) return;
      long seconds = advice.forUpstream(status, upstreamHeaders::get);
      if (seconds >= 0) {
        proxyToClientResponse.headers().set("Retry-After", Long.toString(seconds));
      }
    }

    private void send(KeyLease lease) {
      StandaloneConfig c = s.config;
      String method = clientToProxyRequest.method();
      boolean withBody = body.length > 0 || !(method.equals("GET") || method.equals("HEAD")
          || method.equals("DELETE"));
      // The client's headers were validated when decoded: no second validation on the copy.
      DefaultFullHttpRequest proxyToUpstreamRequest = new DefaultFullHttpRequest(
          HttpVersion.HTTP_1_1, clientToProxyRequest.head().method(), upstreamUri,
          withBody ? Unpooled.wrappedBuffer(body) : Unpooled.EMPTY_BUFFER, UNVALIDATED,
          HeaderNames.NO_TRAILERS);
      HttpHeaders h = proxyToUpstreamRequest.headers();
      copyRequestHeaders(clientToProxyRequest.headers(), h, lease);
      h.set(HeaderNames.HOST, upstream.authority());
      if (withBody) h.set(HeaderNames.CONTENT_LENGTH, HeaderNames.decimal(body.length));
      UpstreamListener listener = new UpstreamListener(this, lease, System.nanoTime());
      if (log.isDebugEnabled()) {
        log.atDebug().addKeyValue("requestId", requestId).addKeyValue("attempt", attempt)
            .addKeyValue("keyId", lease.key().id())
            .log("proxy->upstream {} {}", method, clientToProxyRequest.path());
      }
      Upstream.Attempt a = upstream.attempt(loop, proxyToUpstreamRequest, listener,
          c.requestTimeout());
      listener.attempt = a;
      upstreamRequest = a; // before go(): the listener may hear (and retry) within it
      a.go();
    }

    private void copyRequestHeaders(HttpHeaders from, HttpHeaders to, KeyLease lease) {
      copyHeaders(from, to, NOT_FORWARDED, null);
      String secret = lease.key().secret();
      if (openAi) {
        to.set(HeaderNames.AUTHORIZATION, HeaderNames.ascii("Bearer " + secret));
      } else {
        to.set(HeaderNames.X_GOOG_API_KEY, HeaderNames.ascii(secret));
      }
    }

    /** After a retryable failure: remember the response, then go again (possibly later). */
    void retry(Decision decision, Outcome outcome, KeyLease lease, Kept keep) {
      upstreamRequest = null;
      if (keep != null) {
        kept = keep;
        lastTransportFailure = null;
      }
      context = context.excluding(lease.key().id());
      metrics.retry(outcome.kind().name().toLowerCase(Locale.ROOT));
      if (log.isDebugEnabled()) {
        log.atDebug().addKeyValue("requestId", requestId).addKeyValue("attempt", attempt)
            .addKeyValue("keyId", lease.key().id()).addKeyValue("outcome", outcome.kind())
            .log("retrying on another key: {}", decision);
      }
      if (decision.kind() == Decision.Kind.RETRY_AFTER) {
        loop.schedule(this::nextAttemptSafely, decision.delay().toMillis(),
            TimeUnit.MILLISECONDS);
      } else {
        nextAttemptSafely();
      }
    }

    private void nextAttemptSafely() {
      try {
        nextAttempt();
      } catch (RuntimeException e) {
        unexpected(e);
      }
    }

    /** A bug or a closed rotator: answer 502 once, and log the exception's type only. */
    void unexpected(RuntimeException e) {
      log.atError().addKeyValue("requestId", requestId)
          .log("attempt failed unexpectedly: {}", e.getClass().getName());
      if (finished) return;
      if (proxyToClientResponse.isCommitted()) {
        proxyToClientResponse.abort();
        finish(e);
        return;
      }
      problem(502, "proxy-error", "Proxy error", "the proxy failed to forward the request", -1);
    }

    /**
     * Sends the response kept from the last failed attempt (status and peeked body); a kept 429
     * or 503 gets the pool's {@code Retry-After} ({@link #poolRetryAfter}), the pool's earliest
     * recovery rather than the one key's delay.
     */
    void sendKept(RetryAdvice advice) {
      settle();
      Kept k = kept;
      status = k.status();
      proxyToClientResponse.status(k.status());
      // Gemini names a key in some error messages ("Consumer 'api_key:AIza...'"): every pool
      // key becomes its id, in headers and body. A body cut at the peek also loses any start of
      // a key it was cut in.
      SecretScrubber scrubber = SecretScrubber.forAttempt(rotator, k.key());
      copyResponseHeaders(k.headers(), proxyToClientResponse.headers(), scrubber);
      // A failed attempt's upload session is abandoned: its URLs are not the client's to use.
      for (AsciiString name : UPLOAD_URL_HEADERS) proxyToClientResponse.headers().remove(name);
      byte[] body = k.complete() ? scrubber.scrub(k.body()) : scrubber.scrubTruncated(k.body());
      // Only part of a longer body was kept, or a key was taken out of it: its length is no
      // longer the upstream's.
      if (!k.complete() || body != k.body()) {
        proxyToClientResponse.headers().remove(HeaderNames.CONTENT_LENGTH);
      }
      poolRetryAfter(k.status(), k.headers(), advice);
      proxyToClientResponse.end(Unpooled.wrappedBuffer(body), this::finish);
    }

    /** Answers the last transport failure: 504 for a timeout, else 502. */
    void transportProblem() {
      String reason = lastTransportFailure instanceof Outcome.TransportError t ? t.reason()
          : lastTransportFailure.kind().name();
      problem(lastTimedOut ? 504 : 502, lastTimedOut ? "upstream-timeout" : "upstream-unreachable",
          lastTimedOut ? "Upstream timed out" : "Upstream unreachable",
          "the request to Gemini failed: " + reason, -1);
    }

    /** Sends a problem the proxy made itself. */
    void problem(int status, String slug, String title, String detail, long retryAfter) {
      settle();
      this.status = status;
      logRefusal(status, slug, detail);
      boolean gemini = isProxied(clientToProxyRequest.path());
      Problems.send(clientToProxyRequest, proxyToClientResponse, status, slug, title, detail,
          gemini, retryAfter, this::finish);
    }

    /**
     * Logs a refusal for the operator (rate-limited per kind, see {@link RefusalLog}): every
     * answer of the proxy's own but 502 and 504, which are logged where the upstream failed.
     */
    private void logRefusal(int status, String slug, String detail) {
      if (status >= 500 && status != 503) return;
      if (client == null) {
        client = s.identity.clientAddress(clientToProxyRequest.remoteAddress(),
            clientToProxyRequest.header(HeaderNames.X_FORWARDED_FOR));
      }
      metrics.refusals.refused(slug, status, requestId, route, client, detail);
    }

    /**
     * Reading the client's body failed. While nothing was sent yet that is the client's mistake
     * (a body shorter than its Content-Length, then silence or a half-close): answer a problem,
     * 408 for a timeout, else 400.
     */
    void bodyReadFailed(Throwable failure) {
      if (!proxyToClientResponse.isCommitted() && !call.isGone()) {
        boolean timeout = false;
        for (Throwable c = failure; c != null; c = c.getCause()) {
          if (c instanceof TimeoutException) timeout = true;
        }
        metrics.rejected(timeout ? "body-timeout" : "body-incomplete");
        proxyToClientResponse.closeAfter();
        if (timeout) {
          problem(408, "request-timeout", "Request body timed out",
              "the request body did not arrive in time (server.body-timeout,"
                  + " server.body-min-rate, server.idle-timeout)", -1);
        } else {
          problem(400, "incomplete-body", "Request body incomplete",
              "the request body ended before its declared length", -1);
        }
        return;
      }
      clientFailed(failure);
    }

    /** The client has gone: answer nothing more and record 499. */
    void clientFailed(Throwable failure) {
      status = 499;
      proxyToClientResponse.abort();
      finish(failure);
    }

    /**
     * The answer is chosen: the request is reported to the breaker now, before the client can
     * see the answer (and send the next request).
     */
    void settle() {
      if (attempts != null) attempts.finish(clientGone != null);
    }

    /** Completes the client exchange and records it, exactly once. */
    void finish(Throwable failure) {
      if (finished) return;
      finished = true;
      if (attempts != null) attempts.finish(failure != null || clientGone != null);
      int recorded = failure != null && status < 400 ? 499 : status;
      String method = clientToProxyRequest.method();
      // Routes answered every other method with 405 before it got here.
      metrics.requestFinished(route, method, recorded, model,
          start);
      if (log.isDebugEnabled()) {
        log.atDebug().addKeyValue("requestId", requestId)
            .addKeyValue("method", method).addKeyValue("route", route)
            .addKeyValue("status", recorded).addKeyValue("model", model)
            .addKeyValue("attempts", attempt)
            .addKeyValue("millis", (System.nanoTime() - start) / 1_000_000)
            .log("proxy->client done");
        if (failure != null) {
          log.atDebug().addKeyValue("requestId", requestId)
              .log("proxy->client failed: {}", failure.getClass().getSimpleName());
        }
      }
    }
  }

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

  private enum Phase { WAITING, PEEKING, STREAMING, DISCARDED, DONE }

  /**
   * Receives one attempt's upstream→proxy response. Decides from the status alone for 2xx and
   * plain client errors, else from up to {@link GeminiClassifier#MAX_PEEK_BYTES} of the body;
   * then streams upstream→proxy chunks to the client, pausing the upstream connection while the
   * client cannot take more. Runs on the exchange's event loop.
   */
  private final class UpstreamListener implements Upstream.Listener {

    final Exchange ex;
    final KeyLease lease;
    final long sentAt;
    Upstream.Attempt attempt;
    Phase phase = Phase.WAITING;
    int upstreamStatus;
    HttpResponse head;
    ByteArrayOutputStream peek;
    /**
     * Set when an error body (4xx, 5xx) goes to the client: takes every pool key out of it as it
     * streams, a key split across chunks included.
     */
    SecretScrubber.Stream errorScrub;
    /** Inflates a gzip or deflate error body, so it can be classified and scrubbed. */
    ContentDecoder decoder;
    /**
     * An error body in an encoding the proxy cannot decode (br, zstd, ...): it cannot be checked
     * for pool keys, so it is dropped and the client gets the status and headers with no body.
     */
    boolean undecodable;
    Outcome outcome;

    UpstreamListener(Exchange ex, KeyLease lease, long sentAt) {
      this.ex = ex;
      this.lease = lease;
      this.sentAt = sentAt;
    }

    @Override
    public void onHeaders(HttpResponse upstreamToProxyResponse) {
      try {
        headers(upstreamToProxyResponse);
      } catch (RuntimeException e) {
        failed(e);
      }
    }

    @Override
    public void onContent(ByteBuf chunk, boolean last) {
      try {
        content(chunk, last);
      } catch (RuntimeException e) {
        if (chunk.refCnt() > 0) chunk.release();
        failed(e);
      }
    }

    /** A bug (or a closed rotator) while handling this attempt: end it and the exchange. */
    private void failed(RuntimeException e) {
      if (phase == Phase.DONE && ex.finished) return;
      phase = Phase.DONE;
      if (outcome == null) {
        outcome = Outcome.cancelled();
        lease.complete(outcome);
        ex.attempts.record(lease.key(), outcome, Duration.ZERO);
      }
      forget();
      attempt.abort(new java.util.concurrent.CancellationException("proxy error"));
      ex.unexpected(e);
    }

    private void headers(HttpResponse upstreamToProxyResponse) {
      head = upstreamToProxyResponse;
      upstreamStatus = upstreamToProxyResponse.status().code();
      metrics.upstream(ex.route, upstreamStatus, sentAt);
      if (upstreamStatus >= 200 && upstreamStatus < 300) metrics.modelServed(ex.model);
      if (upstreamStatus >= 400) {
        String encoding = upstreamToProxyResponse.headers().get(HttpHeaderNames.CONTENT_ENCODING);
        if (!ContentDecoder.isIdentity(encoding)) {
          decoder = ContentDecoder.forEncoding(encoding);
          undecodable = decoder == null;
          if (undecodable) {
            log.atWarn().addKeyValue("requestId", ex.requestId)
                .log("upstream sent a {} error body as {}, which cannot be checked for pool keys;"
                    + " passing the status on without the body", upstreamStatus,
                    encoding.length() > 32 ? encoding.substring(0, 32) : encoding);
          }
        }
      }
      if (needsBody(upstreamStatus)) {
        peek = new ByteArrayOutputStream(1024);
        phase = Phase.PEEKING;
        return;
      }
      Outcome o = classifier.classify(upstreamStatus, upstreamToProxyResponse.headers()::get,
          null, lease.key());
      if (report(o).kind() != Decision.Kind.RETURN) {
        // Not expected for statuses decided without a body; treat as return regardless.
        log.warn("attempt policy asked to retry a {} response; returning it", upstreamStatus);
      }
      ex.settle();
      if (!commitHeaders()) {
        unusableUploadUrl(null);
        return;
      }
      if (upstreamStatus >= 400) {
        // An error body may name a pool key (a 404 echoing a request URL, say): scrubbed as it
        // streams, so its length may change.
        errorScrub = SecretScrubber.forAttempt(rotator, lease.key()).stream();
        ex.proxyToClientResponse.headers().remove(HeaderNames.CONTENT_LENGTH);
      }
      phase = Phase.STREAMING;
    }

    private boolean needsBody(int status) {
      return status == 400 || status == 401 || status == 403 || status == 408 || status == 429
          || status >= 500;
    }

    private Decision report(Outcome o) {
      this.outcome = o;
      lease.complete(o);
      return ex.attempts.completed(lease.key(), o, Duration.ofNanos(System.nanoTime() - sentAt));
    }

    /**
     * Sets the proxy→client status and headers from this attempt's response, every value scrubbed
     * of every pool key. Returns {@code false}, having set nothing, when an upload URL cannot be
     * pointed back at the proxy: such a URL is never passed on (fail closed), and the caller
     * answers 502 instead.
     */
    private boolean commitHeaders() {
      HttpHeaders from = head.headers();
      String[] rewritten = null;
      for (int i = 0; i < UPLOAD_URL_HEADERS.length; i++) {
        String url = from.get(UPLOAD_URL_HEADERS[i]);
        if (url == null) continue;
        String local = rewriteUploadUrl(url);
        if (local == null) return false;
        if (rewritten == null) rewritten = new String[UPLOAD_URL_HEADERS.length];
        rewritten[i] = local;
      }
      ex.status = upstreamStatus;
      ex.proxyToClientResponse.status(upstreamStatus);
      HttpHeaders to = ex.proxyToClientResponse.headers();
      // Every pool key is taken out, not only this attempt's: an answer may name another one.
      SecretScrubber scrubber = SecretScrubber.forAttempt(rotator, lease.key());
      copyResponseHeaders(from, to, scrubber);
      if (decoder != null || undecodable) {
        // The client gets the body inflated (or none): the upstream's coding and length are gone.
        to.remove(HttpHeaderNames.CONTENT_ENCODING);
        to.remove(HeaderNames.CONTENT_LENGTH);
      }
      if (rewritten != null) {
        for (int i = 0; i < UPLOAD_URL_HEADERS.length; i++) {
          if (rewritten[i] != null) {
            to.set(UPLOAD_URL_HEADERS[i], scrubber.scrub(rewritten[i]));
          }
        }
      }
      if (upstreamStatus >= 200 && upstreamStatus < 300
          && (ex.route.equals("upload") || ex.route.equals("files"))) {
        ex.tap = new ByteArrayOutputStream();
      }
      return true;
    }

    /**
     * The upstream sent an upload URL the proxy cannot rewrite: end this attempt (its outcome is
     * already reported) and answer 502, so that the URL, and the key it may carry, stay here.
     */
    private void unusableUploadUrl(ByteBuf rest) {
      phase = Phase.DONE;
      if (rest != null) rest.release();
      forget();
      attempt.abort(new java.util.concurrent.CancellationException("unusable upload URL"));
      log.atWarn().addKeyValue("requestId", ex.requestId).addKeyValue("keyId", lease.key().id())
          .log("upstream sent an upload URL that cannot be rewritten; answering 502");
      ex.problem(502, "bad-upload-url", "Unusable upload URL",
          "Gemini answered with a resumable-upload URL the proxy cannot point back at itself", -1);
    }

    /**
     * Points a resumable-upload URL back at this proxy, without the key or any other credential
     * parameter it may carry, and pins the upload to this attempt's key; {@code null} when the URL
     * is not an absolute http(s) URL with a path.
     */
    private String rewriteUploadUrl(String url) {
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
      String uploadId = queryParam(u.getRawQuery(), "upload_id");
      if (uploadId != null) pins.pinUpload(uploadId, lease.key().id());
      String query = forwardedQuery(u.getRawQuery());
      return clientBase(ex.clientToProxyRequest, ex.s.identity) + u.getRawPath()
          + (query == null ? "" : "?" + query);
    }

    /**
     * The part of an error body's chunk that may go out now, scrubbed of the pool key (the
     * chunk is released); {@code null} when all of it is held back for the next chunk.
     */
    private ByteBuf scrubbed(ByteBuf chunk, boolean last) {
      byte[] bytes = new byte[chunk.readableBytes()];
      chunk.readBytes(bytes);
      chunk.release();
      byte[] sent = errorScrub.next(bytes, last);
      return sent.length == 0 && !last ? null : Unpooled.wrappedBuffer(sent);
    }

    private void tap(ByteBuf buffer) {
      if (ex.tap == null || ex.tap.size() >= GeminiClassifier.MAX_PEEK_BYTES) return;
      int n = Math.min(buffer.readableBytes(), GeminiClassifier.MAX_PEEK_BYTES - ex.tap.size());
      byte[] bytes = new byte[n];
      buffer.getBytes(buffer.readerIndex(), bytes);
      ex.tap.write(bytes, 0, n);
    }

    private void pinDeclaredFiles() {
      if (ex.tap == null) return;
      for (String file : FilePins.declaredFiles(ex.tap.toString(StandardCharsets.UTF_8))) {
        pins.pinFile(file, lease.key().project());
      }
    }

    private void content(ByteBuf chunk, boolean last) {
      if (phase == Phase.PEEKING || phase == Phase.STREAMING) {
        if (undecodable) {
          chunk.release();
          chunk = Unpooled.EMPTY_BUFFER;
        } else if (decoder != null) {
          chunk = decoder.decode(chunk, last);
        }
      }
      decoded(chunk, last);
    }

    /** Handles a chunk of the body as the client may get it (inflated when it was encoded). */
    private void decoded(ByteBuf chunk, boolean last) {
      switch (phase) {
        case STREAMING -> {
          tap(chunk);
          if (errorScrub != null) {
            chunk = scrubbed(chunk, last);
            if (chunk == null) return; // all held back, waiting for the next chunk
          }
          if (last) {
            phase = Phase.DONE;
            pinDeclaredFiles();
            forget();
            ex.proxyToClientResponse.end(chunk, ex::finish);
            return;
          }
          // A failed write closes the client connection: onClientFailure hears it from there.
          ex.proxyToClientResponse.stream(chunk);
          if (!ex.proxyToClientResponse.isWritable()) {
            Upstream.Attempt a = ex.upstreamRequest;
            if (a != null) {
              a.pause();
              ex.proxyToClientResponse.whenWritable(a::resume);
            }
          }
        }
        case PEEKING -> {
          int room = GeminiClassifier.MAX_PEEK_BYTES - peek.size();
          int n = Math.min(room, chunk.readableBytes());
          byte[] bytes = new byte[n];
          chunk.readBytes(bytes);
          peek.write(bytes, 0, n);
          if (last) {
            // The whole rest goes with the peek (classified on its first MAX_PEEK_BYTES only).
            byte[] rest = new byte[chunk.readableBytes()];
            chunk.readBytes(rest);
            peek.write(rest, 0, rest.length);
            chunk.release();
            forget();
            decideAfterPeek(true, null);
          } else if (peek.size() >= GeminiClassifier.MAX_PEEK_BYTES) {
            decideAfterPeek(false, chunk); // the rest of this chunk goes after the peek
          } else {
            chunk.release();
          }
        }
        default -> chunk.release();
      }
    }

    /**
     * Classifies the peeked error body and either returns this response (peeked bytes first, then
     * whatever remains, streamed) or drops it and retries.
     */
    private void decideAfterPeek(boolean complete, ByteBuf rest) {
      byte[] peeked = peek.toByteArray();
      Outcome o = classifier.classify(upstreamStatus, head.headers()::get, new String(peeked, 0,
          Math.min(peeked.length, GeminiClassifier.MAX_PEEK_BYTES), StandardCharsets.UTF_8),
          lease.key());
      Decision decision = report(o);
      // A response not read to its end cannot be kept whole for later: drop it only when the
      // next attempt is secured, else it is the answer and goes back whole.
      boolean last = decision.kind() == Decision.Kind.RETURN;
      if (!last && !complete) {
        try {
          ex.reserved = ex.reserveNext(lease);
        } catch (RuntimeException e) {
          log.atWarn().addKeyValue("requestId", ex.requestId)
              .log("could not reserve the next attempt: {}", e.getClass().getName());
        }
        last = ex.reserved == null;
        if (last && ex.attempts.answerFromPool()) {
          // No further attempt after this key's own failure (no key left, the breaker opened
          // meanwhile, or taking a key failed): the pool answers, never this key.
          phase = Phase.DISCARDED;
          rest.release();
          forget();
          attempt.abort(new java.util.concurrent.CancellationException("no attempt left"));
          ex.answerFromPool(lease.key().id());
          return;
        }
      }
      if (last) {
        ex.settle();
        if (!commitHeaders()) {
          unusableUploadUrl(rest);
          return;
        }
        if (upstreamStatus == 429 || upstreamStatus == 503) {
          ex.poolRetryAfter(upstreamStatus, head.headers(), ex.poolAdvice());
        }
        if (o.kind() != Outcome.Kind.CLIENT_ERROR && o.kind() != Outcome.Kind.SUCCESS) {
          log.atWarn().addKeyValue("requestId", ex.requestId).addKeyValue("attempt", ex.attempt)
              .addKeyValue("keyId", lease.key().id()).addKeyValue("outcome", o.kind())
              .log("returning upstream {} to the client", upstreamStatus);
        }
        // Gemini names the key in some error messages ("Consumer 'api_key:AIza...'"), and an
        // answer may name another pool key: every one becomes its id.
        SecretScrubber scrubber = SecretScrubber.forAttempt(rotator, lease.key());
        if (complete) {
          byte[] sent = scrubber.scrub(peeked);
          if (sent != peeked) {
            ex.proxyToClientResponse.headers().remove(HeaderNames.CONTENT_LENGTH);
          }
          phase = Phase.DONE;
          ex.proxyToClientResponse.end(Unpooled.wrappedBuffer(sent), ex::finish);
        } else {
          // The rest streams scrubbed too, a key split across chunks included; its length may
          // change, so it goes without the upstream's Content-Length.
          errorScrub = scrubber.stream();
          ex.proxyToClientResponse.headers().remove(HeaderNames.CONTENT_LENGTH);
          phase = Phase.STREAMING;
          byte[] sent = errorScrub.next(peeked, false);
          if (sent.length > 0) ex.proxyToClientResponse.stream(Unpooled.wrappedBuffer(sent));
          try {
            decoded(rest, false); // already inflated
          } catch (RuntimeException e) {
            if (rest.refCnt() > 0) rest.release();
            failed(e);
          }
        }
        return;
      }
      HttpHeaders keptHeaders = new DefaultHttpHeaders().set(head.headers());
      if (decoder != null || undecodable) {
        keptHeaders.remove(HttpHeaderNames.CONTENT_ENCODING); // the kept body is inflated (or none)
        keptHeaders.remove(HeaderNames.CONTENT_LENGTH);
      }
      Kept keep = new Kept(upstreamStatus, keptHeaders, peeked, complete, lease.key());
      if (!complete) {
        phase = Phase.DISCARDED;
        rest.release();
        forget();
        attempt.abort(new java.util.concurrent.CancellationException("retrying on another key"));
      } else {
        phase = Phase.DONE;
      }
      ex.retry(decision, o, lease, keep);
    }

    @Override
    public void onFailure(Throwable failure) {
      Phase p = phase;
      forget();
      if (failure instanceof java.util.concurrent.RejectedExecutionException
          && (p == Phase.WAITING || p == Phase.PEEKING)) {
        // The proxy itself refused (shutting down, too many waiting): not the key's fault.
        phase = Phase.DONE;
        lease.complete(Outcome.cancelled());
        ex.attempts.record(lease.key(), Outcome.cancelled(), Duration.ZERO);
        if (ex.clientGone != null) {
          ex.clientFailed(ex.clientGone);
        } else {
          metrics.rejected("overloaded");
          ex.problem(503, "overloaded", "Proxy overloaded", failure.getMessage(), 1);
        }
        return;
      }
      if (ex.clientGone != null && (p == Phase.WAITING || p == Phase.PEEKING)) {
        // Aborted because the client left: not the key's fault, and nobody to retry for.
        phase = Phase.DONE;
        lease.complete(Outcome.cancelled());
        ex.attempts.record(lease.key(), Outcome.cancelled(), Duration.ZERO);
        if (log.isDebugEnabled()) {
          log.atDebug().addKeyValue("requestId", ex.requestId).addKeyValue("attempt", ex.attempt)
              .addKeyValue("keyId", lease.key().id())
              .log("client left before the upstream answered; attempt aborted");
        }
        ex.clientFailed(ex.clientGone);
        return;
      }
      switch (p) {
        case WAITING, PEEKING -> {
          phase = Phase.DONE;
          Outcome o = classifier.classifyTransportFailure(failure);
          Decision decision = report(o);
          log.atWarn().addKeyValue("requestId", ex.requestId).addKeyValue("attempt", ex.attempt)
              .addKeyValue("keyId", lease.key().id()).addKeyValue("outcome", o.kind())
              .log("proxy->upstream failed: {}", describe(o));
          // The last attempt decides what the client gets when no further attempt is possible.
          ex.kept = null;
          ex.lastTransportFailure = o;
          ex.lastTimedOut = isTimeout(failure);
          if (decision.kind() != Decision.Kind.RETURN) {
            ex.retry(decision, o, lease, null);
          } else {
            ex.transportProblem();
          }
        }
        case STREAMING -> {
          phase = Phase.DONE;
          if (ex.clientGone != null) {
            // The client left mid-response and the stream was aborted: nothing to report.
            ex.clientFailed(ex.clientGone);
            return;
          }
          log.atWarn().addKeyValue("requestId", ex.requestId).addKeyValue("keyId",
              lease.key().id()).log("upstream->proxy failed mid-response: {}",
              failure.getClass().getSimpleName());
          ex.proxyToClientResponse.abort();
          ex.finish(failure);
        }
        default -> { }
      }
    }

    /** This attempt is over: the exchange no longer points at it. */
    private void forget() {
      if (ex.upstreamRequest == attempt) ex.upstreamRequest = null;
      if (decoder != null) decoder.close();
    }

    private String describe(Outcome o) {
      return o instanceof Outcome.TransportError t ? t.reason() : o.kind().name();
    }

    private boolean isTimeout(Throwable t) {
      for (Throwable c = t; c != null; c = c.getCause()) {
        if (c instanceof TimeoutException || c instanceof java.net.SocketTimeoutException
            || c instanceof io.netty.channel.ConnectTimeoutException) {
          return true;
        }
      }
      return false;
    }
  }
}
