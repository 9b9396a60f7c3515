package dev.geminirotator.redis;

import java.net.URI;
import java.net.URISyntaxException;
import java.net.URLDecoder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import javax.net.ssl.SSLSocketFactory;

/**
 * How a {@link RedisKeyStateStore} reaches Redis and how it writes behind: host, credentials,
 * database, key prefix, pool size, timeouts and the write queue.
 *
 * <p>Built by {@link #builder()} from the documented {@code DEFAULT_*} values, or parsed from a
 * storage URI with {@link #fromUri(String)}:
 * <pre>
 * redis://[user:password@]host[:port][/database][?option=value&amp;...]
 * rediss://...   (TLS)
 * redis-cluster://[user:password@]host1[:port],host2[:port],...[?option=value&amp;...]
 * rediss-cluster://...   (a Redis Cluster over TLS)
 * redis-sentinel://[user:password@]sentinel1[:port],sentinel2[:port],.../master-name[/database]
 *     [?option=value&amp;...]
 * rediss-sentinel://...   (TLS to the master and the sentinels)
 * </pre>
 * The URI options are {@code prefix}, {@code pool}, {@code timeout}, {@code connectTimeout},
 * {@code queue}, {@code batch}, {@code linger} and {@code retry}; durations are written
 * {@code 500ms}, {@code 2s} or {@code 1m}. An unknown option is an error that names it.
 *
 * <p>A cluster URI lists some of the cluster's nodes (any of them; the client learns the others),
 * default port 6379; a cluster has database 0 only, so the URI has no path, and its
 * {@code prefix} may not contain <code>{</code> or <code>}</code> (the store's keys carry their
 * own hash tags, see {@code KeyLayout}). {@code pool} is the pool of each node. A sentinel URI
 * lists the sentinels (default port 26379) and names the master they watch; the user and password
 * are the master's, and sentinels that require their own give {@code sentinelUser} and
 * {@code sentinelPassword}. Host lists take names and IPv4 addresses (a bracketed IPv6 address
 * only when it is the only host).
 *
 * <p>TLS ({@code rediss://}) trusts the JVM's default trust store unless given one:
 * {@code truststore} (a file path), {@code truststorePassword} and {@code truststoreType}
 * ({@code PKCS12}, the default, or {@code JKS}), e.g.
 * {@code rediss://:pw@cache:6380/0?truststore=/etc/redis/ca.p12&truststorePassword=changeit};
 * or, in code, {@link Builder#truststore} or {@link Builder#sslSocketFactory}. The server's
 * certificate must name the host the URI gives (a DNS or IP subject alternative name): the host
 * name is verified as HTTPS clients do.
 *
 * <p>{@link #toString()} masks the password. Instances are immutable and thread-safe; the builder
 * is not thread-safe.
 */
public final class RedisStoreOptions {

  /** The port used when the URI names none. */
  public static final int DEFAULT_PORT = 6379;
  /** The port of a sentinel when a {@code redis-sentinel://} URI names none. */
  public static final int DEFAULT_SENTINEL_PORT = 26379;
  /** The prefix of every Redis key and of the change channel. */
  public static final String DEFAULT_PREFIX = "gemini_rotator:";
  /** Pooled connections for writes, loads and counters (the subscriber has its own). */
  public static final int DEFAULT_POOL_SIZE = 8;
  /** Read timeout of a Redis command, and the longest wait for a pooled connection. */
  public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(2);
  /** Pending writes kept while Redis is slow or down; past this the oldest is dropped. */
  public static final int DEFAULT_QUEUE_CAPACITY = 10_000;
  /** Changes sent in one pipeline. */
  public static final int DEFAULT_BATCH_SIZE = 256;
  /** How long the writer waits after the first pending change to gather more into one batch. */
  public static final Duration DEFAULT_LINGER = Duration.ofMillis(2);
  /** How often an unreachable Redis is tried again. */
  public static final Duration DEFAULT_RETRY_INTERVAL = Duration.ofMillis(250);

  private static final Set<String> OPTIONS = Set.of("prefix", "pool", "timeout", "connectTimeout",
      "queue", "batch", "linger", "retry", "truststore", "truststorePassword", "truststoreType",
      "sentinelUser", "sentinelPassword");
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?");
  private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m)");
  private static final Pattern PREFIX = Pattern.compile("[\\x21-\\x7e]{1,64}");

  /** How the store reaches Redis. */
  public enum Mode {
    /** One Redis server ({@code redis://}). */
    STANDALONE,
    /** A Redis Cluster ({@code redis-cluster://}): pool state on one slot, counters spread. */
    CLUSTER,
    /** A master watched by Redis Sentinel ({@code redis-sentinel://}), followed on failover. */
    SENTINEL
  }

  /** A host and port: a cluster node or a sentinel. Immutable. */
  public record Node(String host, int port) {

    /** Checks the port. */
    public Node {
      Objects.requireNonNull(host, "host");
      if (port < 1 || port > 65_535) {
        throw new IllegalArgumentException("port must be 1 to 65535 but was " + port);
      }
    }

    @Override
    public String toString() {
      return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
  }

  private final Mode mode;
  private final List<Node> nodes;
  private final String masterName;
  private final String sentinelUser;
  private final String sentinelPassword;
  private final boolean tls;
  private final String host;
  private final int port;
  private final String user;
  private final String password;
  private final int database;
  private final String prefix;
  private final int poolSize;
  private final Duration timeout;
  private final Duration connectTimeout;
  private final int queueCapacity;
  private final int batchSize;
  private final Duration linger;
  private final Duration retryInterval;
  private final Clock clock;
  private final Path truststore;
  private final String truststorePassword;
  private final String truststoreType;
  private final SSLSocketFactory sslSocketFactory;

  private RedisStoreOptions(Builder b) {
    this.mode = b.mode;
    this.nodes = b.mode == Mode.STANDALONE ? List.of(new Node(b.host, b.port))
        : List.copyOf(b.nodes);
    this.masterName = b.masterName;
    this.sentinelUser = b.sentinelUser;
    this.sentinelPassword = b.sentinelPassword;
    this.tls = b.tls;
    this.host = b.host;
    this.port = b.port;
    this.user = b.user;
    this.password = b.password;
    this.database = b.database;
    this.prefix = b.prefix;
    this.poolSize = b.poolSize;
    this.timeout = b.timeout;
    this.connectTimeout = b.connectTimeout != null ? b.connectTimeout : b.timeout;
    this.queueCapacity = b.queueCapacity;
    this.batchSize = b.batchSize;
    this.linger = b.linger;
    this.retryInterval = b.retryInterval;
    this.clock = b.clock;
    this.truststore = b.truststore;
    this.truststorePassword = b.truststorePassword;
    this.truststoreType = b.truststoreType;
    this.sslSocketFactory = b.sslSocketFactory;
  }

  /** Starts a builder for {@code redis://127.0.0.1:6379/0} with the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Parses a storage URI such as {@code redis://:secret@cache:6379/2?prefix=team-a:&timeout=1s}.
   *
   * @throws IllegalArgumentException naming what is wrong; the message never contains the password
   */
  public static RedisStoreOptions fromUri(String uri) {
    Objects.requireNonNull(uri, "uri");
    try {
      return fromUri(new URI(uri.trim()));
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("Redis store URI is malformed: " + e.getReason()
          + " (expected redis://[user:password@]host[:port][/database][?options], or"
          + " redis-cluster://host1:port,host2:port, or"
          + " redis-sentinel://host1:port,host2:port/master-name)");
    }
  }

  /** As {@link #fromUri(String)}, for a parsed URI. */
  public static RedisStoreOptions fromUri(URI uri) {
    Objects.requireNonNull(uri, "uri");
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    if (scheme.endsWith("-cluster") || scheme.endsWith("-sentinel")) {
      return fromMultiNodeUri(uri, scheme);
    }
    if (!scheme.equals("redis") && !scheme.equals("rediss")) {
      throw new IllegalArgumentException("a Redis store URI starts with redis://, rediss://,"
          + " redis-cluster://, rediss-cluster://, redis-sentinel:// or rediss-sentinel:// but"
          + " the scheme was '" + scheme + "'");
    }
    if (uri.isOpaque()) {
      throw new IllegalArgumentException("a Redis store URI needs a host, as in"
          + " redis://host:6379/0");
    }
    Builder b = builder().tls(scheme.equals("rediss"));
    String host = uri.getHost();
    if (host == null || host.isEmpty()) {
      throw new IllegalArgumentException("the Redis store URI has no valid host name (host names"
          + " may use letters, digits, '-' and '.'; write IPv6 addresses in brackets)");
    }
    if (host.startsWith("[") && host.endsWith("]")) host = host.substring(1, host.length() - 1);
    b.host(host);
    if (uri.getPort() != -1) b.port(uri.getPort());
    userInfo(b, uri.getRawUserInfo());
    String path = uri.getRawPath();
    if (path != null && !path.isEmpty() && !path.equals("/")) {
      String db = path.substring(1);
      if (!db.matches("\\d{1,5}")) {
        throw new IllegalArgumentException("the path of a Redis store URI is the database number,"
            + " as in redis://host:6379/2, but was '" + path + "'");
      }
      b.database(Integer.parseInt(db));
    }
    options(b, uri.getRawQuery());
    return b.build();
  }

  /** {@code redis-cluster://}, {@code redis-sentinel://} and their TLS forms. */
  private static RedisStoreOptions fromMultiNodeUri(URI uri, String scheme) {
    boolean cluster = scheme.endsWith("-cluster");
    String base = scheme.substring(0, scheme.lastIndexOf('-'));
    if (!base.equals("redis") && !base.equals("rediss")) {
      throw new IllegalArgumentException("a Redis " + (cluster ? "Cluster" : "Sentinel")
          + " store URI starts with redis" + scheme.substring(base.length()) + ":// or rediss"
          + scheme.substring(base.length()) + ":// but the scheme was '" + scheme + "'");
    }
    String example = cluster ? scheme + "://host1:6379,host2:6379"
        : scheme + "://host1:26379,host2:26379/master-name";
    String authority = uri.getRawAuthority();
    if (uri.isOpaque() || authority == null || authority.isEmpty()) {
      throw new IllegalArgumentException("a " + scheme + " URI needs at least one host, as in "
          + example);
    }
    Builder b = builder().tls(base.equals("rediss"));
    int at = authority.lastIndexOf('@');
    if (at >= 0) userInfo(b, authority.substring(0, at));
    String hostList = authority.substring(at + 1);
    List<Node> nodes = new ArrayList<>();
    int defaultPort = cluster ? DEFAULT_PORT : DEFAULT_SENTINEL_PORT;
    for (String entry : hostList.split(",", -1)) nodes.add(node(entry, defaultPort, example));
    String path = uri.getRawPath() == null ? "" : uri.getRawPath();
    if (cluster) {
      if (!path.isEmpty() && !path.equals("/")) {
        throw new IllegalArgumentException("a Redis Cluster has database 0 only, so a " + scheme
            + " URI has no path, but it was '" + path + "'");
      }
      b.cluster(nodes);
    } else {
      String[] parts = path.startsWith("/") ? path.substring(1).split("/", -1) : new String[0];
      if (parts.length == 0 || parts[0].isEmpty() || parts.length > 2) {
        throw new IllegalArgumentException("the path of a " + scheme + " URI is the master's"
            + " name and an optional database, as in " + example + "/0, but was '" + path + "'");
      }
      b.sentinel(decode(parts[0], "master name"), nodes);
      if (parts.length == 2) {
        if (!parts[1].matches("\\d{1,5}")) {
          throw new IllegalArgumentException("the database in a " + scheme + " URI is a number,"
              + " as in " + example + "/2, but was '" + parts[1] + "'");
        }
        b.database(Integer.parseInt(parts[1]));
      }
    }
    options(b, uri.getRawQuery());
    return b.build();
  }

  /** {@code host}, {@code host:port} or {@code [v6]:port}. */
  private static Node node(String entry, int defaultPort, String example) {
    String host = entry;
    String port = null;
    if (entry.startsWith("[")) {
      int close = entry.indexOf(']');
      if (close < 0) {
        throw new IllegalArgumentException("the host '" + entry + "' opens a bracket it does not"
            + " close");
      }
      host = entry.substring(1, close);
      String rest = entry.substring(close + 1);
      if (!rest.isEmpty()) {
        if (!rest.startsWith(":")) {
          throw new IllegalArgumentException("the host '" + entry + "' has something after its"
              + " address that is not a port");
        }
        port = rest.substring(1);
      }
    } else {
      int colon = entry.lastIndexOf(':');
      if (colon >= 0) {
        host = entry.substring(0, colon);
        port = entry.substring(colon + 1);
      }
    }
    if (host.isEmpty() || (!entry.startsWith("[") && !HOST.matcher(host).matches())) {
      throw new IllegalArgumentException("the host list has an invalid host '" + entry + "'"
          + " (host names may use letters, digits, '-' and '.'; separate hosts with commas, as"
          + " in " + example + ")");
    }
    if (port == null) return new Node(host, defaultPort);
    if (!port.matches("\\d{1,5}")) {
      throw new IllegalArgumentException("the port of '" + entry + "' must be a number but was '"
          + port + "'");
    }
    int p = Integer.parseInt(port);
    if (p < 1 || p > 65_535) {
      throw new IllegalArgumentException("the port of '" + entry + "' must be 1 to 65535 but was "
          + p);
    }
    return new Node(host, p);
  }

  private static void userInfo(Builder b, String userInfo) {
    if (userInfo == null || userInfo.isEmpty()) return;
    int colon = userInfo.indexOf(':');
    String rawUser = colon < 0 ? userInfo : userInfo.substring(0, colon);
    String rawPassword = colon < 0 ? null : userInfo.substring(colon + 1);
    if (rawPassword == null) {
      // redis://secret@host is how many tools write a password alone
      b.password(decode(rawUser, "password"));
    } else {
      if (!rawUser.isEmpty()) b.user(decode(rawUser, "user"));
      if (!rawPassword.isEmpty()) b.password(decode(rawPassword, "password"));
    }
  }

  private static void options(Builder b, String rawQuery) {
    Map<String, String> options = query(rawQuery);
    TreeSet<String> unknown = new TreeSet<>(options.keySet());
    unknown.removeAll(OPTIONS);
    if (!unknown.isEmpty()) {
      throw new IllegalArgumentException("unknown Redis store option" + (unknown.size() > 1 ? "s "
          : " ") + String.join(", ", unknown) + "; known options: "
          + String.join(", ", new TreeSet<>(OPTIONS)));
    }
    options.forEach((name, value) -> {
      switch (name) {
        case "prefix" -> b.prefix(value);
        case "pool" -> b.poolSize(integer(name, value));
        case "timeout" -> b.timeout(duration(name, value));
        case "connectTimeout" -> b.connectTimeout(duration(name, value));
        case "queue" -> b.queueCapacity(integer(name, value));
        case "batch" -> b.batchSize(integer(name, value));
        case "linger" -> b.linger(duration(name, value));
        case "retry" -> b.retryInterval(duration(name, value));
        case "truststore" -> b.truststore(Path.of(value), options.get("truststorePassword"));
        case "truststorePassword" -> {
          if (!options.containsKey("truststore")) {
            throw new IllegalArgumentException("truststorePassword is given without truststore");
          }
        }
        case "truststoreType" -> b.truststoreType(value);
        case "sentinelUser" -> b.sentinelUser(value);
        case "sentinelPassword" -> b.sentinelPassword(value);
        default -> throw new AssertionError(name);
      }
    });
  }

  private static Map<String, String> query(String raw) {
    Map<String, String> result = new LinkedHashMap<>();
    if (raw == null || raw.isEmpty()) return result;
    for (String pair : raw.split("&")) {
      if (pair.isEmpty()) continue;
      int eq = pair.indexOf('=');
      String name = decode(eq < 0 ? pair : pair.substring(0, eq), "option name");
      String value = eq < 0 ? "" : decode(pair.substring(eq + 1), "option " + name);
      if (result.put(name, value) != null) {
        throw new IllegalArgumentException("Redis store option " + name + " is given twice");
      }
    }
    return result;
  }

  private static String decode(String raw, String what) {
    try {
      return URLDecoder.decode(raw.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the " + what + " in the Redis store URI has a bad"
          + " %-escape");
    }
  }

  private static int integer(String name, String value) {
    try {
      return Integer.parseInt(value);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " must be a whole number but was '" + value + "'");
    }
  }

  /** Parses {@code 500ms}, {@code 2s} or {@code 1m}. */
  static Duration duration(String name, String value) {
    Matcher m = DURATION.matcher(value);
    if (!m.matches()) {
      throw new IllegalArgumentException(name + " must be a duration such as 500ms, 2s or 1m but"
          + " was '" + value + "'");
    }
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      default -> Duration.ofMinutes(n);
    };
  }

  /** Standalone, cluster or sentinel. */
  public Mode mode() {
    return mode;
  }

  /**
   * The cluster nodes the client starts from, the sentinels, or the one standalone server
   * ({@link #host()}:{@link #port()}).
   */
  public List<Node> nodes() {
    return nodes;
  }

  /** The name of the master the sentinels watch, or {@code null} unless {@link Mode#SENTINEL}. */
  public String masterName() {
    return masterName;
  }

  /** The sentinels' own ACL user, or {@code null}. */
  public String sentinelUser() {
    return sentinelUser;
  }

  /** The sentinels' own password, or {@code null}. Never log it. */
  public String sentinelPassword() {
    return sentinelPassword;
  }

  /** Whether the connection uses TLS ({@code rediss://}). */
  public boolean tls() {
    return tls;
  }

  public String host() {
    return host;
  }

  public int port() {
    return port;
  }

  /** The ACL user, or {@code null} for the default user. */
  public String user() {
    return user;
  }

  /** The password, or {@code null}. Never log it. */
  public String password() {
    return password;
  }

  public int database() {
    return database;
  }

  /** The prefix of every Redis key and of the change channel, e.g. {@code gemini_rotator:}. */
  public String prefix() {
    return prefix;
  }

  public int poolSize() {
    return poolSize;
  }

  public Duration timeout() {
    return timeout;
  }

  public Duration connectTimeout() {
    return connectTimeout;
  }

  public int queueCapacity() {
    return queueCapacity;
  }

  public int batchSize() {
    return batchSize;
  }

  public Duration linger() {
    return linger;
  }

  public Duration retryInterval() {
    return retryInterval;
  }

  /** The clock that aligns counter windows. */
  public Clock clock() {
    return clock;
  }

  /** The trust store TLS connections trust, or {@code null} for the JVM's default. */
  public Path truststore() {
    return truststore;
  }

  /** The trust store's password, or {@code null}. Never log it. */
  public String truststorePassword() {
    return truststorePassword;
  }

  /** {@code PKCS12} (the default) or {@code JKS}. */
  public String truststoreType() {
    return truststoreType;
  }

  /** The socket factory given to the builder for TLS, or {@code null}. */
  public SSLSocketFactory sslSocketFactory() {
    return sslSocketFactory;
  }

  /** The URI these options describe, with the password masked. */
  public String describe() {
    StringBuilder sb = new StringBuilder(tls ? "rediss" : "redis");
    sb.append(switch (mode) {
      case STANDALONE -> "://";
      case CLUSTER -> "-cluster://";
      case SENTINEL -> "-sentinel://";
    });
    if (user != null || password != null) {
      sb.append(user != null ? user : "").append(password != null ? ":****" : "").append('@');
    }
    if (mode == Mode.STANDALONE) {
      sb.append(host.indexOf(':') >= 0 ? "[" + host + "]" : host).append(':').append(port)
          .append('/').append(database);
    } else {
      sb.append(nodes.stream().map(Node::toString)
          .collect(Collectors.joining(",")));
      if (mode == Mode.SENTINEL) sb.append('/').append(masterName).append('/').append(database);
    }
    if (!prefix.equals(DEFAULT_PREFIX)) sb.append("?prefix=").append(prefix);
    return sb.toString();
  }

  /** All options, with the password masked. */
  @Override
  public String toString() {
    return "RedisStoreOptions{" + describe() + ", pool=" + poolSize + ", timeout=" + timeout
        + ", connectTimeout=" + connectTimeout + ", queue=" + queueCapacity + ", batch="
        + batchSize + ", linger=" + linger + ", retry=" + retryInterval
        + (truststore != null ? ", truststore=" + truststore + (truststorePassword != null
            ? ", truststorePassword=****" : "") : "")
        + (sentinelUser != null ? ", sentinelUser=" + sentinelUser : "")
        + (sentinelPassword != null ? ", sentinelPassword=****" : "")
        + (sslSocketFactory != null ? ", sslSocketFactory=" + sslSocketFactory.getClass().getName()
            : "") + '}';
  }

  /** Builds {@link RedisStoreOptions}; each setter checks its value. Not thread-safe. */
  public static final class Builder {
    private Mode mode = Mode.STANDALONE;
    private List<Node> nodes = List.of();
    private String masterName;
    private String sentinelUser;
    private String sentinelPassword;
    private boolean tls;
    private String host = "127.0.0.1";
    private int port = DEFAULT_PORT;
    private String user;
    private String password;
    private int database;
    private String prefix = DEFAULT_PREFIX;
    private int poolSize = DEFAULT_POOL_SIZE;
    private Duration timeout = DEFAULT_TIMEOUT;
    private Duration connectTimeout;
    private int queueCapacity = DEFAULT_QUEUE_CAPACITY;
    private int batchSize = DEFAULT_BATCH_SIZE;
    private Duration linger = DEFAULT_LINGER;
    private Duration retryInterval = DEFAULT_RETRY_INTERVAL;
    private Clock clock = Clock.systemUTC();
    private Path truststore;
    private String truststorePassword;
    private String truststoreType = "PKCS12";
    private SSLSocketFactory sslSocketFactory;

    private Builder() {
    }

    /**
     * A Redis Cluster, reached from these nodes (some of its nodes are enough: the client learns
     * the rest); replaces {@link #host}/{@link #port}.
     */
    public Builder cluster(List<Node> nodes) {
      this.nodes = atLeastOne("cluster nodes", nodes);
      this.mode = Mode.CLUSTER;
      this.masterName = null;
      return this;
    }

    /**
     * The master that these sentinels watch under {@code masterName}; the store follows its
     * failovers. Replaces {@link #host}/{@link #port}.
     */
    public Builder sentinel(String masterName, List<Node> sentinels) {
      if (masterName == null || masterName.isBlank()) {
        throw new IllegalArgumentException("masterName must not be blank");
      }
      this.nodes = atLeastOne("sentinels", sentinels);
      this.masterName = masterName;
      this.mode = Mode.SENTINEL;
      return this;
    }

    /** The sentinels' own ACL user, when they require one. Only with {@link #sentinel}. */
    public Builder sentinelUser(String user) {
      this.sentinelUser = user == null || user.isEmpty() ? null : user;
      return this;
    }

    /** The sentinels' own password, when they require one. Only with {@link #sentinel}. */
    public Builder sentinelPassword(String password) {
      this.sentinelPassword = password == null || password.isEmpty() ? null : password;
      return this;
    }

    private static List<Node> atLeastOne(String what, List<Node> nodes) {
      Objects.requireNonNull(nodes, what);
      if (nodes.isEmpty()) throw new IllegalArgumentException(what + " must not be empty");
      return List.copyOf(nodes);
    }

    public Builder tls(boolean tls) {
      this.tls = tls;
      return this;
    }

    public Builder host(String host) {
      if (host == null || host.isBlank()) {
        throw new IllegalArgumentException("host must not be blank");
      }
      this.host = host;
      return this;
    }

    public Builder port(int port) {
      if (port < 1 || port > 65_535) {
        throw new IllegalArgumentException("port must be 1 to 65535 but was " + port);
      }
      this.port = port;
      return this;
    }

    /** The ACL user (Redis 6+); {@code null} for the default user. */
    public Builder user(String user) {
      this.user = user == null || user.isEmpty() ? null : user;
      return this;
    }

    public Builder password(String password) {
      this.password = password == null || password.isEmpty() ? null : password;
      return this;
    }

    public Builder database(int database) {
      if (database < 0) {
        throw new IllegalArgumentException("database must be >= 0 but was " + database);
      }
      this.database = database;
      return this;
    }

    /** 1 to 64 printable characters without spaces; end it with ':' to keep keys readable. */
    public Builder prefix(String prefix) {
      if (prefix == null || !PREFIX.matcher(prefix).matches()) {
        throw new IllegalArgumentException("prefix must be 1 to 64 printable characters without"
            + " spaces, such as gemini_rotator:, but was '" + prefix + "'");
      }
      this.prefix = prefix;
      return this;
    }

    public Builder poolSize(int poolSize) {
      if (poolSize < 1 || poolSize > 1024) {
        throw new IllegalArgumentException("pool must be 1 to 1024 but was " + poolSize);
      }
      this.poolSize = poolSize;
      return this;
    }

    public Builder timeout(Duration timeout) {
      this.timeout = between("timeout", timeout, Duration.ofMillis(1), Duration.ofMinutes(10));
      return this;
    }

    /** Defaults to {@link #timeout(Duration)}. */
    public Builder connectTimeout(Duration connectTimeout) {
      this.connectTimeout = between("connectTimeout", connectTimeout, Duration.ofMillis(1),
          Duration.ofMinutes(10));
      return this;
    }

    public Builder queueCapacity(int queueCapacity) {
      if (queueCapacity < 1 || queueCapacity > 10_000_000) {
        throw new IllegalArgumentException("queue must be 1 to 10000000 but was "
            + queueCapacity);
      }
      this.queueCapacity = queueCapacity;
      return this;
    }

    public Builder batchSize(int batchSize) {
      if (batchSize < 1 || batchSize > 100_000) {
        throw new IllegalArgumentException("batch must be 1 to 100000 but was " + batchSize);
      }
      this.batchSize = batchSize;
      return this;
    }

    /** 0 to 1 second; changes reach other instances this much later, in fewer round trips. */
    public Builder linger(Duration linger) {
      this.linger = between("linger", linger, Duration.ZERO, Duration.ofSeconds(1));
      return this;
    }

    public Builder retryInterval(Duration retryInterval) {
      this.retryInterval = between("retry", retryInterval, Duration.ofMillis(10),
          Duration.ofMinutes(5));
      return this;
    }

    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * The trust store (a file) whose certificates TLS connections trust instead of the JVM's
     * default, with its password ({@code null} for none). Only for {@code rediss://}.
     */
    public Builder truststore(Path truststore, String password) {
      this.truststore = Objects.requireNonNull(truststore, "truststore");
      this.truststorePassword = password == null || password.isEmpty() ? null : password;
      return this;
    }

    /** The trust store's format: {@code PKCS12} (default) or {@code JKS}. */
    public Builder truststoreType(String type) {
      String t = type == null ? "" : type.toUpperCase(Locale.ROOT);
      if (!t.equals("PKCS12") && !t.equals("JKS")) {
        throw new IllegalArgumentException("truststoreType must be PKCS12 or JKS but was '"
            + type + "'");
      }
      this.truststoreType = t;
      return this;
    }

    /**
     * The factory of TLS sockets, for full control (client certificates, pinned trust); the host
     * name is still verified. Only for {@code rediss://}; excludes {@link #truststore}.
     */
    public Builder sslSocketFactory(SSLSocketFactory factory) {
      this.sslSocketFactory = Objects.requireNonNull(factory, "sslSocketFactory");
      return this;
    }

    /** @throws IllegalArgumentException when TLS settings are given without TLS, or both */
    public RedisStoreOptions build() {
      if (mode == Mode.CLUSTER && database != 0) {
        throw new IllegalArgumentException("a Redis Cluster has database 0 only but database was "
            + database);
      }
      if (mode == Mode.CLUSTER && (prefix.indexOf('{') >= 0 || prefix.indexOf('}') >= 0)) {
        throw new IllegalArgumentException("prefix must not contain '{' or '}' on a Redis Cluster"
            + " (the store's keys carry their own hash tags) but was '" + prefix + "'");
      }
      if (mode != Mode.SENTINEL && (sentinelUser != null || sentinelPassword != null)) {
        throw new IllegalArgumentException("sentinelUser and sentinelPassword apply to"
            + " redis-sentinel:// only");
      }
      if (!tls && (truststore != null || sslSocketFactory != null)) {
        throw new IllegalArgumentException("truststore and sslSocketFactory apply to TLS only:"
            + " use a rediss://, rediss-cluster:// or rediss-sentinel:// URI (or tls(true))");
      }
      if (truststore != null && sslSocketFactory != null) {
        throw new IllegalArgumentException("give either a truststore or an sslSocketFactory,"
            + " not both");
      }
      if (truststore != null && !Files.isReadable(truststore)) {
        throw new IllegalArgumentException("truststore " + truststore
            + " does not exist or cannot be read");
      }
      return new RedisStoreOptions(this);
    }

    private static Duration between(String name, Duration value, Duration min, Duration max) {
      Objects.requireNonNull(value, name);
      if (value.compareTo(min) < 0 || value.compareTo(max) > 0) {
        throw new IllegalArgumentException(name + " must be " + format(min) + " to " + format(max)
            + " but was " + format(value));
      }
      return value;
    }

    private static String format(Duration d) {
      long ms = d.toMillis();
      if (ms % 60_000 == 0 && ms > 0) return ms / 60_000 + "m";
      if (ms % 1_000 == 0 && ms > 0) return ms / 1_000 + "s";
      return ms + "ms";
    }
  }
}
