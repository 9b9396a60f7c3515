package dev.geminirotator.standalone;

import dev.geminirotator.core.internal.affinity.ResourceAffinity;
import dev.geminirotator.standalone.gemini.GeminiProxy;
import dev.geminirotator.standalone.gemini.Problems;
import dev.geminirotator.standalone.gemini.ProxyMetrics;
import dev.geminirotator.standalone.gemini.RefusalLog;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.metrics.RotatorMetrics;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.redis.StoreMetrics;
import dev.geminirotator.standalone.admin.AdminApi;
import dev.geminirotator.standalone.admin.RuntimeKeys;
import dev.geminirotator.standalone.config.ClientRateLimits;
import dev.geminirotator.standalone.config.ConfigWatcher;
import dev.geminirotator.standalone.config.LoggingSetup;
import dev.geminirotator.standalone.config.Settings;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.standalone.http.BodyBudget;
import dev.geminirotator.standalone.http.ClientConnection;
import dev.geminirotator.standalone.http.H2cDetector;
import dev.geminirotator.standalone.http.HeaderDeadline;
import dev.geminirotator.standalone.http.HeaderNames;
import dev.geminirotator.standalone.http.Listeners;
import dev.geminirotator.standalone.http.Transport;
import dev.geminirotator.standalone.http.Upstream;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.AdaptiveRecvByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.DefaultHttp2GoAwayFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.FastThreadLocalThread;
import io.netty.util.concurrent.GlobalEventExecutor;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running proxy: a Netty HTTP/1.1 server with the proxied Gemini routes, {@code /health},
 * {@code /health/detailed}, {@code /metrics} and the admin API, the upstream client, the key
 * rotator and the circuit guard. {@link #start} builds and starts everything; {@link #reload}
 * swaps in a new configuration's keys, tokens and limits without dropping a connection;
 * {@link #close} drains in-flight requests and streams up to {@code server.drain-timeout}, then
 * closes the rotator (which flushes its store). Thread-safe.
 *
 * <p>Each client connection lives on one event loop (one per core), and its requests' upstream
 * connections, retries and timers on the same loop: a request never changes thread. Work that may
 * block (the admin API, readiness, the metrics scrape, file pins in a shared store) runs on a
 * small separate pool.
 */
public final class ProxyServer implements AutoCloseable, ConfigWatcher.Reloadable {

  private static final Logger log = LoggerFactory.getLogger(ProxyServer.class);

  private final Transport transport;
  private final EventLoopGroup loops;
  private final Channel serverChannel;
  /** The management listener ({@code server.management-port}), or null. */
  private final Channel managementChannel;
  private final ChannelGroup connections;
  private final Upstream upstream;
  private final ThreadPoolExecutor blocking;
  /**
   * Writes resource pins to a shared store behind the requests that learnt them (one thread, so
   * each pin's writes stay in order); shut down with the proxy.
   */
  private final java.util.concurrent.ExecutorService pinWrites;
  private final Routes routes;
  private final ProxyMetrics metrics;
  private final GeminiKeyRotator rotator;
  private final ResilientCircuitGuard guard;
  private final PrometheusMeterRegistry registry;
  private final RotatorMetrics rotatorMetrics;
  private final Instant startedAt;
  private final Clock clock;
  private final Readiness readiness;
  private volatile Settings settings;
  private final RuntimeKeys runtimeKeys;
  /** Every request body held whole, together ({@code server.body-budget}). */
  private final BodyBudget bodyBudget;
  /** Client connections open now, against {@code server.max-connections}. */
  private final java.util.concurrent.atomic.AtomicInteger clientConnections =
      new java.util.concurrent.atomic.AtomicInteger();
  private final io.micrometer.core.instrument.Counter refusedConnections;
  /** Connections refused since the last warning, and when it was logged (rate-limited). */
  private final java.util.concurrent.atomic.AtomicLong refusedSinceLog =
      new java.util.concurrent.atomic.AtomicLong();
  private final java.util.concurrent.atomic.AtomicLong lastRefusalLog =
      new java.util.concurrent.atomic.AtomicLong(System.nanoTime() - REFUSAL_LOG_INTERVAL_NANOS);
  /** At most one warning about refused connections per this interval. */
  static final long REFUSAL_LOG_INTERVAL_NANOS = TimeUnit.SECONDS.toNanos(10);
  private final Object lifecycle = new Object();
  private boolean closed;

  private final Map<String, String> env;

  private ProxyServer(StandaloneConfig config, Map<String, String> env) throws Exception {
    this.env = Map.copyOf(env);
    // First: a named transport that does not load here fails before the store is opened.
    List<Transport> transports = Transport.candidates(config.server().transport());
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
    this.metrics = new ProxyMetrics(registry);
    this.bodyBudget = new BodyBudget(BodyBudget.resolve(autoIsZero(config.server().bodyBudget())));
    bodyBudget.clientShare(
        BodyBudget.shareFor(bodyBudget.limit(), config.server().maxRequestSize()));
    bodyBudget.bindTo(registry);
    this.refusedConnections = io.micrometer.core.instrument.Counter
        .builder("gemini.proxy.connections.refused")
        .description("Client connections closed at accept: server.max-connections were open")
        .register(registry);
    this.blocking = new ThreadPoolExecutor(8, 8, 30, TimeUnit.SECONDS,
        new LinkedBlockingQueue<>(10_000), r -> {
          Thread t = new Thread(r, "gemini-rotator-blocking");
          t.setDaemon(true);
          return t;
        });
    blocking.allowCoreThreadTimeOut(true);
    this.pinWrites = java.util.concurrent.Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "gemini-rotator-pin-writes");
      t.setDaemon(true);
      return t;
    });

    this.connections = new DefaultChannelGroup("clients", GlobalEventExecutor.INSTANCE);
    try {
      // FastThreadLocalThreads: on any other thread Netty 4.2 pools nothing (its Recycler hands
      // out new buffers, messages and write entries each time, and the pooled allocator keeps no
      // per-thread cache), and every FastThreadLocal lookup goes through a ThreadLocal.
      int threads = Math.max(1, Runtime.getRuntime().availableProcessors());
      Transport.Opened io = Transport.open(transports, t ->
          new MultiThreadIoEventLoopGroup(threads, r -> {
            Thread thread = new FastThreadLocalThread(r, "gemini-rotator-io");
            thread.setDaemon(false);
            return thread;
          }, t.ioHandlerFactory()));
      this.transport = io.transport();
      this.readiness = new Readiness(rotator, guard, clock, startedAt, transport.label());
      this.loops = io.loops();
      this.upstream = new Upstream(config.upstream().baseUrl(), loops, transport.socketChannel(),
          config.upstream().maxConnections(), config.upstream().connectTimeout(),
          config.upstream().idleTimeout(), blocking);
      String basePath = config.upstream().baseUrl().getRawPath();
      GeminiProxy proxy = new GeminiProxy(upstream, rotator, guard, GeminiClassifier.defaults(),
          metrics, blocking, () -> settings, clock,
          ResourceAffinity.of(config.rotator().affinity(), rotator.store(), pinWrites, clock),
          basePath == null ? "" : basePath.replaceAll("/+$", ""));
      AdminApi admin = new AdminApi(rotator, guard, () -> settings, this::reloadFromSource,
          runtimeKeys);
      this.routes = new Routes(() -> settings, proxy, admin, registry, this::detailedHealth,
          blocking);
      StandaloneConfig.Tls tlsConfig = config.server().tls();
      SslContext tls = tlsConfig.keystore() == null ? null
          : Listeners.serverTls(tlsConfig.keystore(), tlsConfig.keystoreType(),
              tlsConfig.keystorePassword() == null ? null : tlsConfig.keystorePassword().reveal());
      long idleMillis = config.server().idleTimeout().toMillis();
      ClientConnection.Limits limits = new ClientConnection.Limits(bodyBudget,
          () -> settings.config.server());
      ServerBootstrap bootstrap = new ServerBootstrap().group(loops)
          .channel(transport.serverChannel())
          .option(ChannelOption.SO_BACKLOG, Listeners.ACCEPT_QUEUE_SIZE)
          .option(ChannelOption.SO_REUSEADDR, true)
          .childOption(ChannelOption.TCP_NODELAY, true)
          .childOption(ChannelOption.ALLOCATOR, Listeners.ALLOCATOR)
          .childOption(ChannelOption.RCVBUF_ALLOCATOR,
              new AdaptiveRecvByteBufAllocator(64, 2048, Listeners.MAX_READ))
          .childHandler(new ChannelInitializer<SocketChannel>() {
            @Override
            protected void initChannel(SocketChannel ch) {
              if (!admitConnection(ch)) return;
              connections.add(ch);
              HeaderDeadline deadline = new HeaderDeadline(config.server().headerTimeout());
              ch.pipeline().addLast(deadline);
              if (tls != null) ch.pipeline().addLast(tls.newHandler(ch.alloc()));
              if (idleMillis > 0) {
                // Reader idle only: an all-idle handler puts a listener on every write.
                ch.pipeline().addLast(new IdleStateHandler(idleMillis, 0, 0,
                    TimeUnit.MILLISECONDS));
              }
              if (tls == null) {
                ch.pipeline().addLast(new H2cDetector(routes, deadline, idleMillis, limits));
              }
              // Pipelined requests wait in ClientConnection; the codec's own limit (128 by
              // default) would close a connection that pipelines more.
              ch.pipeline().addLast(new HttpServerCodec(new HttpDecoderConfig()
                  .setMaxInitialLineLength(Listeners.MAX_REQUEST_LINE)
                  .setMaxHeaderSize(Listeners.MAX_REQUEST_HEAD).setMaxChunkSize(16 * 1024)
                  .setTrailersFactory(HeaderNames.DISCARDED_TRAILERS),
                  Integer.MAX_VALUE));
              ch.pipeline().addLast(new ClientConnection(routes, deadline, limits));
            }
          });
      this.serverChannel =
          Listeners.bind(bootstrap, config.server().host(), config.server().port());
      this.managementChannel = config.server().managementPort() == null ? null
          : managementListener(config, routes.management(), limits);
    } catch (Exception | Error e) {
      closeQuietly();
      throw e;
    }
    if (!config.hasAccessTokens()) {
      log.warn("no access tokens configured: only loopback clients are accepted");
    }
    warnIfBudgetBelowMaxRequest(config);
    log.atInfo().addKeyValue("host", config.server().host()).addKeyValue("port", port())
        .addKeyValue("keys", rotator.snapshot().size()).addKeyValue("version", version())
        .addKeyValue("transport", transport.label())
        .log("gemini-rotator proxy listening on {}", uri());
    if (managementChannel != null) {
      log.atInfo().addKeyValue("managementPort", managementPort())
          .log("/metrics and /health/detailed are served on port {} only", managementPort());
    }
  }

  /**
   * The management listener: plain HTTP/1.1 on {@code server.host} and
   * {@code server.management-port}, answering {@code /health}, {@code /health/detailed} and
   * {@code /metrics} only, on the same event loops.
   */
  private Channel managementListener(StandaloneConfig config, Routes managementRoutes,
      ClientConnection.Limits limits)
      throws java.net.BindException, InterruptedException {
    long idleMillis = config.server().idleTimeout().toMillis();
    return Listeners.bind(new ServerBootstrap().group(loops)
        .channel(transport.serverChannel())
        .option(ChannelOption.SO_BACKLOG, 128)
        .option(ChannelOption.SO_REUSEADDR, true)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childOption(ChannelOption.ALLOCATOR, Listeners.ALLOCATOR)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            connections.add(ch);
            HeaderDeadline deadline = new HeaderDeadline(config.server().headerTimeout());
            ch.pipeline().addLast(deadline);
            if (idleMillis > 0) {
              ch.pipeline().addLast(new IdleStateHandler(idleMillis, 0, 0,
                  TimeUnit.MILLISECONDS));
            }
            ch.pipeline().addLast(new HttpServerCodec(new HttpDecoderConfig()
                .setMaxInitialLineLength(Listeners.MAX_REQUEST_LINE)
                .setMaxHeaderSize(Listeners.MAX_REQUEST_HEAD)
                .setTrailersFactory(HeaderNames.DISCARDED_TRAILERS)));
            ch.pipeline().addLast(new ClientConnection(managementRoutes, deadline, limits));
          }
        }), config.server().host(), config.server().managementPort());
  }

  /**
   * Counts a new client connection against {@code server.max-connections}; past it, closes the
   * connection at once (no byte read or written: whatever it speaks, HTTP/1.1, h2c or TLS, the
   * client sees the connection end and can retry elsewhere) and warns at most once every 10 s.
   */
  private boolean admitConnection(SocketChannel ch) {
    int max = settings.config.server().maxConnections();
    if (clientConnections.incrementAndGet() > max) {
      clientConnections.decrementAndGet();
      refusedConnections.increment();
      long refused = refusedSinceLog.incrementAndGet();
      long now = System.nanoTime();
      long last = lastRefusalLog.get();
      if (now - last >= REFUSAL_LOG_INTERVAL_NANOS && lastRefusalLog.compareAndSet(last, now)) {
        refusedSinceLog.addAndGet(-refused);
        log.atWarn().addKeyValue("refused", refused).addKeyValue("max", max)
            .log("refused {} client connection(s): server.max-connections ({}) are open", refused,
                max);
      }
      ch.close();
      return false;
    }
    ch.closeFuture().addListener(f -> clientConnections.decrementAndGet());
    return true;
  }

  /** Client connections open now. For tests. */
  int clientConnections() {
    return clientConnections.get();
  }

  /** Body bytes of pipelined requests waiting for their turn, over every connection. For tests. */
  long queuedBodyBytes() throws Exception {
    long n = 0;
    for (Channel ch : connections) {
      ClientConnection c = ch.pipeline().get(ClientConnection.class);
      if (c != null) n += ch.eventLoop().submit(c::queuedBodyBytes).get();
    }
    return n;
  }

  /**
   * Memory held for pipelined requests waiting for their turn, over every connection: the
   * capacity of every distinct buffer their queued body pieces keep alive (a piece is a slice of
   * the read that brought it). For tests.
   */
  long queuedBufferBytes() throws Exception {
    long n = 0;
    for (Channel ch : connections) {
      ClientConnection c = ch.pipeline().get(ClientConnection.class);
      if (c != null) n += ch.eventLoop().submit(c::queuedBufferBytes).get();
    }
    return n;
  }

  /** The request body budget. For tests. */
  BodyBudget bodyBudget() {
    return bodyBudget;
  }

  private void warnIfBudgetBelowMaxRequest(StandaloneConfig config) {
    if (bodyBudget.limit() < 2 * config.server().maxRequestSize()) {
      log.atWarn().addKeyValue("bodyBudget", bodyBudget.limit())
          .addKeyValue("maxRequestSize", config.server().maxRequestSize())
          .log("server.body-budget ({} bytes, half the heap) is below twice"
              + " server.max-request-size ({} bytes; a body's growing buffer briefly holds up to"
              + " twice its size): bodies near the limit may get 503; raise -Xmx or lower"
              + " server.max-request-size", bodyBudget.limit(), config.server().maxRequestSize());
    }
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
    return ((java.net.InetSocketAddress) serverChannel.localAddress()).getPort();
  }

  /**
   * The bound management port ({@code server.management-port}), or -1 when {@code /metrics} and
   * {@code /health/detailed} are served on {@link #port()}.
   */
  public int managementPort() {
    return managementChannel == null ? -1
        : ((java.net.InetSocketAddress) managementChannel.localAddress()).getPort();
  }

  /** Stops or resumes accepting connections (tests fill the listen backlog). */
  void accepting(boolean on) {
    serverChannel.config().setAutoRead(on);
  }

  /** The base URI clients use. */
  /** {@code server.body-budget} as {@link BodyBudget#resolve} takes it: 0 for auto. */
  private static long autoIsZero(Long bodyBudget) {
    return bodyBudget == null ? 0 : bodyBudget;
  }

  public URI uri() {
    Settings s = settings;
    String host = s.config.server().host();
    if (host.contains(":")) host = "[" + host + "]";
    return URI.create((s.config.server().tls().keystore() != null ? "https" : "http") + "://"
        + host + ":" + port());
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
   * and admin tokens, limits and the attempt policy. Listening address, transport, TLS, upstream,
   * storage and breaker settings need a restart; a change to them is logged and ignored.
   */
  @Override
  public void reload(StandaloneConfig next) {
    synchronized (lifecycle) {
      StandaloneConfig current = settings.config;
      List<String> needRestart = new java.util.ArrayList<>();
      if (!current.server().host().equals(next.server().host())) needRestart.add("server.host");
      if (current.server().port() != next.server().port()) needRestart.add("server.port");
      if (!java.util.Objects.equals(current.server().managementPort(),
          next.server().managementPort())) {
        needRestart.add("server.management-port");
      }
      if (!current.server().transport().equals(next.server().transport())) {
        needRestart.add("server.transport");
      }
      if (!current.upstream().baseUrl().equals(next.upstream().baseUrl())) {
        needRestart.add("upstream.base-url");
      }
      if (!current.rotator().storage().equals(next.rotator().storage())) {
        needRestart.add("storage");
      }
      if (current.logging().json() != next.logging().json()) needRestart.add("logging.json");
      if (!needRestart.isEmpty()) {
        log.atWarn().addKeyValue("settings", needRestart)
            .log("reload: changes to {} take effect after a restart; the running values are"
                + " kept", String.join(", ", needRestart));
      }
      if (!current.logging().level().equals(next.logging().level())) {
        LoggingSetup.applyLevel(next.logging().level(), () -> log.atInfo()
            .addKeyValue("from", current.logging().level())
            .addKeyValue("to", next.logging().level())
            .log("reload: logging.level changed from {} to {}", current.logging().level(),
                next.logging().level()));
      }
      runtimeKeys.applyFile(next.rotator().keys());
      ClientRateLimits before = settings.rateLimits;
      settings = new Settings(next, before, rotator.store());
      bodyBudget.limit(BodyBudget.resolve(autoIsZero(next.server().bodyBudget())));
      bodyBudget.clientShare(
          BodyBudget.shareFor(bodyBudget.limit(), next.server().maxRequestSize()));
      warnIfBudgetBelowMaxRequest(next);
      if (settings.rateLimits != before) before.close();
      log.atInfo().addKeyValue("keys", next.rotator().keys().size())
          .log("configuration reloaded");
    }
  }

  /** Re-reads the configuration file it was started with; for {@code POST /admin/reload}. */
  private StandaloneConfig reloadFromSource() {
    StandaloneConfig current = settings.config;
    StandaloneConfig next = StandaloneConfig.load(current.source(), env,
        new StandaloneConfig.Overrides(current.server().host(), current.server().port()));
    reload(next);
    return next;
  }

  /**
   * Stops accepting connections, lets in-flight requests and streams finish for up to
   * {@code server.drain-timeout} (new requests on open connections get 503 meanwhile), then closes
   * every connection, the upstream client and the rotator.
   */
  @Override
  public void close() {
    synchronized (lifecycle) {
      if (closed) return;
      closed = true;
    }
    log.info("shutting down: draining in-flight requests");
    serverChannel.close().awaitUninterruptibly();
    if (managementChannel != null) managementChannel.close().awaitUninterruptibly();
    routes.drain();
    for (Channel ch : connections) {
      ch.eventLoop().execute(() -> {
        ClientConnection c = ch.pipeline().get(ClientConnection.class);
        if (c != null) c.drain();
        Http2FrameCodec h2 = ch.pipeline().get(Http2FrameCodec.class);
        if (h2 != null) {
          // HTTP/2: no new streams (clients go elsewhere); open ones finish within the drain.
          h2.gracefulShutdownTimeoutMillis(settings.config.server().drainTimeout().toMillis());
          ch.writeAndFlush(new DefaultHttp2GoAwayFrame(Http2Error.NO_ERROR));
        }
      });
    }
    long deadline = System.nanoTime() + settings.config.server().drainTimeout().toNanos();
    while (metrics.inFlight() > 0 && System.nanoTime() < deadline) {
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        break;
      }
    }
    if (metrics.inFlight() > 0) {
      log.warn("drain timeout: closing {} requests still in flight", metrics.inFlight());
    }
    connections.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    closeQuietly();
    log.info("shut down");
  }

  private void closeQuietly() {
    if (upstream != null) upstream.close();
    if (loops != null) {
      loops.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
    blocking.shutdownNow();
    pinWrites.shutdown(); // the pins learnt so far still reach the store
    try {
      if (!pinWrites.awaitTermination(2, TimeUnit.SECONDS)) pinWrites.shutdownNow();
    } catch (InterruptedException e) {
      pinWrites.shutdownNow();
      Thread.currentThread().interrupt();
    }
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

  /** The readiness document for {@code /health/detailed}: see {@link Readiness}. */
  ObjectNode detailedHealth() {
    return readiness.document();
  }

  @Override
  public String toString() {
    return "ProxyServer{" + uri() + "}";
  }

}
