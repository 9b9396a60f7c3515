package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisCluster;
import dev.geminirotator.testsupport.redis.RedisServer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import redis.clients.jedis.Jedis;

/**
 * The store on a real 3-master Redis Cluster (one replica each): two instances share state
 * across the masters, a killed master's replica takes over mid-traffic without a request failing,
 * and the instances converge. One cluster for the class; each test has its own prefix.
 */
class RedisClusterStoreTest {

  private static RedisCluster cluster;
  private final List<AutoCloseable> open = new ArrayList<>();
  /** A node a test killed: started again after it, as a replica, for the next test. */
  private RedisServer killed;

  @BeforeAll
  static void startCluster() {
    cluster = RedisCluster.start(3, 1);
  }

  @AfterAll
  static void stopCluster() {
    if (cluster != null) cluster.close();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
    if (killed != null) cluster.restart(killed);
  }

  private RedisKeyStateStore store(String prefix) {
    RedisKeyStateStore store = RedisKeyStateStore.open(cluster.uri("?prefix=" + prefix
        + "&timeout=1s&retry=100ms"));
    open.add(store);
    return store;
  }

  private GeminiKeyRotator instance(RedisKeyStateStore store, List<ApiKey> keys) {
    GeminiKeyRotator rotator = Pools.rotator(store, keys);
    open.add(rotator);
    return rotator;
  }

  private static List<ApiKey> keys(int n, int rpm) {
    List<ApiKey> keys = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      ApiKey.Builder b = Pools.key("k" + i).toBuilder();
      if (rpm > 0) b.requestsPerMinute(rpm);
      keys.add(b.build());
    }
    return keys;
  }

  @Test
  void twoInstancesShareStatusesCooldownsCountersAndValuesAcrossTheMasters() throws Exception {
    for (RedisServer node : cluster.liveMasters()) {
      try (Jedis j = RedisCluster.jedis(node)) {
        j.scriptFlush(); // what earlier tests cached by EVAL
      }
    }
    RedisKeyStateStore storeA = store("share:");
    // every master has the scripts: a counter on any of them is one EVALSHA, not NOSCRIPT + EVAL
    String counterScript = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1")
        .digest(Scripts.COUNTER.getBytes(StandardCharsets.UTF_8)));
    for (RedisServer node : cluster.liveMasters()) {
      try (Jedis j = RedisCluster.jedis(node)) {
        assertThat(j.scriptExists(counterScript)).as("the scripts on node %d", node.port())
            .isTrue();
      }
    }
    RedisKeyStateStore storeB = store("share:");
    assertThat(storeA.isAvailable()).isTrue();
    assertThat(storeA.describe()).startsWith("redis-cluster://127.0.0.1:");
    List<ApiKey> keys = keys(4, 0);
    List<String> ids = keys.stream().map(ApiKey::id).toList();
    GeminiKeyRotator a = instance(storeA, keys);
    GeminiKeyRotator b = instance(storeB, keys);

    a.acquire(Pools.only("k1", ids))
        .complete(Outcome.rateLimited(Duration.ofMinutes(5), QuotaScope.PER_MINUTE));
    b.disable("k2");
    Eventually.until("each instance sees the other's change", () ->
        b.snapshot("k1").orElseThrow().state() == KeyState.RATE_LIMITED
            && a.snapshot("k2").orElseThrow().state() == KeyState.DISABLED);
    assertThat(Pools.view(b)).isEqualTo(Pools.view(a));

    // counters and values of several names land on several masters and are shared
    Instant minute = Instant.parse("2026-11-26T12:00:00Z");
    Set<RedisServer> counterMasters = new HashSet<>();
    for (int i = 0; i < 12; i++) {
      String name = "quota:k" + i + ":rpm";
      Duration window = Duration.ofMinutes(1);
      assertThat(storeA.counters().orElseThrow().addAndGet(name, minute, window, 5)).isEqualTo(5);
      assertThat(storeB.counters().orElseThrow().addAndGet(name, minute, window, 3)).isEqualTo(8);
      counterMasters.add(cluster.masterOf(cluster.slot("share:counter:" + name
          + ":1m:20261126T120000Z")));
      StoreCalls.values(storeA).put("files/f" + i, "project-" + i, Duration.ofMinutes(1));
      assertThat(StoreCalls.values(storeB).get("files/f" + i)).isEqualTo("project-" + i);
    }
    assertThat(counterMasters).as("masters holding counters").hasSizeGreaterThan(1);
    // a third instance loads what the two wrote
    GeminiKeyRotator c = instance(store("share:"), keys);
    Eventually.untilAsserted("a new instance loads the shared state",
        () -> assertThat(Pools.view(c)).isEqualTo(Pools.view(a)));
  }

  /**
   * {@code poolMaster}: kill the master of the pool state's slot (every script runs there: writes
   * wait for the failover) or another one (counters on it fail over, and until the replica takes
   * over every node answers CLUSTERDOWN, to the pool state's writes too).
   */
  @ParameterizedTest(name = "the pool state''s master: {0}")
  @ValueSource(booleans = {true, false})
  void aKilledMasterIsReplacedMidTrafficWithoutAFailedRequestAndTheInstancesConverge(
      boolean poolMaster) throws Exception {
    String prefix = "failover-" + poolMaster + ":";
    RedisKeyStateStore storeA = store(prefix);
    RedisKeyStateStore storeB = store(prefix);
    List<ApiKey> keys = keys(20, 1_000_000); // quotas: every request also counts
    List<String> ids = keys.stream().map(ApiKey::id).toList();
    GeminiKeyRotator a = instance(storeA, keys);
    GeminiKeyRotator b = instance(storeB, keys);

    AtomicBoolean stop = new AtomicBoolean();
    AtomicLong served = new AtomicLong();
    ConcurrentLinkedQueue<Throwable> failures = new ConcurrentLinkedQueue<>();
    List<Thread> traffic = new ArrayList<>();
    for (GeminiKeyRotator rotator : List.of(a, b)) {
      Thread t = new Thread(() -> {
        long i = 0;
        while (!stop.get()) {
          i++;
          try {
            // every 10th request is rate-limited, on a model of its own: a cooldown that stays
            // for the whole test (a change to share) without ever emptying the pool
            boolean limited = i % 10 == 0;
            RequestContext ctx = RequestContext.forModel(limited
                ? "model-" + Thread.currentThread().getId() + "-" + i : "gemini-2.5-flash");
            KeyLease lease = rotator.acquire(ctx);
            lease.complete(limited
                ? Outcome.rateLimited(Duration.ofMinutes(10), QuotaScope.PER_MINUTE)
                : Outcome.success());
            served.incrementAndGet();
          } catch (Throwable e) {
            failures.add(e);
          }
          LockSupport.parkNanos(200_000); // a steady few thousand requests a second
        }
      }, "traffic");
      traffic.add(t);
      t.start();
    }
    try {
      Eventually.until("traffic flows", () -> served.get() > 500);
      int poolSlot = cluster.slot("{" + prefix + "}meta");
      RedisServer poolState = cluster.masterOf(poolSlot);
      killed = poolMaster ? poolState : cluster.liveMasters().stream()
          .filter(m -> m != poolState).findFirst().orElseThrow();
      int slot = poolMaster ? poolSlot : slotServedBy(killed);
      cluster.kill(killed);
      long servedAtKill = served.get();
      RedisServer promoted = cluster.awaitFailover(slot, killed);
      assertThat(promoted).isNotSameAs(killed);
      Eventually.until("both stores reach the promoted master",
          () -> storeA.isAvailable() && storeB.isAvailable() && storeA.pendingWrites() == 0
              && storeB.pendingWrites() == 0);
      long servedAfter = served.get();
      Eventually.until("traffic goes on after the failover", () -> served.get() > servedAfter
          + 500);
      assertThat(servedAfter).as("requests served while the master was down or replaced")
          .isGreaterThan(servedAtKill);
    } finally {
      stop.set(true);
      for (Thread t : traffic) t.join(10_000);
    }
    assertThat(failures).as("requests that failed").isEmpty();
    assertThat(storeA.outages() + storeB.outages()).as("the stores saw the outage")
        .isPositive();

    // every change made before, during and after the failover reaches both instances
    Eventually.untilAsserted(Duration.ofSeconds(60), "the two instances converge",
        () -> assertThat(differences(a, b, ids)).isEmpty());
    assertThat(Pools.view(a).values().stream().filter(v -> v.contains("model-")).count())
        .as("keys with cooldowns").isPositive();

    // after the failover: new changes through either instance reach the other and Redis
    a.disable("k3");
    b.acquire(Pools.only("k4", ids))
        .complete(Outcome.rateLimited(Duration.ofMinutes(5), QuotaScope.PER_MINUTE));
    Eventually.until("post-failover changes cross over", () ->
        b.snapshot("k3").orElseThrow().state() == KeyState.DISABLED
            && a.snapshot("k4").orElseThrow().state() == KeyState.RATE_LIMITED);
    GeminiKeyRotator fresh = instance(store(prefix), keys);
    Eventually.until("a new instance loads them from the promoted master", () ->
        fresh.snapshot("k3").orElseThrow().state() == KeyState.DISABLED
            && fresh.snapshot("k4").orElseThrow().state() == KeyState.RATE_LIMITED);
    // counters keep counting on the promoted master too
    Instant minute = Instant.parse("2026-11-26T12:00:00Z");
    for (int i = 0; i < 6; i++) {
      assertThat(storeA.counters().orElseThrow()
          .addAndGet("after:" + i, minute, Duration.ofMinutes(1), 2)).isEqualTo(2);
    }
  }

  @Test
  void theSubscriberMovesToAnotherNodeWhenTheNodeItListensOnDies() {
    RedisKeyStateStore storeA = store("subscriber:");
    RedisKeyStateStore storeB = store("subscriber:");
    List<ApiKey> keys = keys(4, 0);
    GeminiKeyRotator a = instance(storeA, keys);
    GeminiKeyRotator b = instance(storeB, keys);
    String name = "gemini-rotator-" + storeB.instanceId();
    killed = Eventually.value("the node B's subscriber listens on",
        () -> cluster.subscribedNode(name), java.util.Objects::nonNull);
    boolean wasMaster = cluster.liveMasters().contains(killed);
    int slot = wasMaster ? slotServedBy(killed) : -1;
    cluster.kill(killed);
    if (wasMaster) cluster.awaitFailover(slot, killed);

    RedisServer now = Eventually.value("B subscribes on another node",
        () -> cluster.subscribedNode(name), java.util.Objects::nonNull);
    assertThat(now).isNotSameAs(killed);
    a.disable("k1");
    Eventually.until("a change made through A after the loss reaches B",
        () -> b.snapshot("k1").orElseThrow().state() == KeyState.DISABLED);
  }

  /** Where two instances disagree: a key's state, or a cooldown only one has (or ends apart). */
  private static List<String> differences(GeminiKeyRotator a, GeminiKeyRotator b,
      List<String> ids) {
    List<String> found = new ArrayList<>();
    for (String id : ids) {
      KeySnapshot x = a.snapshot(id).orElseThrow();
      KeySnapshot y = b.snapshot(id).orElseThrow();
      if (x.state() != y.state()) {
        found.add(id + ": " + x.state() + " on A, " + y.state() + " on B");
      }
      Set<String> models = new java.util.TreeSet<>(x.cooldowns().keySet());
      models.addAll(y.cooldowns().keySet());
      for (String model : models) {
        Instant onA = x.cooldowns().get(model);
        Instant onB = y.cooldowns().get(model);
        if (!java.util.Objects.equals(onA, onB)) {
          found.add(id + " cooldown for " + model + ": " + onA + " on A, " + onB + " on B");
        }
      }
    }
    return found;
  }

  /** A slot that a master serves now. */
  private static int slotServedBy(RedisServer master) {
    for (int slot = 0; slot < RedisCluster.SLOTS; slot += 97) {
      if (cluster.masterOf(slot) == master) return slot;
    }
    throw new IllegalStateException("no slot on " + master.port());
  }

  @Test
  void aRequestCostsLessThanOneRedisCommandOnAverageAsOnOneServer() {
    RedisKeyStateStore storeA = store("trips:");
    RedisKeyStateStore storeB = store("trips:");
    List<ApiKey> keys = keys(50, 1_000_000);
    List<GeminiKeyRotator> rotators = List.of(instance(storeA, keys), instance(storeB, keys));
    Eventually.until("both subscribed", () -> storeA.isAvailable() && storeB.isAvailable());
    long before = cluster.commandCalls();
    int requests = 6_000;
    for (int i = 0; i < requests; i++) {
      int roll = i % 100; // the mix of StoreThroughputBenchmark: 97% 200, 2% 429, 1% 500
      // a 429 cools a model of its own: every one is a write, and the pool never runs dry
      KeyLease lease = rotators.get(i % 2).acquire(RequestContext.forModel(
          roll == 97 || roll == 98 ? "limited-" + i : "gemini-2.5-flash"));
      lease.complete(roll < 97 ? Outcome.success()
          : roll < 99 ? Outcome.rateLimited(Duration.ofMinutes(1), QuotaScope.PER_MINUTE)
          : Outcome.upstreamError(500, "INTERNAL"));
    }
    Eventually.until("every write is in Redis",
        () -> storeA.pendingWrites() == 0 && storeB.pendingWrites() == 0);
    long commands = cluster.commandCalls() - before;
    System.out.printf("cluster: %d requests, %d commands on the masters (%.3f a request)%n",
        requests, commands, (double) commands / requests);
    // every command counted, those inside the Lua scripts too: round trips are fewer still
    assertThat(commands).as("Redis commands on the masters for %d requests", requests)
        .isLessThan(requests / 2);
  }
}
