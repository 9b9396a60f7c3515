package dev.geminirotator.standalone.config;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.config.ConfigException;
import dev.geminirotator.config.ConfigLoader;
import dev.geminirotator.config.ConfigNode;
import dev.geminirotator.config.FieldDoc;
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

  StandaloneConfig(ConfigReader r) {
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
    ConfigReader r = new ConfigReader();
    r.source = file;
    r.read(root, loader, Objects.requireNonNullElse(overrides, Overrides.NONE));
    root.finish();
    r.crossCheck(file);
    return new StandaloneConfig(r);
  }

  /** Every field of the proxy's own sections, with type, default and environment variable. */
  public static List<FieldDoc> fields() {
    ConfigNode root = ConfigNode.describe();
    new ConfigReader().readOwn(root);
    return root.fields();
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

  /** The key store's password, or {@code null}: a secret, never logged or shown. */
  public String tlsKeystorePassword() {
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
