package dev.geminirotator.benchmarks.counters;

import java.util.Map;
import java.util.TreeMap;
import redis.clients.jedis.UnifiedJedis;

/**
 * Redis's {@code INFO commandstats}, command by command. A command a Lua script runs is counted
 * under its own name too (an EVALSHA that runs INCRBY and PTTL counts as evalsha, incrby and pttl),
 * so {@link #roundTrips} counts only the commands a client sends. Not thread-safe.
 */
final class CommandStats {

  /** Commands only ever run inside the scripts measured here, never sent by their clients. */
  private static final java.util.Set<String> SCRIPTED_ONLY = java.util.Set.of("incrby", "pttl",
      "pexpire", "psetex", "set");

  private CommandStats() {
  }

  /** Calls per command since the server started (or its stats were reset). */
  static Map<String, Long> read(UnifiedJedis redis) {
    Map<String, Long> calls = new TreeMap<>();
    for (String line : redis.info("commandstats").split("\r?\n")) {
      int i = line.indexOf("calls=");
      if (line.startsWith("cmdstat_") && i > 0) {
        calls.put(line.substring(8, line.indexOf(':')),
            Long.parseLong(line.substring(i + 6, line.indexOf(',', i))));
      }
    }
    return calls;
  }

  /** What was called between two reads, less the INFO calls that read them. */
  static Map<String, Long> delta(Map<String, Long> before, Map<String, Long> after) {
    Map<String, Long> d = new TreeMap<>();
    after.forEach((k, v) -> {
      long n = v - before.getOrDefault(k, 0L) - (k.equals("info") ? 1 : 0);
      if (n > 0) d.put(k, n);
    });
    return d;
  }

  /**
   * The commands clients sent: every command, less those the measured scripts run (INCRBY, PTTL,
   * PEXPIRE of the store's counter script; SET, PSETEX of Bucket4j's compare-and-swap). A GET in
   * Bucket4j's script is counted as a round trip here, so for Bucket4j the exact count is its own
   * ({@link CountingRedisApi}).
   */
  static long roundTrips(Map<String, Long> delta) {
    long n = 0;
    for (Map.Entry<String, Long> e : delta.entrySet()) {
      if (!SCRIPTED_ONLY.contains(e.getKey())) n += e.getValue();
    }
    return n;
  }
}
