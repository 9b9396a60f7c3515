package dev.geminirotator.standalone;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.config.ConfigException;
import dev.geminirotator.core.config.ConfigLoader;
import dev.geminirotator.core.config.ConfigNode;
import dev.geminirotator.core.config.FieldDoc;
import dev.geminirotator.core.config.RotatorConfig;
import dev.geminirotator.standalone.http.ClientConnection;
import dev.geminirotator.standalone.http.ClientIdentity;
import dev.geminirotator.standalone.http.Transport;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The standalone proxy's whole configuration: the rotator's sections (read by core's
 * {@link ConfigLoader}) plus the proxy's own {@code server}, {@code upstream}, {@code access},
 * {@code admin}, {@code rate-limit}, {@code cors} and {@code logging} sections, read from the same
 * YAML tree so unknown fields and bad values in any section are reported together.
 *
 * <p>Precedence is defaults &lt; file &lt; environment ({@code GEMINI_ROTATOR_<PATH>},
 * {@code GEMINI_API_KEYS}) &lt; command line ({@link Overrides}). Immutable and thread-safe.
 */
public final class StandaloneConfig implements ClientConnection.BodyPace {

  public static final String DEFAULT_HOST = "127.0.0.1";
  public static final int DEFAULT_PORT = 4806;
  public static final long DEFAULT_MAX_REQUEST_SIZE = 20L * 1024 * 1024;
  /**
   * The largest {@code server.max-request-size}: a body is held in one array, and Gemini's own
   * inline request limit is far below it (larger files go through the Files API).
   */
  public static final long MAX_MAX_REQUEST_SIZE = 1L << 30;
  public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(5);
  public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
  public static final Duration DEFAULT_HEADER_TIMEOUT = Duration.ofSeconds(10);
  /**
   * About 13 MB of heap when all are idle keep-alive connections (3.2 KB each, measured with the
   * README's flags): room beside the body budget at {@code -Xmx128m}.
   */
  public static final int DEFAULT_MAX_CLIENT_CONNECTIONS = 4096;
  /**
   * With {@link #DEFAULT_BODY_MIN_RATE}, a body of the default maximum size must arrive within
   * 60 s + 20 MB at 256 KB/s = 140 s: a 2 Mbit/s uplink manages it.
   */
  public static final Duration DEFAULT_BODY_TIMEOUT = Duration.ofSeconds(60);
  public static final long DEFAULT_BODY_MIN_RATE = 256 * 1024;
  public static final String DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com";
  public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
  public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofMinutes(10);
  public static final Duration DEFAULT_UPSTREAM_IDLE_TIMEOUT = Duration.ofMinutes(5);
  public static final int DEFAULT_MAX_CONNECTIONS = 512;
  public static final String DEFAULT_LOG_LEVEL = "INFO";

  /** The environment variable holding comma-separated access tokens. */
  public static final String ACCESS_TOKENS_ENV = "GEMINI_ROTATOR_ACCESS_TOKENS";

  private static final Pattern SIZE = Pattern.compile("(\\d{1,15})\\s*(b|kb|k|mb|m|gb|g)?",
      Pattern.CASE_INSENSITIVE);

  private final RotatorConfig rotator;
  private final String host;
  private final int port;
  private final long maxRequestSize;
  private final Duration idleTimeout;
  private final Duration drainTimeout;
  private final Duration headerTimeout;
  private final int maxClientConnections;
  private final long bodyBudget;
  private final Duration bodyTimeout;
  private final long bodyMinRate;
  private final String transport;
  private final boolean allowPublicWithoutTokens;
  private final List<String> trustedProxies;
  private final String tlsKeystore;
  private final String tlsKeystorePassword;
  private final String tlsKeystoreType;
  private final Integer managementPort;
  private final String metricsToken;
  private final URI upstreamBaseUrl;
  private final Duration connectTimeout;
  private final Duration requestTimeout;
  private final Duration upstreamIdleTimeout;
  private final int maxConnections;
  private final List<String> accessTokens;
  private final String adminToken;
  private final int requestsPerMinute;
  private final boolean corsEnabled;
  private final List<String> corsOrigins;
  private final String logLevel;
  private final boolean logJson;
  private final Path source;

  private StandaloneConfig(Reader r) {
    this.rotator = r.rotator;
    this.host = r.host;
    this.port = r.port;
    this.maxRequestSize = r.maxRequestSize;
    this.idleTimeout = r.idleTimeout;
    this.drainTimeout = r.drainTimeout;
    this.headerTimeout = r.headerTimeout;
    this.maxClientConnections = r.maxClientConnections;
    this.bodyBudget = r.bodyBudget;
    this.bodyTimeout = r.bodyTimeout;
    this.bodyMinRate = r.bodyMinRate;
    this.transport = r.transport;
    this.allowPublicWithoutTokens = r.allowPublicWithoutTokens;
    this.trustedProxies = List.copyOf(r.trustedProxies);
    this.tlsKeystore = r.tlsKeystore;
    this.tlsKeystorePassword = r.tlsKeystorePassword;
    this.tlsKeystoreType = r.tlsKeystoreType;
    this.managementPort = r.managementPort;
    this.metricsToken = r.metricsToken;
    this.upstreamBaseUrl = r.upstreamBaseUrl;
    this.connectTimeout = r.connectTimeout;
    this.requestTimeout = r.requestTimeout;
    this.upstreamIdleTimeout = r.upstreamIdleTimeout;
    this.maxConnections = r.maxConnections;
    this.accessTokens = List.copyOf(r.accessTokens);
    this.adminToken = r.adminToken;
    this.requestsPerMinute = r.requestsPerMinute;
    this.corsEnabled = r.corsEnabled;
    this.corsOrigins = List.copyOf(r.corsOrigins);
    this.logLevel = r.logLevel;
    this.logJson = r.logJson;
    this.source = r.source;
  }

  /**
   * Command-line values that win over file and environment; {@code null} fields are unset.
   * Immutable.
   */
  public record Overrides(String host, Integer port) {
    /** No overrides. */
    public static final Overrides NONE = new Overrides(null, null);
  }

  /**
   * Loads the configuration.
   *
   * @param file the YAML file, or {@code null} to read defaults and the environment only
   * @param env the environment
   * @param overrides command-line values
   * @throws ConfigException listing every problem, each naming its field
   */
  public static StandaloneConfig load(Path file, Map<String, String> env, Overrides overrides) {
    ConfigLoader loader = ConfigLoader.builder().env(env).build();
    ConfigNode root = file != null ? loader.root(file) : loader.root("", null);
    Reader r = new Reader();
    r.source = file;
    r.read(root, loader, Objects.requireNonNullElse(overrides, Overrides.NONE));
    root.finish();
    r.crossCheck(file);
    return new StandaloneConfig(r);
  }

  /** Every field of the proxy's own sections, with type, default and environment variable. */
  public static List<FieldDoc> fields() {
    ConfigNode root = ConfigNode.describe();
    new Reader().readOwn(root);
    return root.fields();
  }

  /** Reads and validates every proxy section; collects errors in the tree. */
  private static final class Reader {
    RotatorConfig rotator;
    String host;
    int port;
    long maxRequestSize;
    Duration idleTimeout;
    Duration drainTimeout;
    Duration headerTimeout;
    int maxClientConnections;
    long bodyBudget;
    Duration bodyTimeout;
    long bodyMinRate;
    String transport;
    boolean allowPublicWithoutTokens;
    List<String> trustedProxies = List.of();
    String tlsKeystore;
    String tlsKeystorePassword;
    String tlsKeystoreType;
    Integer managementPort;
    String metricsToken;
    URI upstreamBaseUrl;
    Duration connectTimeout;
    Duration requestTimeout;
    Duration upstreamIdleTimeout;
    int maxConnections;
    List<String> accessTokens = new ArrayList<>();
    String adminToken;
    int requestsPerMinute;
    boolean corsEnabled;
    List<String> corsOrigins = List.of();
    String logLevel;
    boolean logJson;
    Path source;

    void read(ConfigNode root, ConfigLoader loader, Overrides overrides) {
      rotator = loader.readRotator(root);
      readOwn(root);
      if (overrides.host() != null) host = overrides.host();
      if (overrides.port() != null) {
        if (overrides.port() < 0 || overrides.port() > 65535) {
          root.error("--port must be between 0 and 65535 but was " + overrides.port());
        } else {
          port = overrides.port();
        }
      }
    }

    void readOwn(ConfigNode root) {
      ConfigNode server = root.child("server");
      host = server.string("host", DEFAULT_HOST);
      port = server.integer("port", DEFAULT_PORT);
      if (port < 0 || port > 65535) {
        server.error("server.port must be between 0 and 65535 but was " + port);
      }
      maxRequestSize = server.value("max-request-size", "size (20MB, 512KB, 1048576)",
          DEFAULT_MAX_REQUEST_SIZE, StandaloneConfig::parseSize);
      if (maxRequestSize > MAX_MAX_REQUEST_SIZE) {
        server.error("server.max-request-size must be at most " + MAX_MAX_REQUEST_SIZE
            + " bytes (1GB) but was " + maxRequestSize + ": bodies are held whole in memory;"
            + " send larger files through the Files API");
        maxRequestSize = DEFAULT_MAX_REQUEST_SIZE;
      }
      idleTimeout = positive(server, "idle-timeout", DEFAULT_IDLE_TIMEOUT);
      drainTimeout = notNegative(server, "drain-timeout", DEFAULT_DRAIN_TIMEOUT);
      headerTimeout = notNegative(server, "header-timeout", DEFAULT_HEADER_TIMEOUT);
      maxClientConnections = server.integer("max-connections", DEFAULT_MAX_CLIENT_CONNECTIONS);
      if (maxClientConnections < 1) {
        server.error("server.max-connections must be >= 1 but was " + maxClientConnections);
        maxClientConnections = DEFAULT_MAX_CLIENT_CONNECTIONS;
      }
      String budget = server.value("body-budget", "size or auto (half the heap)", "auto",
          text -> text.trim().equalsIgnoreCase("auto") ? "auto"
              : Long.toString(parseSize(text)));
      bodyBudget = budget.equals("auto") ? 0 : Long.parseLong(budget);
      bodyTimeout = notNegative(server, "body-timeout", DEFAULT_BODY_TIMEOUT);
      bodyMinRate = server.value("body-min-rate", "size per second (256KB; 0 turns it off)",
          DEFAULT_BODY_MIN_RATE, text -> text.trim().equals("0") ? 0L : parseSize(text));
      transport = server.string("transport", "auto").toLowerCase(Locale.ROOT);
      if (!Transport.NAMES.contains(transport)) {
        server.error("server.transport must be one of " + String.join(", ", Transport.NAMES)
            + " but was " + transport);
        transport = "auto";
      }
      allowPublicWithoutTokens = server.bool("allow-public-without-tokens", false);
      trustedProxies = server.stringList("trusted-proxies", List.of());
      for (int i = 0; i < trustedProxies.size(); i++) {
        if (!ClientIdentity.validProxyEntry(trustedProxies.get(i))) {
          server.error("server.trusted-proxies[" + i + "] must be an IP address or CIDR range"
              + " (10.0.0.0/8) but was " + trustedProxies.get(i));
        }
      }
      managementPort = server.integer("management-port", null);
      if (managementPort != null && (managementPort < 0 || managementPort > 65535)) {
        server.error("server.management-port must be between 0 and 65535 (or unset to serve"
            + " /metrics and /health/detailed on server.port) but was " + managementPort);
        managementPort = null;
      }
      metricsToken = server.secret("metrics-token");
      if (metricsToken != null && metricsToken.isBlank()) metricsToken = null;
      if (metricsToken != null && metricsToken.length() < 8) {
        server.error("server.metrics-token must be at least 8 characters long");
      }
      ConfigNode tls = server.child("tls");
      tlsKeystore = tls.string("keystore", null);
      if (tlsKeystore != null && tlsKeystore.isBlank()) tlsKeystore = null;
      tlsKeystorePassword = tls.secret("keystore-password");
      if (tlsKeystorePassword != null && tlsKeystorePassword.isEmpty()) tlsKeystorePassword = null;
      tlsKeystoreType = tls.string("keystore-type", "PKCS12");
      if (tlsKeystore != null && !tls.isDescribing()) {
        Path p = tls.baseDir() != null ? tls.baseDir().resolve(tlsKeystore) : Path.of(tlsKeystore);
        if (!java.nio.file.Files.isReadable(p)) {
          tls.error("server.tls.keystore cannot be read: " + tlsKeystore);
        }
        tlsKeystore = p.toString();
      }

      ConfigNode upstream = root.child("upstream");
      upstreamBaseUrl = upstream.value("base-url", "URL", URI.create(DEFAULT_BASE_URL),
          StandaloneConfig::parseBaseUrl);
      connectTimeout = positive(upstream, "connect-timeout", DEFAULT_CONNECT_TIMEOUT);
      requestTimeout = notNegative(upstream, "request-timeout", DEFAULT_REQUEST_TIMEOUT);
      upstreamIdleTimeout = positive(upstream, "idle-timeout", DEFAULT_UPSTREAM_IDLE_TIMEOUT);
      maxConnections = upstream.integer("max-connections", DEFAULT_MAX_CONNECTIONS);
      if (maxConnections < 1) {
        upstream.error("upstream.max-connections must be >= 1 but was " + maxConnections);
      }

      ConfigNode access = root.child("access");
      accessTokens = new ArrayList<>();
      for (ConfigNode entry : access.list("tokens", ACCESS_TOKENS_ENV)) {
        String token = entry.asSecret();
        if (token == null || token.isBlank()) continue;
        if (token.length() < 8) {
          entry.error(entry.path() + " must be at least 8 characters long");
        } else {
          accessTokens.add(token);
        }
      }

      ConfigNode admin = root.child("admin");
      adminToken = admin.secret("token");
      if (adminToken != null && adminToken.isBlank()) adminToken = null;
      if (adminToken != null && adminToken.length() < 8) {
        admin.error("admin.token must be at least 8 characters long");
      }

      ConfigNode rate = root.child("rate-limit");
      requestsPerMinute = rate.integer("requests-per-minute", 0);
      if (requestsPerMinute < 0) {
        rate.error("rate-limit.requests-per-minute must be >= 0 (0 turns it off) but was "
            + requestsPerMinute);
      }

      ConfigNode cors = root.child("cors");
      corsEnabled = cors.bool("enabled", false);
      corsOrigins = cors.stringList("allowed-origins", List.of("*"));

      ConfigNode logging = root.child("logging");
      logLevel = logging.string("level", DEFAULT_LOG_LEVEL).toUpperCase(Locale.ROOT);
      if (!List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF").contains(logLevel)) {
        logging.error("logging.level must be one of trace, debug, info, warn, error, off but was "
            + logLevel.toLowerCase(Locale.ROOT));
        logLevel = DEFAULT_LOG_LEVEL;
      }
      logJson = logging.bool("json", true);
    }

    /** Rules across sections, checked once every field parsed. */
    void crossCheck(Path file) {
      if (managementPort != null && managementPort != 0 && managementPort == port) {
        throw new ConfigException(file == null ? null : file.toString(), List.of(
            "server.management-port must differ from server.port but both are " + port
                + ": pick another port, or unset server.management-port to serve /metrics and"
                + " /health/detailed on server.port"));
      }
      if (bodyBudget > 0 && bodyBudget < 2 * maxRequestSize) {
        // A body's buffer grows as it arrives: while the last array is filled from the one
        // before, one body briefly holds up to twice its size.
        throw new ConfigException(file == null ? null : file.toString(), List.of(
            "server.body-budget (" + bodyBudget + " bytes) must be at least twice"
                + " server.max-request-size (" + maxRequestSize + " bytes), or a body near"
                + " the size limit gets 503 while its buffer grows: raise it, or set it to auto"));
      }
      if (accessTokens.isEmpty() && !allowPublicWithoutTokens && !isLoopback(host)) {
        throw new ConfigException(file == null ? null : file.toString(), List.of(
            "server.host is " + host + " (not loopback) but no access tokens are configured:"
                + " set access.tokens or " + ACCESS_TOKENS_ENV
                + ", or set server.allow-public-without-tokens: true"));
      }
    }

    private static Duration positive(ConfigNode node, String name, Duration def) {
      Duration d = node.duration(name, def);
      if (d.isNegative() || d.isZero()) {
        node.error(qualify(node, name) + " must be positive but was " + d);
        return def;
      }
      return d;
    }

    private static Duration notNegative(ConfigNode node, String name, Duration def) {
      Duration d = node.duration(name, def);
      if (d.isNegative()) {
        node.error(qualify(node, name) + " must not be negative but was " + d);
        return def;
      }
      return d;
    }

    private static String qualify(ConfigNode node, String name) {
      return node.path().isEmpty() ? name : node.path() + "." + name;
    }
  }

  static boolean isLoopback(String host) {
    if (host == null) return false;
    String h = host.trim().toLowerCase(Locale.ROOT);
    return h.equals("localhost") || h.startsWith("127.") || h.equals("::1") || h.equals("[::1]");
  }

  static long parseSize(String text) {
    Matcher m = SIZE.matcher(text.trim());
    if (!m.matches()) {
      throw new IllegalArgumentException("must be a size such as 20MB, 512KB or 1048576");
    }
    long n = Long.parseLong(m.group(1));
    String unit = m.group(2) == null ? "b" : m.group(2).toLowerCase(Locale.ROOT);
    long mult = switch (unit) {
      case "k", "kb" -> 1024L;
      case "m", "mb" -> 1024L * 1024;
      case "g", "gb" -> 1024L * 1024 * 1024;
      default -> 1L;
    };
    long size = n * mult;
    if (size < 1 || size > Integer.MAX_VALUE - 16) {
      throw new IllegalArgumentException("must be between 1 byte and 2GB");
    }
    return size;
  }

  static URI parseBaseUrl(String text) {
    URI uri;
    try {
      uri = URI.create(text.trim());
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("must be an http(s) URL");
    }
    if (uri.getScheme() == null || !(uri.getScheme().equals("http")
        || uri.getScheme().equals("https")) || uri.getHost() == null) {
      throw new IllegalArgumentException("must be an http(s) URL such as " + DEFAULT_BASE_URL);
    }
    if (uri.getRawQuery() != null || uri.getRawUserInfo() != null) {
      throw new IllegalArgumentException("must not carry a query or user info");
    }
    String s = uri.toString();
    return URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
  }

  /** The rotator's sections: keys, strategy, policies, storage. */
  public RotatorConfig rotator() {
    return rotator;
  }

  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  /** The largest request body accepted, in bytes; larger bodies get 413. */
  public long maxRequestSize() {
    return maxRequestSize;
  }

  public Duration idleTimeout() {
    return idleTimeout;
  }

  /** How long shutdown waits for in-flight requests and streams. */
  public Duration drainTimeout() {
    return drainTimeout;
  }

  /**
   * How long a connection may take to deliver a complete request head, from its first bytes;
   * then it is closed. Zero disables the deadline. See {@code HeaderDeadline}.
   */
  public Duration headerTimeout() {
    return headerTimeout;
  }

  /**
   * Client connections open at once; past it a new connection is closed as soon as it is
   * accepted (see {@code ProxyServer}).
   */
  public int maxClientConnections() {
    return maxClientConnections;
  }

  /**
   * The bytes all request bodies held for replay may take together, or 0 for the default (half
   * of the heap). See {@code BodyBudget}.
   */
  public long bodyBudget() {
    return bodyBudget;
  }

  /**
   * How long a request body may take beyond its size at {@link #bodyMinRate()}: a body must
   * arrive whole within this plus its size (its declared length, or what arrived of a chunked
   * one) divided by the rate, from the end of the read that brought its head (or from when it is
   * due: 100 Continue, or its turn after a pipelined request); then 408. Zero disables it.
   */
  @Override
  public Duration bodyTimeout() {
    return bodyTimeout;
  }

  /**
   * Bytes per second a request body's size earns beyond {@link #bodyTimeout()}: the slowest
   * average rate a large body may arrive at. Zero gives every body just {@link #bodyTimeout()}.
   */
  @Override
  public long bodyMinRate() {
    return bodyMinRate;
  }

  /**
   * The socket I/O to use: {@code auto} (io_uring, else epoll, else NIO), {@code io_uring},
   * {@code epoll} or {@code nio}. See {@code Transport}.
   */
  public String transport() {
    return transport;
  }

  public boolean allowPublicWithoutTokens() {
    return allowPublicWithoutTokens;
  }

  /** Addresses or CIDR ranges whose {@code X-Forwarded-For} is believed. */
  public List<String> trustedProxies() {
    return trustedProxies;
  }

  /** The TLS keystore path, or {@code null} for plain HTTP. */
  public String tlsKeystore() {
    return tlsKeystore;
  }

  String tlsKeystorePassword() {
    return tlsKeystorePassword;
  }

  public String tlsKeystoreType() {
    return tlsKeystoreType;
  }

  /**
   * The port of the management listener that serves {@code /metrics}, {@code /health} and
   * {@code /health/detailed} instead of {@code server.port}, or {@code null} when they are served
   * on {@code server.port}. Zero picks a free port.
   */
  public Integer managementPort() {
    return managementPort;
  }

  /** The bearer token {@code /metrics} requires, or {@code null}; never printed. */
  String metricsToken() {
    return metricsToken;
  }

  /** Whether {@code /metrics} requires a bearer token. */
  public boolean metricsTokenRequired() {
    return metricsToken != null;
  }

  /** Gemini's base URL, without a trailing slash. */
  public URI upstreamBaseUrl() {
    return upstreamBaseUrl;
  }

  public Duration connectTimeout() {
    return connectTimeout;
  }

  /** The longest one upstream exchange may take, streams included; zero for no limit. */
  public Duration requestTimeout() {
    return requestTimeout;
  }

  public Duration upstreamIdleTimeout() {
    return upstreamIdleTimeout;
  }

  public int maxConnections() {
    return maxConnections;
  }

  /** Access tokens clients present; package-private so they never leak into output. */
  List<String> accessTokens() {
    return accessTokens;
  }

  /** Whether any access token is configured. */
  public boolean hasAccessTokens() {
    return !accessTokens.isEmpty();
  }

  String adminToken() {
    return adminToken;
  }

  /** Admin tokens shorter than this are weak: {@code --validate} and start-up warn about them. */
  public static final int RECOMMENDED_ADMIN_TOKEN_LENGTH = 24;

  /**
   * Things that are valid but unwise, one sentence each, never quoting a secret: an admin token
   * shorter than {@value #RECOMMENDED_ADMIN_TOKEN_LENGTH} characters.
   */
  public List<String> warnings() {
    List<String> out = new ArrayList<>();
    if (adminToken != null && adminToken.length() < RECOMMENDED_ADMIN_TOKEN_LENGTH) {
      out.add("admin.token is weak: " + adminToken.length() + " characters; use at least "
          + RECOMMENDED_ADMIN_TOKEN_LENGTH + " random characters (e.g. openssl rand -hex 24)");
    }
    return out;
  }

  /** Whether the admin API is on (an admin token is configured). */
  public boolean adminEnabled() {
    return adminToken != null;
  }

  /** Requests per minute per client; 0 turns the limit off. */
  public int requestsPerMinute() {
    return requestsPerMinute;
  }

  public boolean corsEnabled() {
    return corsEnabled;
  }

  public List<String> corsOrigins() {
    return corsOrigins;
  }

  public String logLevel() {
    return logLevel;
  }

  public boolean logJson() {
    return logJson;
  }

  /** The file this configuration came from, or {@code null}. */
  public Path source() {
    return source;
  }

  /** The effective configuration as YAML, every secret masked. */
  public String toMaskedYaml() {
    StringBuilder sb = new StringBuilder();
    sb.append("# effective configuration (secrets masked)\n");
    sb.append("keys:\n");
    for (ApiKey k : rotator.keys()) {
      sb.append("  - id: ").append(k.id()).append("  # ").append(k.masked())
          .append(", weight ").append(k.weight());
      if (k.project() != null) sb.append(", project ").append(k.project());
      sb.append('\n');
    }
    sb.append("strategy: ").append(rotator.strategy()).append('\n');
    sb.append("storage: ").append(RotatorConfig.redact(rotator.storage())).append('\n');
    sb.append("# health: ").append(rotator.health()).append('\n');
    sb.append("# cooldown: ").append(rotator.cooldown()).append('\n');
    sb.append("# attempts: ").append(rotator.attempts()).append('\n');
    sb.append("# breaker: ").append(rotator.breaker()).append('\n');
    sb.append("server:\n");
    sb.append("  host: ").append(host).append('\n');
    sb.append("  port: ").append(port).append('\n');
    sb.append("  max-request-size: ").append(maxRequestSize).append('\n');
    sb.append("  idle-timeout: ").append(idleTimeout).append('\n');
    sb.append("  drain-timeout: ").append(drainTimeout).append('\n');
    sb.append("  header-timeout: ").append(headerTimeout).append('\n');
    sb.append("  max-connections: ").append(maxClientConnections).append('\n');
    sb.append("  body-budget: ").append(bodyBudget == 0 ? "auto" : bodyBudget).append('\n');
    sb.append("  body-timeout: ").append(bodyTimeout).append('\n');
    sb.append("  body-min-rate: ").append(bodyMinRate).append('\n');
    sb.append("  transport: ").append(transport).append('\n');
    sb.append("  allow-public-without-tokens: ").append(allowPublicWithoutTokens).append('\n');
    sb.append("  trusted-proxies: ").append(trustedProxies).append('\n');
    sb.append("  management-port: ").append(managementPort == null ? "" : managementPort)
        .append('\n');
    sb.append("  metrics-token: ").append(metricsToken == null ? "" : "****")
        .append('\n');
    sb.append("  tls:\n");
    sb.append("    keystore: ").append(tlsKeystore == null ? "" : tlsKeystore).append('\n');
    sb.append("    keystore-password: ").append(tlsKeystorePassword == null ? "" : "****")
        .append('\n');
    sb.append("    keystore-type: ").append(tlsKeystoreType).append('\n');
    sb.append("upstream:\n");
    sb.append("  base-url: ").append(upstreamBaseUrl).append('\n');
    sb.append("  connect-timeout: ").append(connectTimeout).append('\n');
    sb.append("  request-timeout: ").append(requestTimeout).append('\n');
    sb.append("  idle-timeout: ").append(upstreamIdleTimeout).append('\n');
    sb.append("  max-connections: ").append(maxConnections).append('\n');
    sb.append("access:\n  tokens: [");
    for (int i = 0; i < accessTokens.size(); i++) {
      sb.append(i == 0 ? "" : ", ").append(ApiKey.mask(accessTokens.get(i)));
    }
    sb.append("]\n");
    sb.append("admin:\n  token: ").append(adminToken == null ? "" : ApiKey.mask(adminToken))
        .append('\n');
    sb.append("rate-limit:\n  requests-per-minute: ").append(requestsPerMinute).append('\n');
    sb.append("cors:\n  enabled: ").append(corsEnabled).append("\n  allowed-origins: ")
        .append(corsOrigins).append('\n');
    sb.append("logging:\n  level: ").append(logLevel.toLowerCase(Locale.ROOT))
        .append("\n  json: ").append(logJson).append('\n');
    return sb.toString();
  }

  @Override
  public String toString() {
    return "StandaloneConfig{" + host + ":" + port + ", upstream=" + upstreamBaseUrl + ", keys="
        + rotator.keys().size() + ", tokens=" + accessTokens.size() + ", admin="
        + (adminToken != null) + '}';
  }
}
