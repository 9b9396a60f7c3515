package dev.geminirotator.testsupport.redis;

import dev.geminirotator.testsupport.Eventually;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import redis.clients.jedis.DefaultJedisClientConfig;
import redis.clients.jedis.HostAndPort;
import redis.clients.jedis.Jedis;

/**
 * A real Redis Cluster on 127.0.0.1 for tests: {@code masters} masters, each with
 * {@code replicasPerMaster} replicas so that a killed master is replaced, all started from
 * {@link RedisServer#binary()} (the PATH one, or the 6.2 binary of the embedded-redis jar) with
 * {@code cluster-enabled yes} and a 3 s {@code cluster-node-timeout}. The test itself assigns the
 * slots (CLUSTER ADDSLOTS, which 6.2 has; ADDSLOTSRANGE is 7.0+), introduces the nodes (MEET) and
 * pairs the replicas (REPLICATE), then waits for {@code cluster_state:ok} on every node and every
 * replica in sync. Each node has a free port whose bus port (port + 10000) was free too, and its
 * own temporary directory. {@link #close()} stops every process. Start one per test class: it
 * takes a few seconds. Not thread-safe: one test class drives it.
 */
public final class RedisCluster implements AutoCloseable {

  /** The slots of a Redis Cluster. */
  public static final int SLOTS = 16_384;
  /**
   * How long a node may not answer before the others count it failed: long enough that a loaded
   * CI machine sees no failover that no test asked for.
   */
  public static final Duration NODE_TIMEOUT = Duration.ofSeconds(3);
  private static final Duration FORMED = Duration.ofSeconds(60);

  private final List<RedisServer> masters = new ArrayList<>();
  private final List<RedisServer> nodes = new ArrayList<>();

  private RedisCluster() {
  }

  /** Starts and forms a cluster; on failure stops whatever it started. */
  public static RedisCluster start(int masters, int replicasPerMaster) {
    if (masters < 1 || replicasPerMaster < 0) {
      throw new IllegalArgumentException("a cluster needs >= 1 master and >= 0 replicas but was "
          + masters + " and " + replicasPerMaster);
    }
    RedisCluster cluster = new RedisCluster();
    try {
      for (int i = 0; i < masters * (1 + replicasPerMaster); i++) {
        RedisServer node = startNode();
        cluster.nodes.add(node);
        if (i < masters) cluster.masters.add(node);
      }
      cluster.form(masters, replicasPerMaster);
    } catch (RuntimeException | Error e) {
      cluster.close(); // no node left running, whatever went wrong (a class missing, say)
      throw e;
    }
    return cluster;
  }

  private static RedisServer startNode() {
    RuntimeException last = null;
    for (int attempt = 0; attempt < 20; attempt++) {
      int port = RedisServer.freePort();
      if (port + 10_000 > 65_535 || !free(port + 10_000)) continue;
      try {
        return RedisServer.startOnPort(port, "--cluster-enabled", "yes",
            "--cluster-config-file", "nodes.conf",
            "--cluster-node-timeout", Long.toString(NODE_TIMEOUT.toMillis()),
            // a replica takes over however long it was cut off from its master
            "--cluster-replica-validity-factor", "0",
            // replicas sync at once, from memory (6.2 waits 5 s by default when diskless)
            "--repl-diskless-sync", "yes", "--repl-diskless-sync-delay", "0");
      } catch (IllegalStateException e) {
        last = e; // the port (or its bus port) was taken meanwhile
      }
    }
    throw new IllegalStateException("no free port pair (port, port + 10000) for a cluster node",
        last);
  }

  private static boolean free(int port) {
    try (ServerSocket socket = new ServerSocket()) {
      socket.bind(new InetSocketAddress("127.0.0.1", port));
      return true;
    } catch (IOException e) {
      return false;
    }
  }

  private void form(int masterCount, int replicasPerMaster) {
    RedisServer first = nodes.get(0);
    try (Jedis j = jedis(first)) {
      for (RedisServer node : nodes.subList(1, nodes.size())) j.clusterMeet("127.0.0.1",
          node.port());
    }
    for (int i = 0; i < masterCount; i++) {
      int from = i * SLOTS / masterCount;
      int to = (i + 1) * SLOTS / masterCount;
      try (Jedis j = jedis(masters.get(i))) {
        j.clusterAddSlots(IntStream.range(from, to).toArray());
      }
    }
    List<String> masterIds = masters.stream().map(RedisCluster::id).collect(Collectors.toList());
    Eventually.until(FORMED, "every node knows the " + nodes.size() + " nodes", () -> {
      for (RedisServer node : nodes) {
        if (nodesLines(node).size() < nodes.size()) return false;
      }
      return true;
    });
    for (int r = 0; r < replicasPerMaster; r++) {
      for (int i = 0; i < masterCount; i++) {
        RedisServer replica = nodes.get(masterCount + r * masterCount + i);
        try (Jedis j = jedis(replica)) {
          j.clusterReplicate(masterIds.get(i));
        }
      }
    }
    awaitHealthy(nodes);
  }

  /** Waits until every node given says cluster_state:ok and every replica is in sync. */
  private void awaitHealthy(List<RedisServer> live) {
    Eventually.until(FORMED, "cluster_state:ok on every node, replicas in sync", () -> {
      for (RedisServer node : live) {
        try (Jedis j = jedis(node)) {
          if (!j.clusterInfo().contains("cluster_state:ok")) return false;
          String replication = j.info("replication");
          if (replication.contains("role:slave")
              && !replication.contains("master_link_status:up")) {
            return false;
          }
          long replicasSeen = nodesLines(node).stream().filter(l -> l.contains("slave")).count();
          if (replicasSeen < live.size() - masterCount(live)) return false;
        } catch (RuntimeException e) {
          return false;
        }
      }
      return true;
    });
  }

  private static long masterCount(List<RedisServer> live) {
    long n = 0;
    for (RedisServer node : live) {
      try (Jedis j = jedis(node)) {
        if (j.info("replication").contains("role:master")) n++;
      }
    }
    return n;
  }

  /** {@code redis-cluster://127.0.0.1:p1,127.0.0.1:p2,...} (the masters) plus a suffix. */
  public String uri(String suffix) {
    return "redis-cluster://" + masters.stream().map(m -> "127.0.0.1:" + m.port())
        .collect(Collectors.joining(",")) + suffix;
  }

  /** Every node, masters first (as started: a failover changes who is master). */
  public List<RedisServer> nodes() {
    return List.copyOf(nodes);
  }

  /** The nodes running now that are masters now. */
  public List<RedisServer> liveMasters() {
    List<RedisServer> result = new ArrayList<>();
    for (RedisServer node : nodes) {
      if (!node.running()) continue;
      try (Jedis j = jedis(node)) {
        if (j.info("replication").contains("role:master")) result.add(node);
      }
    }
    return result;
  }

  /** The slot of a key (CRC16 of its hash tag), as the cluster computes it. */
  public int slot(String key) {
    try (Jedis j = jedis(anyLive())) {
      return (int) j.clusterKeySlot(key);
    }
  }

  /** The master that serves a slot now, as a live node sees it. */
  public RedisServer masterOf(int slot) {
    for (String line : nodesLines(anyLive())) {
      String[] f = line.split(" ");
      if (f.length < 9 || !f[2].contains("master") || f[2].contains("fail")) continue;
      for (int i = 8; i < f.length; i++) {
        if (f[i].startsWith("[")) continue; // a slot being migrated
        String[] range = f[i].split("-");
        int from = Integer.parseInt(range[0]);
        int to = range.length > 1 ? Integer.parseInt(range[1]) : from;
        if (slot >= from && slot <= to) return byAddress(f[1]);
      }
    }
    throw new IllegalStateException("no live master serves slot " + slot);
  }

  /** Kills a node like a crash ({@code SIGKILL}). */
  public void kill(RedisServer node) {
    node.kill();
  }

  /**
   * Waits until a master other than {@code killed} serves {@code slot} and every live node says
   * cluster_state:ok: its replica was elected.
   */
  public RedisServer awaitFailover(int slot, RedisServer killed) {
    Eventually.until(FORMED, "a replica of the killed master serves slot " + slot, () -> {
      for (RedisServer node : nodes) {
        if (!node.running()) continue;
        try (Jedis j = jedis(node)) {
          if (!j.clusterInfo().contains("cluster_state:ok")) return false;
        } catch (RuntimeException e) {
          return false;
        }
      }
      try {
        return masterOf(slot) != killed;
      } catch (RuntimeException e) {
        return false;
      }
    });
    return masterOf(slot);
  }

  /**
   * Starts a killed node again on its port with its {@code nodes.conf}: it rejoins as a replica of
   * the master that replaced it. Waits until the whole cluster is healthy again, so the next
   * test can lose any master.
   */
  public void restart(RedisServer node) {
    node.start();
    awaitHealthy(nodes);
  }

  /**
   * The node on which a client named {@code clientName} (CLIENT SETNAME) holds a subscription,
   * or {@code null}.
   */
  public RedisServer subscribedNode(String clientName) {
    for (RedisServer node : nodes) {
      if (!node.running()) continue;
      try (Jedis j = jedis(node)) {
        for (String client : j.clientList().split("\n")) {
          if (client.contains(" name=" + clientName + " ") && !client.contains(" sub=0 ")) {
            return node;
          }
        }
      } catch (RuntimeException e) {
        // a node going down: not this one
      }
    }
    return null;
  }

  /** The sum of calls over {@code INFO commandstats} on the live masters. */
  public long commandCalls() {
    long sum = 0;
    for (RedisServer master : liveMasters()) sum += master.commandCalls();
    return sum;
  }

  @Override
  public void close() {
    for (RedisServer node : nodes) node.close();
  }

  private RedisServer anyLive() {
    for (RedisServer node : nodes) if (node.running()) return node;
    throw new IllegalStateException("no cluster node is running");
  }

  private RedisServer byAddress(String address) {
    // ip:port@busport
    String hostPort = address.contains("@") ? address.substring(0, address.indexOf('@'))
        : address;
    int port = Integer.parseInt(hostPort.substring(hostPort.lastIndexOf(':') + 1));
    for (RedisServer node : nodes) if (node.port() == port) return node;
    throw new IllegalStateException("no node on port " + port);
  }

  private static List<String> nodesLines(RedisServer node) {
    try (Jedis j = jedis(node)) {
      return j.clusterNodes().lines().filter(l -> !l.isBlank()).collect(Collectors.toList());
    }
  }

  private static String id(RedisServer node) {
    try (Jedis j = jedis(node)) {
      return j.clusterMyId();
    }
  }

  public static Jedis jedis(RedisServer node) {
    return jedis(node.port());
  }

  /** A plain connection for the fixture's own commands (RESP2, no negotiation warning). */
  public static Jedis jedis(int port) {
    return new Jedis(new HostAndPort("127.0.0.1", port), DefaultJedisClientConfig.builder()
        .socketTimeoutMillis(2_000).connectionTimeoutMillis(2_000).autoNegotiateProtocol(false)
        .build());
  }

  /** For failures: the log of every node. */
  public String logs() {
    StringBuilder sb = new StringBuilder();
    for (RedisServer node : nodes) {
      sb.append("--- node ").append(node.port()).append('\n').append(node.log()).append('\n');
    }
    return sb.toString();
  }
}
