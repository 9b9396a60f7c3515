package dev.geminirotator.redis;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Connection;
import redis.clients.jedis.ConnectionPoolConfig;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.JedisClientConfig;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.RedisClusterClient;
import redis.clients.jedis.RedisSentinelClient;
import redis.clients.jedis.UnifiedJedis;
import redis.clients.jedis.exceptions.JedisConnectionException;
import redis.clients.jedis.util.Pool;

/**
 * How a {@link RedisKeyStateStore} reaches Redis in each {@link RedisStoreOptions.Mode}: the pooled
 * client for commands, scripts and pipelines, a dedicated connection for the subscriber, and what
 * to do after a connection failure.
 * <ul>
 *   <li>standalone: one server ({@link RedisClient});
 *   <li>cluster: {@link RedisClusterClient}, each command sent to the master of its slot, a
 *       pipeline split per master; the subscriber on any reachable node, since a PUBLISH reaches
 *       the subscribers of every node; after a failure the slot map is read again;
 *   <li>sentinel: {@link RedisSentinelClient}, which asks the sentinels for the master and follows
 *       their {@code +switch-master} announcements; the subscriber on the master they name now.
 * </ul>
 * A cluster or sentinel client cannot be built while none of its seeds or sentinels answers, so
 * it is built on first use and again after such a failure ({@link #client()} then throws a
 * connection failure): a store opens, unavailable, when Redis is down, in every mode. Thread-safe.
 */
abstract class RedisConnections implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(RedisConnections.class);

  final RedisStoreOptions options;
  final JedisClientConfig config;
  final ConnectionPoolConfig pool;

  private RedisConnections(RedisStoreOptions options, JedisClientConfig config) {
    this.options = options;
    this.config = config;
    this.pool = new ConnectionPoolConfig();
    pool.setMaxTotal(options.poolSize());
    pool.setMaxIdle(options.poolSize());
    pool.setMinIdle(0);
    pool.setMaxWait(options.timeout());
    pool.setBlockWhenExhausted(true);
    pool.setJmxEnabled(false);
  }

  /** The connections for these options; nothing is connected yet. */
  static RedisConnections of(RedisStoreOptions options, String clientName) {
    JedisClientConfig config = clientConfig(options, clientName, options.user(),
        options.password(), options.database()).build();
    return switch (options.mode()) {
      case STANDALONE -> new Standalone(options, config);
      case CLUSTER -> new Cluster(options, config);
      // Jedis's sentinel listeners speak RESP2 and warn at every connection unless told to
      case SENTINEL -> new Sentinel(options, config, clientConfig(options, clientName + "-sentinel",
          options.sentinelUser(), options.sentinelPassword(), 0).autoNegotiateProtocol(false)
          .build());
    };
  }

  private static DefaultJedisClientConfig.Builder clientConfig(RedisStoreOptions options,
      String clientName, String user, String password, int database) {
    DefaultJedisClientConfig.Builder config = DefaultJedisClientConfig.builder()
        .connectionTimeoutMillis(millis(options.connectTimeout()))
        .socketTimeoutMillis(millis(options.timeout()))
        .database(database)
        .clientName(clientName)
        .ssl(options.tls());
    if (options.tls()) {
      javax.net.ssl.SSLSocketFactory factory = Tls.socketFactory(options);
      if (factory != null) config.sslSocketFactory(factory);
      config.sslParameters(Tls.parameters());
    }
    if (user != null) config.user(user);
    if (password != null) config.password(password);
    return config;
  }

  /**
   * The client; built now if it was not (a cluster or sentinel client needs a seed or sentinel
   * that answers).
   *
   * @throws JedisConnectionException when it cannot be built now
   */
  abstract UnifiedJedis client();

  /** A new connection for the subscriber, not pooled; the caller closes it. */
  abstract Connection subscriberConnection();

  /**
   * After a connection failure: closes idle pooled connections (likely dead too) and, on a
   * cluster, reads the slot map again (a replica may have taken over).
   */
  abstract void reset();

  /**
   * Loads the scripts where they run: on the server, the sentinels' master, or every master of a
   * cluster (Jedis sends SCRIPT LOAD to all of them). A replica promoted later gets them at the
   * first NOSCRIPT (the writer loads them again; a counter falls back to EVAL, which caches the
   * script there).
   */
  void loadScripts(List<String> scripts, String sampleKey) {
    UnifiedJedis client = client();
    for (String script : scripts) client.scriptLoad(script, sampleKey);
  }

  @Override
  public abstract void close();

  static int millis(Duration d) {
    return (int) Math.min(Integer.MAX_VALUE, d.toMillis());
  }

  static HostAndPort hostAndPort(RedisStoreOptions.Node node) {
    return new HostAndPort(node.host(), node.port());
  }

  /** One server. */
  private static final class Standalone extends RedisConnections {
    private final HostAndPort server;
    private final RedisClient client;

    Standalone(RedisStoreOptions options, JedisClientConfig config) {
      super(options, config);
      this.server = new HostAndPort(options.host(), options.port());
      this.client = RedisClient.builder().hostAndPort(server).clientConfig(config)
          .poolConfig(pool).build();
    }

    @Override
    UnifiedJedis client() {
      return client;
    }

    @Override
    Connection subscriberConnection() {
      return new Connection(server, config);
    }

    @Override
    void reset() {
      try {
        client.getPool().clear();
      } catch (RuntimeException e) {
        log.debug("could not clear the connection pool", e);
      }
    }

    @Override
    public void close() {
      client.close();
    }
  }

  /** A client built on first use, and again after it could not be. */
  private abstract static class Lazy<C extends UnifiedJedis> extends RedisConnections {
    private final Object lock = new Object();
    private volatile C client;
    private volatile boolean closed;

    Lazy(RedisStoreOptions options, JedisClientConfig config) {
      super(options, config);
    }

    abstract C build();

    @Override
    final C client() {
      C c = client;
      if (c != null) return c;
      synchronized (lock) {
        if (closed) throw new JedisConnectionException("the Redis store is closed");
        if (client == null) {
          try {
            client = build();
          } catch (JedisConnectionException e) {
            throw e;
          } catch (RuntimeException e) {
            // Jedis says "could not initialize the cluster slots cache" (the first node's failure
            // suppressed in it) or "all sentinels down". Refused credentials, or a server that is
            // no cluster, are no outage: the store fails to open with them, as on one server.
            Throwable first = e.getSuppressed().length > 0 ? e.getSuppressed()[0] : null;
            if (first instanceof RuntimeException r && (RedisKeyStateStore.isAuthFailure(r)
                || !RedisKeyStateStore.isConnectionFailure(r))) {
              throw r;
            }
            throw new JedisConnectionException(e.getMessage(), first != null ? first : e);
          }
        }
        return client;
      }
    }

    /** The client if built, else {@code null}. */
    final C built() {
      return client;
    }

    @Override
    public final void close() {
      synchronized (lock) {
        closed = true;
        if (client != null) client.close();
      }
    }
  }

  /** A Redis Cluster. */
  private static final class Cluster extends Lazy<RedisClusterClient> {
    private final Set<HostAndPort> seeds;

    Cluster(RedisStoreOptions options, JedisClientConfig config) {
      super(options, config);
      this.seeds = options.nodes().stream().map(RedisConnections::hostAndPort)
          .collect(Collectors.toCollection(LinkedHashSet::new));
    }

    @Override
    RedisClusterClient build() {
      return RedisClusterClient.builder().nodes(seeds).clientConfig(config).poolConfig(pool)
          // a command waits at most one timeout for a failover (the request path never does)
          .maxTotalRetriesDuration(options.timeout())
          .build();
    }

    @Override
    Connection subscriberConnection() {
      // every node the client knows, then the seeds: the first that answers
      Set<HostAndPort> candidates = new LinkedHashSet<>();
      RedisClusterClient client = built();
      if (client != null) {
        for (String node : client.getClusterNodes().keySet()) {
          candidates.add(HostAndPort.from(node));
        }
      }
      List<HostAndPort> ordered = new ArrayList<>(candidates);
      java.util.Collections.shuffle(ordered); // spread the instances' subscribers
      ordered.addAll(seeds);
      JedisConnectionException last = null;
      for (HostAndPort node : new LinkedHashSet<>(ordered)) {
        try {
          return new Connection(node, config);
        } catch (JedisConnectionException e) {
          last = e;
        }
      }
      throw last != null ? last : new JedisConnectionException("no cluster node to subscribe on");
    }

    @Override
    void reset() {
      RedisClusterClient client = built();
      if (client == null) return;
      try {
        client.refreshClusterTopology();
      } catch (RuntimeException e) {
        log.debug("could not refresh the cluster's slot map", e);
      }
    }
  }

  /** A master watched by Redis Sentinel. */
  private static final class Sentinel extends Lazy<RedisSentinelClient> {
    private final JedisClientConfig sentinelConfig;
    private final Set<HostAndPort> sentinels;

    Sentinel(RedisStoreOptions options, JedisClientConfig config,
        JedisClientConfig sentinelConfig) {
      super(options, config);
      this.sentinelConfig = sentinelConfig;
      this.sentinels = options.nodes().stream().map(RedisConnections::hostAndPort)
          .collect(Collectors.toCollection(LinkedHashSet::new));
    }

    @Override
    RedisSentinelClient build() {
      return RedisSentinelClient.builder().masterName(options.masterName()).sentinels(sentinels)
          .sentinelClientConfig(sentinelConfig).clientConfig(config).poolConfig(pool).build();
    }

    @Override
    Connection subscriberConnection() {
      return new Connection(client().getCurrentMaster(), config);
    }

    @Override
    void reset() {
      RedisSentinelClient client = built();
      if (client == null) return;
      try {
        for (Pool<Connection> p : client.getPrimaryNodesConnectionMap().values()) p.clear();
      } catch (RuntimeException e) {
        log.debug("could not clear the connection pool", e);
      }
    }
  }
}
