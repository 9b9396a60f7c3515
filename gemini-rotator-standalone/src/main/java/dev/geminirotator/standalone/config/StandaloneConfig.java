package dev.geminirotator.standalone.config;

import dev.geminirotator.config.ConfigException;
import dev.geminirotator.config.ConfigLoader;
import dev.geminirotator.config.ConfigNode;
import dev.geminirotator.config.ConfigYaml;
import dev.geminirotator.config.FieldDoc;
import dev.geminirotator.config.RotatorSections;
import dev.geminirotator.config.Secret;
import dev.geminirotator.core.config.RotatorConfig;
import dev.geminirotator.standalone.http.ClientConnection;
import dev.geminirotator.standalone.http.ClientIdentity;
import dev.geminirotator.standalone.http.Transport;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The standalone proxy's whole configuration: the rotator's sections (read by the config module's
 * {@link RotatorSections}) plus one record per section of the proxy's own: {@link Server},
 * {@link Upstream}, {@link Access}, {@link Admin}, {@link RateLimit}, {@link Cors} and
 * {@link Logging}, read from the same YAML tree so unknown fields and bad values in any section
 * are reported together.
 *
 * <p>Each field is declared once, as a component of its section's record; the record's
 * {@code read} method reads it under the same name in kebab case ({@code maxRequestSize} is
 * {@code server.max-request-size}), with its default and checks, and {@link #toMaskedYaml()}
 * prints the records back through {@link ConfigYaml}. {@code PrintConfigRoundTripTest} holds the
 * names together.
 *
 * <p>Precedence is defaults &lt; file &lt; environment ({@code GEMINI_ROTATOR_<PATH>},
 * {@code GEMINI_API_KEYS}) &lt; command line ({@link Overrides}). Secrets are {@link Secret}s,
 * masked in {@code toString()} and printed output. Immutable and thread-safe.
 *
 * @param rotator the rotator's sections: keys, strategy, policies, storage
 * @param source the file this configuration came from, or {@code null}
 */
public record StandaloneConfig(RotatorConfig rotator, Server server, Upstream upstream,
    Access access, Admin admin, RateLimit rateLimit, Cors cors, Logging logging, Path source) {

  /** The environment variable holding comma-separated access tokens. */
  public static final String ACCESS_TOKENS_ENV = "GEMINI_ROTATOR_ACCESS_TOKENS";
  /** Admin tokens shorter than this are weak: {@code --validate} and start-up warn about them. */
  public static final int RECOMMENDED_ADMIN_TOKEN_LENGTH = 24;
  /** The shortest access, admin or metrics token accepted. */
  static final int MIN_TOKEN_LENGTH = 8;

  private static final Pattern SIZE = Pattern.compile("(\\d{1,15})\\s*(b|kb|k|mb|m|gb|g)?",
      Pattern.CASE_INSENSITIVE);

  public StandaloneConfig {
    Objects.requireNonNull(rotator, "rotator");
    Objects.requireNonNull(server, "server");
    Objects.requireNonNull(upstream, "upstream");
    Objects.requireNonNull(access, "access");
    Objects.requireNonNull(admin, "admin");
    Objects.requireNonNull(rateLimit, "rateLimit");
    Objects.requireNonNull(cors, "cors");
    Objects.requireNonNull(logging, "logging");
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
    RotatorConfig rotator = loader.readRotator(root);
    StandaloneConfig config = readOwn(root, rotator,
        Objects.requireNonNullElse(overrides, Overrides.NONE), file);
    root.finish();
    config.crossCheck();
    return config;
  }

  /** Every field of the proxy's own sections, with type, default and environment variable. */
  public static List<FieldDoc> fields() {
    ConfigNode root = ConfigNode.describe();
    readOwn(root, RotatorConfig.defaults(), Overrides.NONE, null);
    return root.fields();
  }

  private static StandaloneConfig readOwn(ConfigNode root, RotatorConfig rotator,
      Overrides overrides, Path source) {
    return new StandaloneConfig(rotator, Server.read(root.child("server"), overrides),
        Upstream.read(root.child("upstream")), Access.read(root.child("access")),
        Admin.read(root.child("admin")), RateLimit.read(root.child("rate-limit")),
        Cors.read(root.child("cors")), Logging.read(root.child("logging")), source);
  }

  /** Whether any access token is configured. */
  public boolean hasAccessTokens() {
    return !access.tokens().isEmpty();
  }

  /** Whether the admin API is on (an admin token is configured). */
  public boolean adminEnabled() {
    return admin.token() != null;
  }

  /**
   * Things that are valid but unwise, one sentence each, never quoting a secret: an admin token
   * shorter than {@value #RECOMMENDED_ADMIN_TOKEN_LENGTH} characters.
   */
  public List<String> warnings() {
    List<String> out = new ArrayList<>();
    Secret token = admin.token();
    if (token != null && token.length() < RECOMMENDED_ADMIN_TOKEN_LENGTH) {
      out.add("admin.token is weak: " + token.length() + " characters; use at least "
          + RECOMMENDED_ADMIN_TOKEN_LENGTH + " random characters (e.g. openssl rand -hex 24)");
    }
    return out;
  }

  /**
   * The effective configuration as a YAML document that the loader reads back to the same
   * configuration, every section field by field and every secret masked: keys show their id and
   * masked secret, tokens and passwords {@value Secret#MASK}.
   */
  public String toMaskedYaml() {
    Map<String, Object> tree = new LinkedHashMap<>(RotatorSections.toYaml(rotator));
    tree.put("server", ConfigYaml.section(server));
    tree.put("upstream", ConfigYaml.section(upstream));
    tree.put("access", ConfigYaml.section(access));
    tree.put("admin", ConfigYaml.section(admin));
    tree.put("rate-limit", ConfigYaml.section(rateLimit));
    tree.put("cors", ConfigYaml.section(cors));
    tree.put("logging", ConfigYaml.section(logging));
    return "# effective configuration (secrets masked)\n" + ConfigYaml.dump(tree);
  }

  @Override
  public String toString() {
    return "StandaloneConfig{" + server.host() + ":" + server.port() + ", upstream="
        + upstream.baseUrl() + ", keys=" + rotator.keys().size() + ", tokens="
        + access.tokens().size() + ", admin=" + adminEnabled() + '}';
  }

  /** Rules across sections, checked once every field parsed. */
  private void crossCheck() {
    String where = source == null ? null : source.toString();
    Integer management = server.managementPort();
    if (management != null && management != 0 && management == server.port()) {
      throw new ConfigException(where, List.of(
          "server.management-port must differ from server.port but both are " + server.port()
              + ": pick another port, or unset server.management-port to serve /metrics and"
              + " /health/detailed on server.port"));
    }
    Long budget = server.bodyBudget();
    if (budget != null && budget < 2 * server.maxRequestSize()) {
      // A body's buffer grows as it arrives: while the last array is filled from the one
      // before, one body briefly holds up to twice its size.
      throw new ConfigException(where, List.of(
          "server.body-budget (" + budget + " bytes) must be at least twice"
              + " server.max-request-size (" + server.maxRequestSize() + " bytes), or a body near"
              + " the size limit gets 503 while its buffer grows: raise it, or set it to auto"));
    }
    if (!hasAccessTokens() && !server.allowPublicWithoutTokens() && !isLoopback(server.host())) {
      throw new ConfigException(where, List.of(
          "server.host is " + server.host() + " (not loopback) but no access tokens are"
              + " configured: set access.tokens or " + ACCESS_TOKENS_ENV
              + ", or set server.allow-public-without-tokens: true"));
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Sections

  /**
   * {@code server}: the client-facing listener.
   *
   * @param host the address to listen on
   * @param port the port; zero picks a free one
   * @param maxRequestSize the largest request body accepted, in bytes; larger bodies get 413
   * @param idleTimeout how long an idle client connection stays open
   * @param drainTimeout how long shutdown waits for in-flight requests and streams
   * @param headerTimeout how long a connection may take to deliver a complete request head, from
   *     its first bytes; then it is closed. Zero disables the deadline. See {@code HeaderDeadline}
   * @param maxConnections client connections open at once; past it a new connection is closed as
   *     soon as it is accepted (see {@code ProxyServer})
   * @param bodyBudget the bytes all request bodies held for replay may take together, or
   *     {@code null} for {@code auto} (half of the heap). See {@code BodyBudget}
   * @param bodyTimeout how long a request body may take beyond its size at {@code bodyMinRate}: a
   *     body must arrive whole within this plus its size (its declared length, or what arrived of
   *     a chunked one) divided by the rate, from the end of the read that brought its head (or
   *     from when it is due: 100 Continue, or its turn after a pipelined request); then 408. Zero
   *     disables it
   * @param bodyMinRate bytes per second a request body's size earns beyond {@code bodyTimeout}:
   *     the slowest average rate a large body may arrive at. Zero gives every body just
   *     {@code bodyTimeout}
   * @param transport the socket I/O: {@code auto} (io_uring, else epoll, else NIO),
   *     {@code io_uring}, {@code epoll} or {@code nio}. See {@code Transport}
   * @param allowPublicWithoutTokens whether a non-loopback host may serve without access tokens
   * @param trustedProxies addresses or CIDR ranges whose {@code X-Forwarded-For} is believed
   * @param managementPort the port of the listener that serves {@code /metrics}, {@code /health}
   *     and {@code /health/detailed} instead of {@code port}, or {@code null} to serve them on
   *     {@code port}. Zero picks a free port
   * @param metricsToken the bearer token {@code /metrics} requires, or {@code null}
   * @param tls the TLS keystore, if any
   */
  public record Server(String host, int port, long maxRequestSize, Duration idleTimeout,
      Duration drainTimeout, Duration headerTimeout, int maxConnections, Long bodyBudget,
      Duration bodyTimeout, long bodyMinRate, String transport, boolean allowPublicWithoutTokens,
      List<String> trustedProxies, Integer managementPort, Secret metricsToken, Tls tls)
      implements ClientConnection.BodyPace {

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
     * About 13 MB of heap when all are idle keep-alive connections (3.2 KB each, measured with
     * the README's flags): room beside the body budget at {@code -Xmx128m}.
     */
    public static final int DEFAULT_MAX_CONNECTIONS = 4096;
    /**
     * With {@link #DEFAULT_BODY_MIN_RATE}, a body of the default maximum size must arrive within
     * 60 s + 20 MB at 256 KB/s = 140 s: a 2 Mbit/s uplink manages it.
     */
    public static final Duration DEFAULT_BODY_TIMEOUT = Duration.ofSeconds(60);
    public static final long DEFAULT_BODY_MIN_RATE = 256 * 1024;

    public Server {
      trustedProxies = List.copyOf(trustedProxies);
    }

    /** Whether {@code /metrics} requires a bearer token. */
    public boolean metricsTokenRequired() {
      return metricsToken != null;
    }

    static Server read(ConfigNode n, Overrides overrides) {
      String host = n.string("host", DEFAULT_HOST);
      int port = n.integer("port", DEFAULT_PORT);
      if (port < 0 || port > 65535) {
        n.error("server.port must be between 0 and 65535 but was " + port);
      }
      long maxRequestSize = n.value("max-request-size", "size (20MB, 512KB, 1048576)",
          DEFAULT_MAX_REQUEST_SIZE, StandaloneConfig::parseSize);
      if (maxRequestSize > MAX_MAX_REQUEST_SIZE) {
        n.error("server.max-request-size must be at most " + MAX_MAX_REQUEST_SIZE
            + " bytes (1GB) but was " + maxRequestSize + ": bodies are held whole in memory;"
            + " send larger files through the Files API");
        maxRequestSize = DEFAULT_MAX_REQUEST_SIZE;
      }
      Duration idleTimeout = positive(n, "idle-timeout", DEFAULT_IDLE_TIMEOUT);
      Duration drainTimeout = notNegative(n, "drain-timeout", DEFAULT_DRAIN_TIMEOUT);
      Duration headerTimeout = notNegative(n, "header-timeout", DEFAULT_HEADER_TIMEOUT);
      int maxConnections = n.integer("max-connections", DEFAULT_MAX_CONNECTIONS);
      if (maxConnections < 1) {
        n.error("server.max-connections must be >= 1 but was " + maxConnections);
        maxConnections = DEFAULT_MAX_CONNECTIONS;
      }
      String budget = n.value("body-budget", "size or auto (half the heap)", "auto",
          text -> text.trim().equalsIgnoreCase("auto") ? "auto"
              : Long.toString(parseSize(text)));
      Long bodyBudget = budget.equals("auto") ? null : Long.valueOf(budget);
      Duration bodyTimeout = notNegative(n, "body-timeout", DEFAULT_BODY_TIMEOUT);
      long bodyMinRate = n.value("body-min-rate", "size per second (256KB; 0 turns it off)",
          DEFAULT_BODY_MIN_RATE, text -> text.trim().equals("0") ? 0L : parseSize(text));
      String transport = n.string("transport", "auto").toLowerCase(Locale.ROOT);
      if (!Transport.NAMES.contains(transport)) {
        n.error("server.transport must be one of " + String.join(", ", Transport.NAMES)
            + " but was " + transport);
        transport = "auto";
      }
      boolean allowPublicWithoutTokens = n.bool("allow-public-without-tokens", false);
      List<String> trustedProxies = n.stringList("trusted-proxies", List.of());
      for (int i = 0; i < trustedProxies.size(); i++) {
        if (!ClientIdentity.validProxyEntry(trustedProxies.get(i))) {
          n.error("server.trusted-proxies[" + i + "] must be an IP address or CIDR range"
              + " (10.0.0.0/8) but was " + trustedProxies.get(i));
        }
      }
      Integer managementPort = n.integer("management-port", null);
      if (managementPort != null && (managementPort < 0 || managementPort > 65535)) {
        n.error("server.management-port must be between 0 and 65535 (or unset to serve"
            + " /metrics and /health/detailed on server.port) but was " + managementPort);
        managementPort = null;
      }
      Secret metricsToken = readToken(n, "metrics-token");
      Tls tls = Tls.read(n.child("tls"));

      if (overrides.host() != null) host = overrides.host();
      if (overrides.port() != null) {
        if (overrides.port() < 0 || overrides.port() > 65535) {
          n.error("--port must be between 0 and 65535 but was " + overrides.port());
        } else {
          port = overrides.port();
        }
      }
      return new Server(host, port, maxRequestSize, idleTimeout, drainTimeout, headerTimeout,
          maxConnections, bodyBudget, bodyTimeout, bodyMinRate, transport,
          allowPublicWithoutTokens, trustedProxies, managementPort, metricsToken, tls);
    }
  }

  /**
   * {@code server.tls}: serve HTTPS from a keystore.
   *
   * @param keystore the keystore's path (resolved against the config file's directory), or
   *     {@code null} for plain HTTP
   * @param keystorePassword the keystore's password, or {@code null}
   * @param keystoreType the keystore's type, {@code PKCS12} by default
   */
  public record Tls(String keystore, Secret keystorePassword, String keystoreType) {

    static Tls read(ConfigNode n) {
      String keystore = n.string("keystore", null);
      if (keystore != null && keystore.isBlank()) keystore = null;
      Secret keystorePassword = Secret.of(n.secret("keystore-password"));
      String keystoreType = n.string("keystore-type", "PKCS12");
      if (keystore != null && !n.isDescribing()) {
        Path p = n.baseDir() != null ? n.baseDir().resolve(keystore) : Path.of(keystore);
        if (!Files.isReadable(p)) {
          n.error("server.tls.keystore cannot be read: " + keystore);
        }
        keystore = p.toString();
      }
      return new Tls(keystore, keystorePassword, keystoreType);
    }
  }

  /**
   * {@code upstream}: how the proxy reaches Gemini.
   *
   * @param baseUrl Gemini's base URL, without a trailing slash
   * @param connectTimeout how long a connection to Gemini may take to open
   * @param requestTimeout the longest one upstream exchange may take, streams included; zero for
   *     no limit
   * @param idleTimeout how long an idle pooled connection stays open
   * @param maxConnections connections to Gemini open at once
   */
  public record Upstream(URI baseUrl, Duration connectTimeout, Duration requestTimeout,
      Duration idleTimeout, int maxConnections) {

    public static final String DEFAULT_BASE_URL = "https://generativelanguage.googleapis.com";
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(10);
    public static final Duration DEFAULT_REQUEST_TIMEOUT = Duration.ofMinutes(10);
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofMinutes(5);
    public static final int DEFAULT_MAX_CONNECTIONS = 512;

    static Upstream read(ConfigNode n) {
      URI baseUrl = n.value("base-url", "URL", URI.create(DEFAULT_BASE_URL),
          StandaloneConfig::parseBaseUrl);
      Duration connectTimeout = positive(n, "connect-timeout", DEFAULT_CONNECT_TIMEOUT);
      Duration requestTimeout = notNegative(n, "request-timeout", DEFAULT_REQUEST_TIMEOUT);
      Duration idleTimeout = positive(n, "idle-timeout", DEFAULT_IDLE_TIMEOUT);
      int maxConnections = n.integer("max-connections", DEFAULT_MAX_CONNECTIONS);
      if (maxConnections < 1) {
        n.error("upstream.max-connections must be >= 1 but was " + maxConnections);
      }
      return new Upstream(baseUrl, connectTimeout, requestTimeout, idleTimeout, maxConnections);
    }
  }

  /**
   * {@code access}: who may use the proxy.
   *
   * @param tokens the access tokens clients present ({@value #ACCESS_TOKENS_ENV} overrides them,
   *     comma-separated)
   */
  public record Access(List<Secret> tokens) {

    public Access {
      tokens = List.copyOf(tokens);
    }

    static Access read(ConfigNode n) {
      List<Secret> tokens = new ArrayList<>();
      for (ConfigNode entry : n.list("tokens", ACCESS_TOKENS_ENV)) {
        Secret token = Secret.of(entry.asSecret());
        if (token == null) continue;
        if (token.length() < MIN_TOKEN_LENGTH) {
          entry.error(entry.path() + " must be at least " + MIN_TOKEN_LENGTH
              + " characters long");
        } else {
          tokens.add(token);
        }
      }
      return new Access(tokens);
    }
  }

  /**
   * {@code admin}: the admin API.
   *
   * @param token the bearer token the admin API requires, or {@code null}: the API is off
   */
  public record Admin(Secret token) {

    static Admin read(ConfigNode n) {
      return new Admin(readToken(n, "token"));
    }
  }

  /**
   * {@code rate-limit}: per-client request limits.
   *
   * @param requestsPerMinute requests per minute per client; 0 turns the limit off
   */
  public record RateLimit(int requestsPerMinute) {

    static RateLimit read(ConfigNode n) {
      int requestsPerMinute = n.integer("requests-per-minute", 0);
      if (requestsPerMinute < 0) {
        n.error("rate-limit.requests-per-minute must be >= 0 (0 turns it off) but was "
            + requestsPerMinute);
      }
      return new RateLimit(requestsPerMinute);
    }
  }

  /**
   * {@code cors}: answers to browsers.
   *
   * @param enabled whether CORS headers are sent
   * @param allowedOrigins the origins allowed, {@code *} for any
   */
  public record Cors(boolean enabled, List<String> allowedOrigins) {

    public Cors {
      allowedOrigins = List.copyOf(allowedOrigins);
    }

    static Cors read(ConfigNode n) {
      return new Cors(n.bool("enabled", false), n.stringList("allowed-origins", List.of("*")));
    }
  }

  /**
   * {@code logging}: what the proxy logs and how.
   *
   * @param level the root level: {@code TRACE}, {@code DEBUG}, {@code INFO}, {@code WARN},
   *     {@code ERROR} or {@code OFF}
   * @param json one JSON object per line (logback's JSON encoder), or plain text
   */
  public record Logging(String level, boolean json) {

    public static final String DEFAULT_LEVEL = "INFO";
    private static final List<String> LEVELS =
        List.of("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "OFF");

    static Logging read(ConfigNode n) {
      String level = n.string("level", DEFAULT_LEVEL).toUpperCase(Locale.ROOT);
      if (!LEVELS.contains(level)) {
        n.error("logging.level must be one of trace, debug, info, warn, error, off but was "
            + level.toLowerCase(Locale.ROOT));
        level = DEFAULT_LEVEL;
      }
      return new Logging(level, n.bool("json", true));
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Readers shared by the sections

  /** A bearer token: unset when blank, at least {@value #MIN_TOKEN_LENGTH} characters. */
  private static Secret readToken(ConfigNode n, String name) {
    Secret token = Secret.of(n.secret(name));
    if (token != null && token.length() < MIN_TOKEN_LENGTH) {
      n.error(qualify(n, name) + " must be at least " + MIN_TOKEN_LENGTH + " characters long");
    }
    return token;
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
      throw new IllegalArgumentException("must be an http(s) URL such as "
          + Upstream.DEFAULT_BASE_URL);
    }
    if (uri.getRawQuery() != null || uri.getRawUserInfo() != null) {
      throw new IllegalArgumentException("must not carry a query or user info");
    }
    String s = uri.toString();
    return URI.create(s.endsWith("/") ? s.substring(0, s.length() - 1) : s);
  }
}
