package dev.geminirotator.standalone;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.metrics.RotatorMetrics;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.redis.StoreMetrics;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.Executor;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.transport.HttpClientTransportOverHTTP;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.io.ClientConnector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.NetworkConnector;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.server.handler.GracefulHandler;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;
import org.eclipse.jetty.util.thread.QueuedThreadPool;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running proxy: a Jetty server with the proxied Gemini routes, {@code /health},
 * {@code /health/detailed}, {@code /metrics} and the admin API, an upstream HttpClient, the key
 * rotator and the circuit guard. {@link #start} builds and starts everything; {@link #reload}
 * swaps in a new configuration's keys, tokens and limits without dropping a connection;
 * {@link #close} drains in-flight requests and streams up to {@code server.drain-timeout}, then
 * closes the rotator (which flushes its store). Thread-safe.
 */
public final class ProxyServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);
  /** Proxy→upstream requests that may wait for a connection; far above what the fds allow. */
  static final int MAX_QUEUED_UPSTREAM_REQUESTS = 65_536;
  /** Listen backlog: connections the kernel completes before the proxy accepts them. */
  static final int ACCEPT_QUEUE_SIZE = 1024;

  private final Server server;
  private final HttpClient client;
  private final QueuedThreadPool threads;
  private final GeminiKeyRotator rotator;
  private final ResilientCircuitGuard guard;
  private final PrometheusMeterRegistry registry;
  private final RotatorMetrics rotatorMetrics;
  private final ScheduledExecutorService scheduler;
  private final Instant startedAt;
  private final Clock clock;
  private volatile Settings settings;
  private final RuntimeKeys runtimeKeys;
  private final Object lifecycle = new Object();
  private boolean closed;

  private final Map<String, String> env;

  private ProxyServer(StandaloneConfig config, Map<String, String> env) throws Exception {
    this.env = Map.copyOf(env);
    this.clock = Clock.systemUTC();
    this.startedAt = clock.instant();
    this.rotator = config.rotator().newRotator();
    this.settings = new Settings(config, null, rotator.store());
    this.runtimeKeys = new RuntimeKeys(rotator, config.rotator().keys());
    this.guard = ResilientCircuitGuard.of(config.rotator().breaker());
    this.registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    this.rotatorMetrics = RotatorMetrics.builder(rotator).guard(guard).build();
    rotatorMetrics.bindTo(registry);
    new StoreMetrics(rotator.store()).bindTo(registry);
    new JvmMemoryMetrics().bindTo(registry);
    new JvmGcMetrics().bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ClassLoaderMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    new FileDescriptorMetrics().bindTo(registry);
    ProxyMetrics metrics = new ProxyMetrics(registry);
    this.scheduler = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "gemini-rotator-retry");
      t.setDaemon(true);
      return t;
    });

    ClientConnector connector = new ClientConnector();
    connector.setSslContextFactory(new SslContextFactory.Client());
    this.client = new HttpClient(new HttpClientTransportOverHTTP(connector));
    client.setFollowRedirects(false);
    client.setConnectTimeout(config.connectTimeout().toMillis());
    client.setIdleTimeout(config.upstreamIdleTimeout().toMillis());
    client.setMaxConnectionsPerDestination(config.maxConnections());
    // Requests beyond max-connections wait for a free upstream connection (within the request
    // timeout). Jetty's default queue of 1,024 failed the rest at once with
    // RejectedExecutionException: a burst of streams then counted as upstream failures and
    // opened the breaker for everyone (found by benchmarks/load/sse.sh).
    client.setMaxRequestsQueuedPerDestination(MAX_QUEUED_UPSTREAM_REQUESTS);
    client.setUserAgentField(null);
    // No cookie jar: Jetty's default one kept the upstream's Set-Cookie and sent it with every
    // later request, whichever client and key (a leak between clients); it also rebuilt each
    // request's java.net.URI to look cookies up. A client's own Cookie header is still forwarded.
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    client.getContentDecoderFactories().clear();
    // One thread pool for the server and the upstream client, as Jetty's own ProxyHandler does:
    // a second pool (Jetty's default, up to 200 threads) doubled the threads under load, each
    // with its stack and malloc arena, for no throughput. Started here and stopped in
    // closeQuietly(), so that neither the server nor the client stops it under the other.
    this.threads = new QueuedThreadPool(400, 8);
    threads.setName("proxy");
    Executor virtual = virtualThreadExecutor();
    if (virtual != null) threads.setVirtualThreadsExecutor(virtual);
    threads.start();
    client.setExecutor(threads);
    try {
      client.start();
    } catch (Exception e) {
      threads.stop();
      throw e;
    }
    // No 401/407 authentication (or other protocol) handling: Jetty's handlers, installed by
    // start(), would turn Gemini's 401 (a rejected key) into an exception. Gemini's answers go
    // back to the classifier as they are, like Jetty's own proxy does.
    client.getProtocolHandlers().clear();

    this.server = new Server(threads);
    HttpConfiguration http = new HttpConfiguration();
    http.setSendServerVersion(false);
    http.setSendXPoweredBy(false);
    http.setSendDateHeader(true);
    // Jetty's header cache matches values case-insensitively by default: on a kept-alive
    // connection "Authorization: Bearer <TOKEN in other case>" would come back as the cached
    // field of the previous request, a wrong token accepted or a right one refused.
    http.setHeaderCacheCaseSensitive(true);
    // Jetty has no deadline for a request head: a client trickling header bytes would hold a
    // connection forever (issue 7). HeaderDeadline adds one; 0s disables it.
    HttpConnectionFactory http1 = config.headerTimeout().isZero()
        ? new HttpConnectionFactory(http)
        : new HeaderDeadline.Factory(http, config.headerTimeout());
    ServerConnector serverConnector;
    if (config.tlsKeystore() != null) {
      SslContextFactory.Server tls = new SslContextFactory.Server();
      tls.setKeyStorePath(config.tlsKeystore());
      tls.setKeyStoreType(config.tlsKeystoreType());
      if (config.tlsKeystorePassword() != null) tls.setKeyStorePassword(
          config.tlsKeystorePassword());
      http.addCustomizer(new SecureRequestCustomizer());
      serverConnector = new ServerConnector(server, new SslConnectionFactory(tls, "http/1.1"),
          http1);
    } else {
      serverConnector = new ServerConnector(server, http1);
    }
    serverConnector.setHost(config.host());
    serverConnector.setPort(config.port());
    serverConnector.setIdleTimeout(config.idleTimeout().toMillis());
    // The JDK's default listen backlog is 50: a burst of new client connections beyond it has
    // its SYNs dropped and waits 1 s, 3 s, 7 s... to connect (found by benchmarks/load/sse.sh).
    serverConnector.setAcceptQueueSize(ACCEPT_QUEUE_SIZE);
    server.addConnector(serverConnector);

    GeminiProxy proxy = new GeminiProxy(client, rotator, guard, GeminiClassifier.defaults(),
        metrics, scheduler, () -> settings, clock, new FilePins(clock, rotator.store()),
        config.upstreamBaseUrl().toString().replaceAll("/+$", ""));
    AdminApi admin = new AdminApi(rotator, guard, () -> settings, this::reloadFromSource,
        runtimeKeys);
    server.setHandler(HeaderDeadline.handler(new GracefulHandler(new Routes(proxy, admin))));
    server.setErrorHandler(new ProblemErrorHandler());
    server.setStopTimeout(config.drainTimeout().toMillis());
    server.setStopAtShutdown(false);
    try {
      server.start();
    } catch (Exception e) {
      closeQuietly();
      throw e;
    }
    if (!config.hasAccessTokens()) {
      log.warn("no access tokens configured: only loopback clients are accepted");
    }
    log.atInfo().addKeyValue("host", config.host()).addKeyValue("port", port())
        .addKeyValue("keys", rotator.snapshot().size()).addKeyValue("version", version())
        .addKeyValue("virtualThreads", virtual != null)
        .log("gemini-rotator proxy listening on {}", uri());
  }

  /**
   * Builds and starts a proxy.
   *
   * @throws Exception when the port cannot be bound or the store cannot be opened
   */
  public static ProxyServer start(StandaloneConfig config) throws Exception {
    return new ProxyServer(config, System.getenv());
  }

  /**
   * Builds and starts a proxy whose {@code POST /admin/reload} reads this environment.
   *
   * @throws Exception when the port cannot be bound or the store cannot be opened
   */
  public static ProxyServer start(StandaloneConfig config, Map<String, String> env)
      throws Exception {
    return new ProxyServer(config, env);
  }

  /** The bound port (useful when the configuration asked for port 0). */
  public int port() {
    return ((NetworkConnector) server.getConnectors()[0]).getLocalPort();
  }

  /** The listening connector (tests pause its accepting). */
  ServerConnector connector() {
    return (ServerConnector) server.getConnectors()[0];
  }

  /** The base URI clients use. */
  public URI uri() {
    Settings s = settings;
    String host = s.config.host();
    if (host.contains(":")) host = "[" + host + "]";
    return URI.create((s.config.tlsKeystore() != null ? "https" : "http") + "://" + host + ":"
        + port());
  }

  /** The rotator behind the proxy. */
  public GeminiKeyRotator rotator() {
    return rotator;
  }

  /** The circuit guard in front of the upstream. */
  public CircuitGuard guard() {
    return guard;
  }

  /** The configuration in force. */
  public StandaloneConfig config() {
    return settings.config;
  }

  /**
   * Applies a new configuration: keys (added, removed, reweighted, state kept; keys added at run
   * time are kept, a file key with the same id replaces one, and a file key deleted through the
   * admin API stays deleted while the file lists it: see {@link RuntimeKeys}), access
   * and admin tokens, limits and the attempt policy. Listening address, TLS, upstream, storage
   * and breaker settings need a restart; a change to them is logged and ignored.
   */
  public void reload(StandaloneConfig next) {
    synchronized (lifecycle) {
      StandaloneConfig current = settings.config;
      if (!current.host().equals(next.host()) || current.port() != next.port()
          || !current.upstreamBaseUrl().equals(next.upstreamBaseUrl())
          || !current.rotator().storage().equals(next.rotator().storage())) {
        log.warn("reload: server, upstream and storage changes take effect after a restart");
      }
      runtimeKeys.applyFile(next.rotator().keys());
      ClientRateLimits before = settings.rateLimits;
      settings = new Settings(next, before, rotator.store());
      if (settings.rateLimits != before) before.close();
      log.atInfo().addKeyValue("keys", next.rotator().keys().size())
          .log("configuration reloaded");
    }
  }

  /** Re-reads the configuration file it was started with; for {@code POST /admin/reload}. */
  private StandaloneConfig reloadFromSource() {
    StandaloneConfig current = settings.config;
    StandaloneConfig next = StandaloneConfig.load(current.source(), env,
        new StandaloneConfig.Overrides(current.host(), current.port()));
    reload(next);
    return next;
  }

  /**
   * Stops accepting connections, lets in-flight requests and streams finish for up to
   * {@code server.drain-timeout}, then stops the upstream client and closes the rotator.
   */
  @Override
  public void close() {
    synchronized (lifecycle) {
      if (closed) return;
      closed = true;
    }
    log.info("shutting down: draining in-flight requests");
    try {
      server.stop();
    } catch (Exception e) {
      log.warn("server stop: {}", e.toString());
    }
    closeQuietly();
    log.info("shut down");
  }

  private void closeQuietly() {
    try {
      client.stop();
    } catch (Exception e) {
      log.warn("upstream client stop: {}", e.toString());
    }
    scheduler.shutdownNow();
    settings.rateLimits.close();
    try {
      rotatorMetrics.close();
    } catch (RuntimeException e) {
      log.warn("metrics close: {}", e.toString());
    }
    try {
      rotator.close();
    } catch (RuntimeException e) {
      log.warn("rotator close: {}", e.toString());
    }
    registry.close();
    try {
      threads.stop();
    } catch (Exception e) {
      log.warn("thread pool stop: {}", e.toString());
    }
  }

  /** The project version, from the jar. */
  public static String version() {
    try (InputStream in = ProxyServer.class.getResourceAsStream("version.properties")) {
      if (in == null) return "unknown";
      Properties p = new Properties();
      p.load(in);
      return p.getProperty("version", "unknown");
    } catch (IOException e) {
      return "unknown";
    }
  }

  /** Java 21+: a virtual-thread-per-task executor, found by reflection; else {@code null}. */
  static Executor virtualThreadExecutor() {
    if (Runtime.version().feature() < 21) return null;
    try {
      return (Executor) Executors.class.getMethod("newVirtualThreadPerTaskExecutor").invoke(null);
    } catch (ReflectiveOperationException | RuntimeException e) {
      return null;
    }
  }

  /** Security headers every response carries. */
  static void securityHeaders(Response response) {
    response.getHeaders().put("X-Content-Type-Options", "nosniff");
    response.getHeaders().put("X-Frame-Options", "DENY");
    response.getHeaders().put("Referrer-Policy", "no-referrer");
  }

  /** The health document for {@code /health/detailed}, and whether the proxy is ready. */
  ObjectNode detailedHealth() {
    ObjectNode body = Problems.JSON.createObjectNode();
    Map<KeyState, Integer> byState = new EnumMap<>(KeyState.class);
    for (KeyState s : KeyState.values()) byState.put(s, 0);
    int usable = 0;
    Instant now = clock.instant();
    List<KeySnapshot> keys = rotator.snapshot();
    for (KeySnapshot k : keys) {
      byState.merge(k.state(), 1, Integer::sum);
      if (k.availableFor("*", now)) usable++;
    }
    boolean storeUp;
    try {
      storeUp = rotator.store().isAvailable();
    } catch (RuntimeException e) {
      storeUp = false;
    }
    boolean ready = usable > 0 && storeUp;
    body.put("status", ready ? "UP" : "DOWN");
    ObjectNode k = body.putObject("keys");
    k.put("total", keys.size());
    k.put("usable", usable);
    ObjectNode states = k.putObject("byState");
    byState.forEach((s, n) -> states.put(s.name(), n));
    ObjectNode breakers = body.putObject("breaker");
    for (String scope : guard.scopes()) breakers.put(scope, guard.state(scope).name());
    if (guard.scopes().isEmpty()) breakers.put("*", guard.state("*").name());
    ObjectNode store = body.putObject("store");
    store.put("status", storeUp ? "UP" : "DOWN");
    store.put("backend", rotator.store().describe());
    body.put("uptimeSeconds", Duration.between(startedAt, now).toSeconds());
    body.put("version", version());
    return body;
  }

  /** Routes requests to the proxy, health, metrics and admin endpoints. */
  private final class Routes extends Handler.Abstract {
    private final GeminiProxy proxy;
    private final AdminApi admin;

    Routes(GeminiProxy proxy, AdminApi admin) {
      this.proxy = proxy;
      this.admin = admin;
    }

    @Override
    public boolean handle(Request request, Response response, Callback callback) {
      String requestId = RequestIds.assign(request);
      response.getHeaders().put(RequestIds.HEADER, requestId);
      securityHeaders(response);
      String path = request.getHttpURI().getPath();
      Settings s = settings;
      if (s.config.corsEnabled() && cors(request, response, callback, s)) return true;
      String method = request.getMethod();
      if ((GeminiProxy.isProxied(path) || path.startsWith("/admin"))
          && !GeminiProxy.isCanonical(path)) {
        Problems.send(request, response, callback, 400, "bad-path", "Bad request path",
            "the path must be canonical: no '.', '..' or empty segments, ';' parameters or"
                + " encoded dots, slashes or backslashes", GeminiProxy.isProxied(path), -1);
        return true;
      }
      if (GeminiProxy.isProxied(path) && !GeminiProxy.METHODS.contains(method)) {
        response.getHeaders().put("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE");
        Problems.send(request, response, callback, 405, "method-not-allowed",
            "Method not allowed", "the Gemini API has no " + (method.length() <= 16 ? method
                : method.substring(0, 16) + "…") + " requests", true, -1);
        return true;
      }
      if (GeminiProxy.isProxied(path)) {
        try {
          proxy.handle(request, response, callback);
        } catch (RuntimeException e) {
          log.atError().addKeyValue("requestId", requestId)
              .log("proxy handler failed: {}", e.getClass().getName());
          if (!response.isCommitted()) {
            Problems.send(request, response, callback, 500, "proxy-error", "Proxy error",
                "the proxy failed to handle the request", true, -1);
          } else {
            callback.failed(e);
          }
        }
        return true;
      }
      if (path.equals("/health") && isGet(method)) {
        json(response, callback, 200, "{\"status\":\"UP\"}");
        return true;
      }
      if (path.equals("/health/detailed") && isGet(method)) {
        ObjectNode body = detailedHealth();
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-store");
        json(response, callback, "UP".equals(body.get("status").asText()) ? 200 : 503,
            body.toString());
        return true;
      }
      if (path.equals("/metrics") && isGet(method)) {
        byte[] text = registry.scrape().getBytes(StandardCharsets.UTF_8);
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8");
        response.getHeaders().put(HttpHeader.CONTENT_LENGTH, text.length);
        response.write(true, ByteBuffer.wrap(text), callback);
        return true;
      }
      if (path.equals("/health") || path.equals("/health/detailed")
          || path.equals("/metrics")) {
        response.getHeaders().put("Allow", "GET, HEAD");
        Problems.send(request, response, callback, 405, "method-not-allowed",
            "Method not allowed", path + " answers GET and HEAD only", false, -1);
        return true;
      }
      if (path.equals("/admin") || path.startsWith("/admin/")) {
        admin.handle(request, response, callback);
        return true;
      }
      Problems.send(request, response, callback, 404, "not-found", "Not found",
          "no route for " + method + " " + path + "; proxied prefixes are /v1beta/, /v1/ and"
              + " /upload/", false, -1);
      return true;
    }

    private boolean isGet(String method) {
      return HttpMethod.GET.is(method) || HttpMethod.HEAD.is(method);
    }

    /** Adds CORS headers; answers preflights. Returns whether the request was answered. */
    private boolean cors(Request request, Response response, Callback callback, Settings s) {
      String origin = request.getHeaders().get(HttpHeader.ORIGIN);
      if (origin == null) return false;
      List<String> allowed = s.config.corsOrigins();
      boolean ok = allowed.contains("*") || allowed.contains(origin);
      if (!ok) return false;
      response.getHeaders().put("Access-Control-Allow-Origin", allowed.contains("*") ? "*"
          : origin);
      response.getHeaders().add(HttpHeader.VARY, "Origin");
      response.getHeaders().put("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
      if (HttpMethod.OPTIONS.is(request.getMethod())
          && request.getHeaders().get("Access-Control-Request-Method") != null) {
        response.getHeaders().put("Access-Control-Allow-Methods",
            "GET, POST, PUT, PATCH, DELETE, OPTIONS");
        response.getHeaders().put("Access-Control-Allow-Headers",
            "Content-Type, Authorization, x-goog-api-key, x-goog-api-client, X-Request-Id,"
                + " X-Goog-Upload-Protocol, X-Goog-Upload-Command, X-Goog-Upload-Offset,"
                + " X-Goog-Upload-Header-Content-Length, X-Goog-Upload-Header-Content-Type");
        response.getHeaders().put("Access-Control-Max-Age", "600");
        response.setStatus(204);
        callback.succeeded();
        return true;
      }
      return false;
    }
  }

  static void json(Response response, Callback callback, int status, String json) {
    json(response, callback, status, json, "application/json");
  }

  static void json(Response response, Callback callback, int status, String json, String type) {
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    response.setStatus(status);
    response.getHeaders().put(HttpHeader.CONTENT_TYPE, type);
    response.getHeaders().put(HttpHeader.CONTENT_LENGTH, bytes.length);
    response.write(true, ByteBuffer.wrap(bytes), callback);
  }

  @Override
  public String toString() {
    return "ProxyServer{" + uri() + "}";
  }

}
