package dev.geminirotator.standalone.gemini;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.core.internal.affinity.Affinity;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.internal.exchange.GeminiExchange;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequests;
import dev.geminirotator.standalone.config.Settings;
import dev.geminirotator.standalone.http.Call;
import dev.geminirotator.standalone.http.ProxyRequest;
import dev.geminirotator.standalone.http.Upstream;
import java.time.Clock;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * Forwards Gemini REST calls ({@code /v1beta/**}, {@code /v1/**}, {@code /upload/**},
 * {@code /{version}/openai/**}) to the upstream with a pool key. The proxy is a transport of
 * core's exchange: {@link Admission} admits a request, a {@link ProxyExchange} runs core's {@link
 * GeminiExchange#executeAsync} on the client connection's event loop over a {@link
 * NettyTransport}, which only sends with the key core chose and hands answers on ({@link
 * UpstreamAnswer}). Which key, resource affinity, what an answer means and whether to try again
 * are core's. Directions are named client→proxy, proxy→upstream, upstream→proxy, proxy→client.
 *
 * <p>Request bodies are buffered (so a retry can replay them), within the body budget; response
 * bodies are streamed chunk by chunk with back-pressure, never buffered, so server-sent events
 * reach the client as they arrive.
 * Thread-safe: one instance serves every request; per-request state lives in {@link
 * ProxyExchange}.
 */
public final class GeminiProxy {

  final Upstream upstream;
  final ProxyMetrics metrics;
  private final KeyRotator rotator;
  private final CircuitGuard guard;
  private final GeminiClassifier classifier;
  private final Executor blocking;
  private final Supplier<Settings> settings;
  private final Clock clock;
  private final Affinity affinity;
  private final Admission admission;
  /**
   * The upstream base URL's path, prefixed to every forwarded path ({@code ""} for the usual
   * {@code https://generativelanguage.googleapis.com}). Fixed at start: a reload that changes it
   * is logged and needs a restart.
   */
  final String upstreamPathPrefix;
  /** The exchange for the settings in force (its attempt policy reloads with them). */
  private volatile Built built;

  private record Built(Settings settings, GeminiExchange exchange) {
  }

  public GeminiProxy(Upstream upstream, KeyRotator rotator, CircuitGuard guard,
      GeminiClassifier classifier, ProxyMetrics metrics, Executor blocking,
      Supplier<Settings> settings, Clock clock, Affinity affinity, String upstreamPathPrefix) {
    this.upstream = upstream;
    this.rotator = rotator;
    this.guard = guard;
    this.classifier = classifier;
    this.metrics = metrics;
    this.blocking = blocking;
    this.settings = settings;
    this.clock = clock;
    this.affinity = affinity;
    this.upstreamPathPrefix = upstreamPathPrefix;
    this.admission = new Admission(metrics);
  }

  /** The operator log of the proxy's refusals, shared with the proxy's own routes. */
  public RefusalLog refusals() {
    return metrics.refusals;
  }

  /**
   * Whether a raw path may be forwarded: canonical (no {@code .}, {@code ..} or empty segments,
   * no {@code ;} parameters, no encoded dot, slash or backslash) and valid UTF-8 once decoded.
   */
  public static boolean isForwardablePath(String rawPath) {
    return UrlHygiene.isCanonical(rawPath) && UrlHygiene.isUtf8Path(rawPath);
  }

  /** Methods the Gemini REST surface uses; anything else is answered 405 without going upstream. */
  public static final Set<String> METHODS = Set.of("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE");

  /**
   * Core's exchange for these settings: built once per settings object (a reload may change the
   * attempt policy); placements that may block (a pin read from a shared store) run on the
   * proxy's blocking pool, never on an event loop.
   */
  GeminiExchange exchangeFor(Settings s) {
    Built b = built;
    if (b != null && b.settings() == s) return b.exchange();
    GeminiExchange e = GeminiExchange.builder().rotator(rotator).guard(guard)
        .policy(s.attempts).classifier(classifier).affinity(affinity).clock(clock)
        .placer(blocking).build();
    built = new Built(s, e);
    return e;
  }

  /** Whether a path is one the proxy forwards. */
  public static boolean isProxied(String path) {
    return path.startsWith("/v1beta/") || path.startsWith("/v1/") || path.startsWith("/upload/");
  }

  /** A low-cardinality route label for metrics, from the parsed route (no body needed). */
  public static String routeOf(String method, String path, String query) {
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
  public void handle(Call call) {
    ProxyRequest request = call.request;
    Settings s = settings.get();
    // The head is parsed once (or found parsed: HeadCache); the body, once read, adds to this
    // parse only when it can name something (GeminiRequests.withBody).
    HeadCache.Head head = HeadCache.of(request.method(), request.path(), request.query());
    long start = System.nanoTime();
    metrics.requestStarted();
    ProxyExchange exchange = new ProxyExchange(this, s, call, head, start);
    try {
      admission.admit(exchange, s);
    } catch (RuntimeException e) {
      exchange.unexpected(e);
    }
  }
}
