package dev.geminirotator.standalone;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import dev.geminirotator.core.classify.GeminiClassifier;
import java.io.ByteArrayOutputStream;
import java.net.URLDecoder;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.eclipse.jetty.client.BytesRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpFields;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.util.BufferUtil;
import org.eclipse.jetty.util.Callback;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Forwards Gemini REST calls ({@code /v1beta/**}, {@code /v1/**}, {@code /upload/**},
 * {@code /v1beta/openai/**}) to the upstream with a pool key, running core's attempt loop
 * asynchronously on Jetty's HttpClient: acquire a key, ask the circuit guard, send, classify the
 * status and at most {@link GeminiClassifier#MAX_PEEK_BYTES} of an error body, then return the
 * response or retry on another key. Directions are named as in Jetty's {@code ProxyHandler}:
 * client→proxy, proxy→upstream, upstream→proxy, proxy→client.
 *
 * <p>Request bodies are buffered (so a retry can replay them); response bodies are streamed chunk
 * by chunk with demand, never buffered, so server-sent events reach the client as they arrive.
 * Thread-safe: one instance serves every request; per-request state lives in {@link Exchange}.
 */
final class GeminiProxy {

  private static final Logger log = LoggerFactory.getLogger(GeminiProxy.class);

  /** Hop-by-hop headers (RFC 9110 7.6.1) and headers the proxy sets itself, lower case. */
  static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-authenticate",
      "proxy-authorization", "proxy-connection", "te", "trailer", "transfer-encoding", "upgrade");

  private static final Pattern MODEL_IN_PATH =
      Pattern.compile("/(?:models|tunedModels)/([^/:?]+)");

  private final HttpClient client;
  private final KeyRotator rotator;
  private final CircuitGuard guard;
  private final GeminiClassifier classifier;
  private final ProxyMetrics metrics;
  private final ScheduledExecutorService scheduler;
  private final Supplier<Settings> settings;
  private final Clock clock;
  private final FilePins pins;
  /** Fixed at start: a reload that changes it is logged and needs a restart. */
  private final String upstreamBaseUrl;

  GeminiProxy(HttpClient client, KeyRotator rotator, CircuitGuard guard,
      GeminiClassifier classifier, ProxyMetrics metrics, ScheduledExecutorService scheduler,
      Supplier<Settings> settings, Clock clock, FilePins pins, String upstreamBaseUrl) {
    this.pins = pins;
    this.upstreamBaseUrl = upstreamBaseUrl;
    this.client = client;
    this.rotator = rotator;
    this.guard = guard;
    this.classifier = classifier;
    this.metrics = metrics;
    this.scheduler = scheduler;
    this.settings = settings;
    this.clock = clock;
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
    String lower = rawPath.toLowerCase(java.util.Locale.ROOT);
    if (lower.contains("%2e") || lower.contains("%2f") || lower.contains("%5c")) return false;
    for (String segment : rawPath.split("/", -1)) {
      if (segment.equals(".") || segment.equals("..")) return false;
    }
    return true;
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

  static boolean isOpenAi(String path) {
    return path.startsWith("/v1beta/openai/");
  }

  /** A low-cardinality route label for metrics. */
  static String routeOf(String path) {
    if (isOpenAi(path)) return "openai";
    if (path.startsWith("/upload/")) return "upload";
    if (path.endsWith(":streamGenerateContent")) return "stream";
    if (path.endsWith(":generateContent")) return "generate";
    if (path.endsWith(":countTokens")) return "count-tokens";
    if (path.endsWith(":embedContent") || path.endsWith(":batchEmbedContents")) return "embed";
    if (path.contains("/files")) return "files";
    if (path.contains("/cachedContents")) return "cached-contents";
    if (path.contains("/models")) return "models";
    return "other";
  }

  /**
   * Handles one client→proxy request on a proxied route. The caller has assigned a request id;
   * this method authenticates, limits, buffers the body and starts the attempt loop.
   */
  void handle(Request clientToProxyRequest, Response proxyToClientResponse, Callback callback) {
    Settings s = settings.get();
    String path = clientToProxyRequest.getHttpURI().getPath();
    String route = routeOf(path);
    long start = System.nanoTime();
    metrics.requestStarted();
    Exchange exchange = new Exchange(s, clientToProxyRequest, proxyToClientResponse, callback,
        route, start);

    String rawQuery = clientToProxyRequest.getHttpURI().getQuery();
    if (rawQuery != null && !hasValidEscapes(rawQuery)) {
      metrics.rejected("bad-query");
      exchange.problem(400, "bad-query", "Bad query string",
          "the query string has a '%' that is not followed by two hex digits", -1);
      return;
    }

    // Client authentication: the access token sits where Gemini clients put their key.
    String peer = Request.getRemoteAddr(clientToProxyRequest);
    String clientId;
    String presented = presentedCredential(clientToProxyRequest);
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
    } else {
      // Behind a trusted reverse proxy the peer is the proxy: judge the forwarded client.
      String client = s.identity.clientAddress(peer,
          clientToProxyRequest.getHeaders().get(HttpHeader.X_FORWARDED_FOR));
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
    long declared = clientToProxyRequest.getLength();
    if (declared > max) {
      metrics.rejected("too-large");
      String detail = "the request body is " + declared + " bytes; this proxy accepts at most "
          + max;
      if (declared - max <= DISCARD_BEFORE_413) {
        discardThen(clientToProxyRequest, 0, () -> exchange.problem(413, "request-too-large",
            "Request body too large", detail, -1));
      } else {
        exchange.problem(413, "request-too-large", "Request body too large", detail, -1);
      }
      return;
    }
    readBody(clientToProxyRequest, max, exchange);
  }

  /**
   * How much of an oversized body is read and dropped before the 413 goes out. Answering while the
   * client still sends, then closing with its bytes unread, makes the kernel reset the connection,
   * and the reset can destroy the 413 before the client reads it (nginx's lingering close solves
   * the same problem). Bodies beyond this get the 413 at once and may see a reset instead.
   */
  static final long DISCARD_BEFORE_413 = 1024 * 1024;

  /** Reads and drops the rest of the request body (up to the cap), then runs {@code then}. */
  private static void discardThen(Request request, long alreadyRead, Runnable then) {
    Runnable reader = new Runnable() {
      long dropped = alreadyRead;

      @Override
      public void run() {
        while (true) {
          Content.Chunk chunk = request.read();
          if (chunk == null) {
            request.demand(this);
            return;
          }
          boolean done = Content.Chunk.isFailure(chunk) || chunk.isLast();
          if (!Content.Chunk.isFailure(chunk)) dropped += chunk.remaining();
          chunk.release();
          if (done || dropped > DISCARD_BEFORE_413) {
            then.run();
            return;
          }
        }
      }
    };
    reader.run();
  }

  /** The client's credential, from x-goog-api-key, then Authorization: Bearer, then ?key=. */
  static String presentedCredential(Request request) {
    HttpFields h = request.getHeaders();
    String key = h.get("x-goog-api-key");
    if (key != null && !key.isBlank()) return key.trim();
    String auth = h.get(HttpHeader.AUTHORIZATION);
    if (auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)) {
      String token = auth.substring(7).trim();
      if (!token.isEmpty()) return token;
    }
    String query = request.getHttpURI().getQuery();
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
  static String clientBase(Request request, ClientIdentity identity) {
    HttpFields h = request.getHeaders();
    String fwdProto = h.get("X-Forwarded-Proto");
    String fwdHost = h.get("X-Forwarded-Host");
    if (fwdHost != null && identity.isTrustedProxy(Request.getRemoteAddr(request))) {
      String proto = "https".equalsIgnoreCase(fwdProto) ? "https" : "http";
      String host = fwdHost.split(",")[0].trim();
      if (host.matches("[A-Za-z0-9.\\-\\[\\]:]{1,255}")) return proto + "://" + host;
    }
    org.eclipse.jetty.http.HttpURI uri = request.getHttpURI();
    String scheme = uri.getScheme() == null ? "http" : uri.getScheme();
    String host = uri.getHost() == null ? Request.getLocalAddr(request) : uri.getHost();
    if (host.contains(":") && !host.startsWith("[")) host = "[" + host + "]";
    int port = uri.getPort() > 0 ? uri.getPort() : Request.getLocalPort(request);
    boolean defaultPort = (scheme.equals("http") && port == 80)
        || (scheme.equals("https") && port == 443);
    return scheme + "://" + host + (defaultPort || port <= 0 ? "" : ":" + port);
  }

  /**
   * The query without any {@code key} parameter, however its name is spelled ({@code KEY},
   * {@code %6Bey}, {@code key+}): the upstream may decode a name the proxy would not have
   * recognised, and a client's credential must never reach it. {@code null} when nothing is left.
   */
  static String queryWithoutKey(String query) {
    if (query == null || query.isEmpty()) return null;
    StringBuilder sb = new StringBuilder();
    for (String part : query.split("&")) {
      if (part.isEmpty() || isKeyParameter(part)) continue;
      if (sb.length() > 0) sb.append('&');
      sb.append(part);
    }
    return sb.length() == 0 ? null : sb.toString();
  }

  /**
   * Whether every {@code %} in a raw query starts a two-hex-digit escape. Jetty's server passes
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

  /** Whether a raw query part names the {@code key} parameter, decoded and in any case. */
  static boolean isKeyParameter(String part) {
    int eq = part.indexOf('=');
    String name = eq < 0 ? part : part.substring(0, eq);
    String decoded;
    try {
      decoded = URLDecoder.decode(name, StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      decoded = name;
    }
    return decoded.trim().equalsIgnoreCase("key");
  }

  /** Reads the client→proxy body into memory up to {@code max} bytes, with demand. */
  private void readBody(Request request, long max, Exchange exchange) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(
        (int) Math.min(Math.max(request.getLength(), 0), 64 * 1024));
    Runnable reader = new Runnable() {
      @Override
      public void run() {
        while (true) {
          Content.Chunk chunk = request.read();
          if (chunk == null) {
            request.demand(this);
            return;
          }
          if (Content.Chunk.isFailure(chunk)) {
            Throwable failure = chunk.getFailure();
            chunk.release();
            exchange.bodyReadFailed(failure);
            return;
          }
          ByteBuffer buffer = chunk.getByteBuffer();
          if (out.size() + (long) buffer.remaining() > max) {
            long read = out.size() + (long) buffer.remaining();
            boolean last = chunk.isLast();
            chunk.release();
            metrics.rejected("too-large");
            Runnable answer = () -> exchange.problem(413, "request-too-large",
                "Request body too large",
                "the request body exceeds the " + max + " bytes this proxy accepts", -1);
            if (last) {
              answer.run();
            } else {
              discardThen(request, read - max, answer);
            }
            return;
          }
          if (buffer.hasRemaining()) {
            byte[] bytes = new byte[buffer.remaining()];
            buffer.get(bytes);
            out.write(bytes, 0, bytes.length);
          }
          boolean last = chunk.isLast();
          chunk.release();
          if (last) {
            try {
              exchange.start(out.toByteArray());
            } catch (RuntimeException e) {
              exchange.unexpected(e);
            }
            return;
          }
        }
      }
    };
    reader.run();
  }

  /** The model a request names: from the path, or for OpenAI routes from the body's "model". */
  static String modelOf(String path, byte[] body, boolean openAi) {
    Matcher m = MODEL_IN_PATH.matcher(path);
    if (m.find()) return m.group(1);
    if (openAi && body.length > 0) {
      try (JsonParser p = Problems.JSON.getFactory().createParser(body)) {
        if (p.nextToken() != JsonToken.START_OBJECT) return null;
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String name = p.currentName();
          JsonToken value = p.nextToken();
          if ("model".equals(name) && value == JsonToken.VALUE_STRING) {
            String model = p.getText();
            return model.startsWith("models/") ? model.substring(7) : model;
          }
          p.skipChildren();
        }
      } catch (Exception e) {
        return null;
      }
    }
    return null;
  }

  /** A response kept after a failed attempt, returned when no further attempt can be made. */
  private record Kept(int status, HttpFields headers, byte[] body, boolean complete) {
  }

  /**
   * One client request through all its attempts. Each attempt has its own
   * {@link UpstreamListener}; only the current attempt may touch the proxy→client response.
   */
  private final class Exchange {
    final Settings s;
    final Request clientToProxyRequest;
    final Response proxyToClientResponse;
    final Callback proxyToClientCallback;
    final String route;
    final long start;
    final String requestId;
    final AtomicBoolean finished = new AtomicBoolean();
    byte[] body;
    String model;
    boolean openAi;
    RequestContext context;
    int attempt;
    Kept kept;
    int status;
    /** The last attempt's transport failure, answered when no further attempt can be made. */
    Outcome lastTransportFailure;
    boolean lastTimedOut;
    /** False for upload follow-ups: they must stay on the key that started the upload. */
    boolean replayable = true;
    /** A copy of a Files API success body, to learn which file names it declares. */
    ByteArrayOutputStream tap;
    /** Set once the client→proxy connection failed: no further attempt, abort the current one. */
    volatile Throwable clientGone;
    /** The attempt in flight, aborted when the client goes away. */
    volatile org.eclipse.jetty.client.Request upstreamRequest;
    /** Watches an HTTP/1 client's connection while it waits; stopped when the exchange ends. */
    volatile ClientDisconnectWatch watch;
    /** Body bytes left before the declared Content-Length completes the response, or -1. */
    long lengthLeft = -1;
    /**
     * Permission and a key already taken for the next attempt: taken before dropping a failed
     * response that is only partly read, which is returned whole when no next attempt is possible.
     */
    KeyLease reserved;

    Exchange(Settings s, Request request, Response response, Callback callback, String route,
        long start) {
      this.s = s;
      this.clientToProxyRequest = request;
      this.proxyToClientResponse = response;
      this.proxyToClientCallback = callback;
      this.route = route;
      this.start = start;
      this.requestId = RequestIds.get(request);
    }

    /**
     * The client went away (its connection closed or failed): abort the attempt in flight, so
     * it stops holding an upstream connection and a key lease; its listener completes the lease
     * as cancelled, which does not blame the key.
     */
    void onClientFailure(Throwable failure) {
      if (clientGone != null) return;
      clientGone = failure;
      org.eclipse.jetty.client.Request current = upstreamRequest;
      if (current != null) current.abort(clientLeft());
    }

    java.util.concurrent.CancellationException clientLeft() {
      return new java.util.concurrent.CancellationException("client disconnected");
    }

    /**
     * Call before each write to the client. Stops the disconnect watch before the write that may
     * complete the response (the last one, or the one reaching the declared Content-Length): once
     * the client has its response it may send its next request, which is Jetty's to read.
     */
    void beforeWrite(boolean last, int bytes) {
      if (!last) {
        if (lengthLeft < 0) return;
        lengthLeft -= bytes;
        if (lengthLeft > 0) return;
      }
      ClientDisconnectWatch w = watch;
      if (w != null) w.stop();
    }

    /** If the client has gone: answer nothing more, record 499, and say so. */
    boolean abandonIfClientGone() {
      Throwable failure = clientGone;
      if (failure == null) return false;
      clientFailed(failure);
      return true;
    }

    void start(byte[] body) {
      this.body = body;
      // A client that goes away stops the attempt in flight. Jetty reports stream resets and
      // idle timeouts to failure listeners; an HTTP/1 connection closing needs a watch.
      clientToProxyRequest.addFailureListener(this::onClientFailure);
      watch = ClientDisconnectWatch.start(clientToProxyRequest, this::onClientFailure);
      String path = clientToProxyRequest.getHttpURI().getPath();
      this.openAi = isOpenAi(path);
      this.model = modelOf(path, body, openAi);
      this.context = RequestContext.forModel(model);
      String uploadId = queryParam(clientToProxyRequest.getHttpURI().getQuery(), "upload_id");
      if (path.startsWith("/upload/") && uploadId != null) {
        String keyId = pins.uploadKey(uploadId);
        if (keyId != null) {
          context = FilePins.restrict(context, rotator, k -> k.id().equals(keyId));
          replayable = false;
        }
      } else {
        String project = pins.projectFor(path, body);
        if (project != null) {
          context = FilePins.restrict(context, rotator,
              k -> FilePins.projectOf(k).equals(project));
        }
      }
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
        guard.acquirePermission(guardModel());
      } catch (CircuitOpenException e) {
        return null;
      }
      try {
        return rotator.acquire(context.excluding(current.key().id()));
      } catch (NoKeyAvailableException e) {
        guard.onOutcome(guardModel(), Outcome.cancelled(), Duration.ZERO); // permission back
        s.attempts.onNoKeyAvailable(attempt);
        return null;
      } catch (RuntimeException e) {
        guard.onOutcome(guardModel(), Outcome.cancelled(), Duration.ZERO);
        throw e;
      }
    }

    void nextAttempt() {
      KeyLease lease = reserved;
      reserved = null;
      if (clientGone != null && lease != null) {
        lease.close();
        guard.onOutcome(guardModel(), Outcome.cancelled(), Duration.ZERO);
      }
      if (abandonIfClientGone()) return;
      attempt++;
      if (lease == null) lease = acquireForAttempt();
      if (lease == null) return; // answered
      try {
        send(lease);
      } catch (RuntimeException e) {
        lease.close();
        guard.onOutcome(guardModel(), Outcome.cancelled(), Duration.ZERO);
        throw e;
      }
    }

    /** The guard's permission and a key for this attempt, or {@code null} once answered. */
    private KeyLease acquireForAttempt() {
      // The guard first: a request it fails fast must not spend a key's quota permit.
      try {
        guard.acquirePermission(guardModel());
      } catch (CircuitOpenException e) {
        if (kept != null) {
          sendKept();
        } else if (lastTransportFailure != null) {
          transportProblem();
        } else {
          metrics.rejected("circuit-open");
          problem(503, "circuit-open", "Upstream unavailable", e.getMessage(),
              secondsUntil(e.retryAt()));
        }
        return null;
      }
      try {
        return rotator.acquire(context);
      } catch (NoKeyAvailableException e) {
        guard.onOutcome(guardModel(), Outcome.cancelled(), Duration.ZERO); // permission back
        s.attempts.onNoKeyAvailable(attempt - 1);
        if (kept != null) {
          // Every key is cooling: a kept 429 tells the client when the pool recovers.
          sendKept(e.earliestAvailable().map(t -> secondsUntil(t)).orElse(-1L));
        } else if (lastTransportFailure != null) {
          transportProblem();
        } else {
          long retryAfter = e.earliestAvailable()
              .map(t -> secondsUntil(t))
              .orElse(60L);
          metrics.rejected("no-key");
          problem(429, "no-key-available", "No key available", e.getMessage(), retryAfter);
        }
        return null;
      } catch (RuntimeException e) {
        guard.onOutcome(guardModel(), Outcome.cancelled(), Duration.ZERO);
        throw e;
      }
    }

    private long secondsUntil(Instant t) {
      long millis = Duration.between(clock.instant(), t).toMillis();
      return Math.max(1, (millis + 999) / 1000);
    }

    private void send(KeyLease lease) {
      StandaloneConfig c = s.config;
      String path = clientToProxyRequest.getHttpURI().getPath();
      String query = queryWithoutKey(clientToProxyRequest.getHttpURI().getQuery());
      // Jetty's server accepts characters (| { } ^ ...) that java.net.URI rejects: forward them
      // percent-encoded, which means the same to the upstream.
      String uri = upstreamBaseUrl + encodeIllegal(path)
          + (query == null ? "" : "?" + encodeIllegal(query));
      String contentType = clientToProxyRequest.getHeaders().get(HttpHeader.CONTENT_TYPE);
      org.eclipse.jetty.client.Request proxyToUpstreamRequest = client.newRequest(uri)
          .method(clientToProxyRequest.getMethod())
          .idleTimeout(c.upstreamIdleTimeout().toMillis(), TimeUnit.MILLISECONDS)
          .headers(h -> copyRequestHeaders(clientToProxyRequest.getHeaders(), h, lease));
      if (!c.requestTimeout().isZero()) {
        proxyToUpstreamRequest.timeout(c.requestTimeout().toMillis(), TimeUnit.MILLISECONDS);
      }
      String method = clientToProxyRequest.getMethod();
      if (body.length > 0 || !(method.equals("GET") || method.equals("HEAD")
          || method.equals("DELETE") || method.equals("OPTIONS"))) {
        proxyToUpstreamRequest.body(new BytesRequestContent(contentType, body));
      }
      UpstreamListener listener = new UpstreamListener(this, lease, System.nanoTime());
      if (log.isDebugEnabled()) {
        log.atDebug().addKeyValue("requestId", requestId).addKeyValue("attempt", attempt)
            .addKeyValue("keyId", lease.key().id())
            .log("proxy->upstream {} {}", clientToProxyRequest.getMethod(), path);
      }
      upstreamRequest = proxyToUpstreamRequest;
      proxyToUpstreamRequest.onResponseHeaders(listener)
          .onResponseContentAsync(listener)
          .send(listener::onComplete); // a lambda: send() would register a listener object again
      // The client may have left while this attempt was being set up.
      if (clientGone != null) proxyToUpstreamRequest.abort(clientLeft());
    }

    private void copyRequestHeaders(HttpFields from, HttpFields.Mutable to, KeyLease lease) {
      Set<String> connectionTokens = connectionTokens(from);
      for (HttpField f : from) {
        String name = f.getLowerCaseName();
        if (HOP_BY_HOP.contains(name) || connectionTokens.contains(name)) continue;
        switch (name) {
          case "host", "content-length", "x-goog-api-key", "authorization", "accept-encoding",
              "expect", "x-forwarded-for", "forwarded", "x-real-ip" -> {
            continue;
          }
          default -> to.add(f);
        }
      }
      if (openAi) {
        to.put(HttpHeader.AUTHORIZATION, "Bearer " + lease.key().secret());
      } else {
        to.put("x-goog-api-key", lease.key().secret());
      }
    }

    /** After a retryable failure: remember the response, then go again (possibly later). */
    void retry(Decision decision, Outcome outcome, KeyLease lease, Kept keep) {
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
        scheduler.schedule(this::nextAttemptSafely, decision.delay().toMillis(),
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
      if (finished.get()) return;
      try {
        problem(502, "proxy-error", "Proxy error", "the proxy failed to forward the request",
            -1);
      } catch (RuntimeException again) {
        finishing().failed(e);
      }
    }

    /** Sends the response kept from the last failed attempt (status and peeked body). */
    void sendKept() {
      sendKept(-1);
    }

    /**
     * Sends the kept response; a kept 429 gets {@code Retry-After: poolRetryAfter} (when not
     * negative), the pool's earliest recovery rather than the one key's delay.
     */
    void sendKept(long poolRetryAfter) {
      Kept k = kept;
      status = k.status();
      proxyToClientResponse.setStatus(k.status());
      copyResponseHeaders(k.headers(), proxyToClientResponse.getHeaders(), !k.complete());
      if (!k.complete()) proxyToClientResponse.getHeaders().remove(HttpHeader.CONTENT_LENGTH);
      if (k.status() == 429 && poolRetryAfter >= 0) {
        proxyToClientResponse.getHeaders().put(HttpHeader.RETRY_AFTER,
            Long.toString(poolRetryAfter));
      }
      beforeWrite(true, k.body().length);
      proxyToClientResponse.write(true, ByteBuffer.wrap(k.body()), finishing());
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
      this.status = status;
      boolean gemini = isProxied(clientToProxyRequest.getHttpURI().getPath());
      beforeWrite(true, 0);
      Problems.send(clientToProxyRequest, proxyToClientResponse, finishing(), status, slug, title,
          detail, gemini, retryAfter);
    }

    /**
     * Reading the client's body failed. While nothing was sent yet that is the client's mistake
     * (a body shorter than its Content-Length, then silence or a half-close): answer a problem,
     * 408 for a timeout, else 400, rather than letting Jetty turn the failure into a 500.
     */
    void bodyReadFailed(Throwable failure) {
      if (!proxyToClientResponse.isCommitted()) {
        boolean timeout = false;
        for (Throwable c = failure; c != null; c = c.getCause()) {
          if (c instanceof TimeoutException) timeout = true;
        }
        metrics.rejected(timeout ? "body-timeout" : "body-incomplete");
        proxyToClientResponse.getHeaders().put(HttpHeader.CONNECTION, "close");
        if (timeout) {
          problem(408, "request-timeout", "Request body timed out",
              "the request body did not arrive before the idle timeout", -1);
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
      finishing().failed(failure);
    }

    /** A callback that completes the client exchange and records it, exactly once. */
    Callback finishing() {
      return Callback.from(() -> finish(null), this::finish);
    }

    void finish(Throwable failure) {
      if (!finished.compareAndSet(false, true)) return;
      ClientDisconnectWatch w = watch;
      // Before completing: the connection must be free to read its next request, or closed if
      // the watch consumed part of one (Jetty resumes reading as soon as this exchange completes).
      if (w != null) {
        w.stop();
        w.closeIfConsumed();
      }
      int recorded = failure != null && status < 400 ? 499 : status;
      String method = clientToProxyRequest.getMethod();
      metrics.requestFinished(route, METHODS.contains(method) ? method : "OTHER", recorded, model,
          start);
      if (log.isDebugEnabled()) {
        log.atDebug().addKeyValue("requestId", requestId)
            .addKeyValue("method", clientToProxyRequest.getMethod()).addKeyValue("route", route)
            .addKeyValue("status", recorded).addKeyValue("model", model)
            .addKeyValue("attempts", attempt)
            .addKeyValue("millis", (System.nanoTime() - start) / 1_000_000)
            .log("proxy->client done");
      }
      if (failure != null) {
        if (log.isDebugEnabled()) {
          log.atDebug().addKeyValue("requestId", requestId)
              .log("proxy->client failed: {}", failure.getClass().getSimpleName());
        }
        proxyToClientCallback.failed(failure);
      } else {
        proxyToClientCallback.succeeded();
      }
    }
  }

  static Set<String> connectionTokens(HttpFields fields) {
    String connection = fields.get(HttpHeader.CONNECTION);
    if (connection == null) return Set.of();
    java.util.HashSet<String> out = new java.util.HashSet<>();
    for (String t : connection.split(",")) out.add(t.trim().toLowerCase(Locale.ROOT));
    return out;
  }

  /** Copies upstream→proxy headers to proxy→client, minus hop-by-hop and proxy-owned ones. */
  static void copyResponseHeaders(HttpFields from, HttpFields.Mutable to, boolean dropLength) {
    Set<String> connectionTokens = connectionTokens(from);
    for (HttpField f : from) {
      String name = f.getLowerCaseName();
      if (HOP_BY_HOP.contains(name) || connectionTokens.contains(name)) continue;
      if (name.equals("date") || name.equals("x-request-id")) continue;
      if (dropLength && name.equals("content-length")) continue;
      to.add(f);
    }
  }

  private enum Phase { WAITING, PEEKING, STREAMING, DISCARDED, DONE }

  /**
   * Receives one attempt's upstream→proxy response. Decides from the status alone for 2xx and
   * plain client errors, else from up to {@link GeminiClassifier#MAX_PEEK_BYTES} of the body;
   * then streams upstream→proxy chunks to the client, retaining each chunk until its
   * proxy→client write completed and only then demanding the next. Callbacks of one response
   * are serialised by the client, so fields need no locking.
   */
  private final class UpstreamListener implements
      org.eclipse.jetty.client.Response.HeadersListener,
      org.eclipse.jetty.client.Response.AsyncContentListener,
      org.eclipse.jetty.client.Response.CompleteListener {

    final Exchange ex;
    final KeyLease lease;
    final long sentAt;
    volatile Phase phase = Phase.WAITING;
    int upstreamStatus;
    ByteArrayOutputStream peek;
    Outcome outcome;

    UpstreamListener(Exchange ex, KeyLease lease, long sentAt) {
      this.ex = ex;
      this.lease = lease;
      this.sentAt = sentAt;
    }

    @Override
    public void onHeaders(org.eclipse.jetty.client.Response upstreamToProxyResponse) {
      upstreamStatus = upstreamToProxyResponse.getStatus();
      metrics.upstream(ex.route, upstreamStatus, sentAt);
      if (needsBody(upstreamStatus)) {
        peek = new ByteArrayOutputStream(1024);
        phase = Phase.PEEKING;
        return;
      }
      Outcome o = classifier.classify(upstreamStatus, upstreamToProxyResponse.getHeaders()::get,
          null);
      if (report(o).kind() != Decision.Kind.RETURN) {
        // Not expected for statuses decided without a body; treat as return regardless.
        log.warn("attempt policy asked to retry a {} response; returning it", upstreamStatus);
      }
      commitHeaders(upstreamToProxyResponse, false);
      phase = Phase.STREAMING;
    }

    private boolean needsBody(int status) {
      return status == 400 || status == 401 || status == 403 || status == 408 || status == 429
          || status >= 500;
    }

    private Decision report(Outcome o) {
      this.outcome = o;
      lease.complete(o);
      guard.onOutcome(ex.guardModel(), o, Duration.ofNanos(System.nanoTime() - sentAt));
      return ex.s.attempts.decide(ex.attempt, o, ex.replayable);
    }

    private void commitHeaders(org.eclipse.jetty.client.Response upstreamToProxyResponse,
        boolean dropLength) {
      ex.status = upstreamToProxyResponse.getStatus();
      ex.proxyToClientResponse.setStatus(upstreamToProxyResponse.getStatus());
      copyResponseHeaders(upstreamToProxyResponse.getHeaders(),
          ex.proxyToClientResponse.getHeaders(), dropLength);
      ex.lengthLeft = ex.proxyToClientResponse.getHeaders().getLongField(
          HttpHeader.CONTENT_LENGTH);
      String uploadUrl = upstreamToProxyResponse.getHeaders().get("X-Goog-Upload-URL");
      if (uploadUrl != null) {
        ex.proxyToClientResponse.getHeaders().put("X-Goog-Upload-URL",
            rewriteUploadUrl(uploadUrl));
      }
      int status = upstreamToProxyResponse.getStatus();
      if (status >= 200 && status < 300
          && (ex.route.equals("upload") || ex.route.equals("files"))) {
        ex.tap = new ByteArrayOutputStream();
      }
    }

    /**
     * Points a resumable-upload URL back at this proxy, without the key it may carry, and pins
     * the upload to this attempt's key.
     */
    private String rewriteUploadUrl(String url) {
      java.net.URI u;
      try {
        u = java.net.URI.create(url.trim());
      } catch (IllegalArgumentException e) {
        return url;
      }
      String uploadId = queryParam(u.getRawQuery(), "upload_id");
      if (uploadId != null) pins.pinUpload(uploadId, lease.key().id());
      String query = queryWithoutKey(u.getRawQuery());
      return clientBase(ex.clientToProxyRequest, ex.s.identity)
          + (u.getRawPath() == null ? "" : u.getRawPath())
          + (query == null ? "" : "?" + query);
    }

    private void tap(ByteBuffer buffer) {
      if (ex.tap == null || ex.tap.size() >= GeminiClassifier.MAX_PEEK_BYTES) return;
      ByteBuffer copy = buffer.duplicate();
      int n = Math.min(copy.remaining(), GeminiClassifier.MAX_PEEK_BYTES - ex.tap.size());
      byte[] bytes = new byte[n];
      copy.get(bytes);
      ex.tap.write(bytes, 0, n);
    }

    private void pinDeclaredFiles() {
      if (ex.tap == null) return;
      for (String file : FilePins.declaredFiles(ex.tap.toString(StandardCharsets.UTF_8))) {
        pins.pinFile(file, lease.key().project());
      }
    }

    @Override
    public void onContent(org.eclipse.jetty.client.Response upstreamToProxyResponse,
        Content.Chunk chunk, Runnable demander) {
      switch (phase) {
        case STREAMING -> {
          // The client releases the chunk when onContent returns: keep it until written.
          tap(chunk.getByteBuffer());
          chunk.retain();
          ex.beforeWrite(false, chunk.getByteBuffer().remaining());
          ex.proxyToClientResponse.write(false, chunk.getByteBuffer(), Callback.from(() -> {
            chunk.release();
            demander.run();
          }, failure -> {
            chunk.release();
            upstreamToProxyResponse.abort(failure);
          }));
        }
        case PEEKING -> {
          ByteBuffer buffer = chunk.getByteBuffer();
          int room = GeminiClassifier.MAX_PEEK_BYTES - peek.size();
          int n = Math.min(room, buffer.remaining());
          byte[] bytes = new byte[n];
          buffer.get(bytes);
          peek.write(bytes, 0, n);
          if (peek.size() >= GeminiClassifier.MAX_PEEK_BYTES) {
            // Copy what is left of this chunk: it is released when onContent returns.
            byte[] left = new byte[buffer.remaining()];
            buffer.get(left);
            decideAfterPeek(upstreamToProxyResponse, false, ByteBuffer.wrap(left), demander);
          } else {
            demander.run();
          }
        }
        default -> demander.run();
      }
    }

    /**
     * Classifies the peeked error body and either returns this response (peeked bytes first, then
     * whatever remains, streamed) or drops it and retries.
     */
    private void decideAfterPeek(org.eclipse.jetty.client.Response upstreamToProxyResponse,
        boolean complete, ByteBuffer rest, Runnable demander) {
      byte[] peeked = peek.toByteArray();
      Outcome o = classifier.classify(upstreamStatus, upstreamToProxyResponse.getHeaders()::get,
          new String(peeked, StandardCharsets.UTF_8));
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
      }
      if (last) {
        commitHeaders(upstreamToProxyResponse, false);
        if (o.kind() != Outcome.Kind.CLIENT_ERROR && o.kind() != Outcome.Kind.SUCCESS) {
          log.atWarn().addKeyValue("requestId", ex.requestId).addKeyValue("attempt", ex.attempt)
              .addKeyValue("keyId", lease.key().id()).addKeyValue("outcome", o.kind())
              .log("returning upstream {} to the client", upstreamStatus);
        }
        if (complete) {
          phase = Phase.DONE;
          ex.beforeWrite(true, peeked.length);
          ex.proxyToClientResponse.write(true, ByteBuffer.wrap(peeked), ex.finishing());
        } else {
          phase = Phase.STREAMING;
          ByteBuffer first = ByteBuffer.wrap(peeked);
          ex.beforeWrite(false, peeked.length);
          ex.proxyToClientResponse.write(false, first, Callback.from(() -> {
            if (rest != null && rest.hasRemaining()) {
              ex.beforeWrite(false, rest.remaining());
              ex.proxyToClientResponse.write(false, rest, Callback.from(demander,
                  upstreamToProxyResponse::abort));
            } else {
              demander.run();
            }
          }, upstreamToProxyResponse::abort));
        }
        return;
      }
      Kept keep = new Kept(upstreamStatus, HttpFields.build(upstreamToProxyResponse.getHeaders())
          .asImmutable(), peeked, complete);
      if (!complete) {
        phase = Phase.DISCARDED;
        upstreamToProxyResponse.abort(new java.util.concurrent.CancellationException(
            "retrying on another key"));
      } else {
        phase = Phase.DONE;
      }
      ex.retry(decision, o, lease, keep);
    }

    @Override
    public void onComplete(Result result) {
      Phase p = phase;
      if (result.isSucceeded()) {
        switch (p) {
          case PEEKING -> decideAfterPeek(result.getResponse(), true, null, null);
          case STREAMING -> {
            phase = Phase.DONE;
            pinDeclaredFiles();
            ex.beforeWrite(true, 0);
            ex.proxyToClientResponse.write(true, BufferUtil.EMPTY_BUFFER, ex.finishing());
          }
          default -> { }
        }
        return;
      }
      Throwable failure = result.getFailure();
      if (ex.clientGone != null && (p == Phase.WAITING || p == Phase.PEEKING)) {
        // Aborted because the client left: not the key's fault, and nobody to retry for.
        phase = Phase.DONE;
        lease.complete(Outcome.cancelled());
        guard.onOutcome(ex.guardModel(), Outcome.cancelled(), Duration.ZERO);
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
          } else if (ex.kept != null) {
            ex.sendKept();
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
          ex.finishing().failed(failure);
        }
        default -> { }
      }
    }

    private String describe(Outcome o) {
      return o instanceof Outcome.TransportError t ? t.reason() : o.kind().name();
    }

    private boolean isTimeout(Throwable t) {
      for (Throwable c = t; c != null; c = c.getCause()) {
        if (c instanceof TimeoutException || c instanceof java.net.SocketTimeoutException) {
          return true;
        }
      }
      return false;
    }
  }
}
