package dev.geminirotator.standalone.config;

import static dev.geminirotator.standalone.config.StandaloneConfig.*;

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
 * Reads and validates every section of a {@link StandaloneConfig} but the rotator's (which core
 * reads); collects errors in the tree, so every problem is reported at once. Used once per load,
 * by one thread; not thread-safe.
 */
final class ConfigReader {

  private static final Pattern SIZE = Pattern.compile("(\\d{1,15})\\s*(b|kb|k|mb|m|gb|g)?",
      Pattern.CASE_INSENSITIVE);

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
        DEFAULT_MAX_REQUEST_SIZE, ConfigReader::parseSize);
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
        ConfigReader::parseBaseUrl);
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
}
