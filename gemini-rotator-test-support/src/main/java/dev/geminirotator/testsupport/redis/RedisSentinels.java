package dev.geminirotator.testsupport.redis;

import dev.geminirotator.testsupport.Eventually;
import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import redis.clients.jedis.Jedis;

/**
 * A real Redis Sentinel set-up on 127.0.0.1 for tests: a master, one replica and three sentinels
 * ({@code redis-server sentinel.conf --sentinel}, quorum 2) watching it as {@value #MASTER_NAME},
 * all from {@link RedisServer#binary()}. A master is counted down after 1 s
 * ({@code down-after-milliseconds}), so {@link #killMaster()} and {@link #awaitFailover} take a few
 * seconds. Free ports and temporary directories; {@link #close()} stops every process. Not
 * thread-safe: one test class drives it.
 */
public final class RedisSentinels implements AutoCloseable {

  /** The name the sentinels know the master by. */
  public static final String MASTER_NAME = "mymaster";
  private static final Duration READY = Duration.ofSeconds(60);

  private final List<RedisServer> servers = new ArrayList<>();
  private final List<Sentinel> sentinels = new ArrayList<>();

  private RedisSentinels() {
  }

  /** Starts the master, its replica and three sentinels, and waits until they know each other. */
  public static RedisSentinels start() {
    RedisSentinels set = new RedisSentinels();
    try {
      RedisServer master = RedisServer.startOnFreePort("--repl-diskless-sync", "yes",
          "--repl-diskless-sync-delay", "0");
      set.servers.add(master);
      set.servers.add(RedisServer.startOnFreePort("--replicaof", "127.0.0.1",
          Integer.toString(master.port()), "--repl-diskless-sync", "yes",
          "--repl-diskless-sync-delay", "0"));
      Eventually.until(READY, "the replica is in sync", () -> {
        try (Jedis j = RedisCluster.jedis(set.servers.get(1))) {
          return j.info("replication").contains("master_link_status:up");
        }
      });
      for (int i = 0; i < 3; i++) set.sentinels.add(Sentinel.start(master.port()));
      Eventually.until(READY, "every sentinel knows the replica and the two other sentinels",
          () -> {
            for (Sentinel s : set.sentinels) {
              try (Jedis j = RedisCluster.jedis(s.port)) {
                Map<String, String> m = j.sentinelMaster(MASTER_NAME);
                if (!"2".equals(m.get("num-other-sentinels"))
                    || !"1".equals(m.get("num-slaves"))) {
                  return false;
                }
              } catch (RuntimeException e) {
                return false;
              }
            }
            return true;
          });
    } catch (RuntimeException | Error e) {
      set.close();
      throw e;
    }
    return set;
  }

  /** {@code redis-sentinel://127.0.0.1:s1,127.0.0.1:s2,127.0.0.1:s3/mymaster} plus a suffix. */
  public String uri(String suffix) {
    return "redis-sentinel://" + sentinels.stream().map(s -> "127.0.0.1:" + s.port)
        .collect(Collectors.joining(",")) + "/" + MASTER_NAME + suffix;
  }

  /** The master the sentinels name now. */
  public RedisServer master() {
    for (Sentinel s : sentinels) {
      try (Jedis j = RedisCluster.jedis(s.port)) {
        List<String> address = j.sentinelGetMasterAddrByName(MASTER_NAME);
        return byPort(Integer.parseInt(address.get(1)));
      } catch (RuntimeException e) {
        // ask the next one
      }
    }
    throw new IllegalStateException("no sentinel answers");
  }

  /** Kills the current master like a crash ({@code SIGKILL}) and returns it. */
  public RedisServer killMaster() {
    RedisServer master = master();
    master.kill();
    return master;
  }

  /**
   * Waits until every sentinel names a running master other than {@code old}, and that server
   * says it is a master: the replica was promoted.
   */
  public RedisServer awaitFailover(RedisServer old) {
    Eventually.until(READY, "the sentinels promote the replica of " + old.port(), () -> {
      for (Sentinel s : sentinels) {
        try (Jedis j = RedisCluster.jedis(s.port)) {
          int port = Integer.parseInt(j.sentinelGetMasterAddrByName(MASTER_NAME).get(1));
          if (port == old.port()) return false;
          RedisServer promoted = byPort(port);
          if (!promoted.running()) return false;
          try (Jedis p = RedisCluster.jedis(promoted)) {
            if (!p.info("replication").contains("role:master")) return false;
          }
        } catch (RuntimeException e) {
          return false;
        }
      }
      return true;
    });
    return master();
  }

  @Override
  public void close() {
    for (Sentinel s : sentinels) s.close();
    for (RedisServer server : servers) server.close();
  }

  private RedisServer byPort(int port) {
    for (RedisServer server : servers) if (server.port() == port) return server;
    throw new IllegalStateException("no server on port " + port);
  }

  /** One {@code redis-server sentinel.conf --sentinel} process. */
  private static final class Sentinel implements AutoCloseable {
    final int port;
    final Path dir;
    final Process process;

    private Sentinel(int port, Path dir, Process process) {
      this.port = port;
      this.dir = dir;
      this.process = process;
    }

    static Sentinel start(int masterPort) {
      int port = RedisServer.freePort();
      try {
        Path dir = Files.createTempDirectory("redis-sentinel-test-");
        Path conf = dir.resolve("sentinel.conf");
        // the sentinel rewrites its file: it must be writable and its own
        Files.writeString(conf, String.join("\n",
            "port " + port,
            "bind 127.0.0.1",
            "daemonize no",
            "dir " + dir,
            "sentinel monitor " + MASTER_NAME + " 127.0.0.1 " + masterPort + " 2",
            "sentinel down-after-milliseconds " + MASTER_NAME + " 1000",
            "sentinel failover-timeout " + MASTER_NAME + " 10000",
            "sentinel parallel-syncs " + MASTER_NAME + " 1",
            ""));
        Process process = new ProcessBuilder(RedisServer.binary().toString(), conf.toString(),
            "--sentinel").redirectErrorStream(true)
            .redirectOutput(dir.resolve("sentinel.log").toFile()).start();
        Sentinel sentinel = new Sentinel(port, dir, process);
        try {
          Eventually.until(READY, "the sentinel answers on port " + port, () -> {
            if (!process.isAlive()) {
              throw new IllegalStateException("the sentinel exited at start: " + sentinel.log());
            }
            try (Jedis j = RedisCluster.jedis(port)) {
              return "PONG".equals(j.ping());
            } catch (RuntimeException e) {
              return false;
            }
          });
        } catch (RuntimeException | Error e) {
          sentinel.close();
          throw e;
        }
        return sentinel;
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    String log() {
      try {
        return Files.readString(dir.resolve("sentinel.log"));
      } catch (IOException e) {
        return "(no log)";
      }
    }

    @Override
    public void close() {
      process.destroyForcibly();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      File[] files = dir.toFile().listFiles();
      if (files != null) for (File f : files) f.delete();
      dir.toFile().delete();
    }
  }
}
