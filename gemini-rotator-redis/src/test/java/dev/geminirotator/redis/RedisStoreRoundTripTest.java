package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import redis.clients.jedis.JedisPubSub;
import redis.clients.jedis.RedisClient;
import redis.clients.jedis.params.ScanParams;
import redis.clients.jedis.resps.ScanResult;

class RedisStoreRoundTripTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private final List<RedisKeyStateStore> stores = new ArrayList<>();
  private final Instant now = Instant.now().truncatedTo(ChronoUnit.MILLIS);

  @BeforeEach
  void emptyRedis() {
    redis.client().flushAll();
  }

  @AfterEach
  void closeStores() {
    stores.forEach(RedisKeyStateStore::close);
  }

  private RedisKeyStateStore open() {
    RedisKeyStateStore store = RedisKeyStateStore.open(redis.uri("/0"));
    stores.add(store);
    return store;
  }

  private static ApiKey runtimeKey() {
    return ApiKey.builder("AIzaSyRUNTIME-secret-0123456789abcd").id("rt-1").weight(3)
        .project("proj-9").label("tier", "paid").requestsPerMinute(60).requestsPerDay(1000)
        .build();
  }

  @Test
  void everyChangeTypeSurvivesApplyAndLoadOnAnotherInstance() {
    RedisKeyStateStore writer = open();
    Instant until = now.plusSeconds(120);
    writer.apply(new StateChange.KeyStatus("a", KeyState.INVALID, null, "400 API_KEY_INVALID", now));
    writer.apply(new StateChange.KeyStatus("b", KeyState.UNHEALTHY, until, "health 0.40", now));
    writer.apply(new StateChange.KeyStatus("c", KeyState.DISABLED, null, "by an operator", now));
    writer.apply(new StateChange.Cooldown("proj-1", "gemini-2.5-flash", until, false));
    writer.apply(new StateChange.Cooldown("key:solo", "*", until.plusSeconds(1), false));
    writer.apply(new StateChange.Health("a", 0.42));
    writer.apply(new StateChange.KeyAdded(runtimeKey()));
    writer.apply(new StateChange.KeyRemoved("gone"));
    writer.apply(new StateChange.Breaker("upstream", "OPEN", until));

    RedisKeyStateStore reader = open();
    StoreSnapshot s = Eventually.value("everything in Redis", reader::load,
        x -> x.breakers().size() == 1 && x.health().size() == 1 && x.statuses().size() == 3
            && x.cooldowns().size() == 2 && x.addedKeys().size() == 1
            && x.removedKeyIds().size() == 1);

    assertThat(s.statuses().get("a")).isEqualTo(
        new StateChange.KeyStatus("a", KeyState.INVALID, null, "400 API_KEY_INVALID", now));
    assertThat(s.statuses().get("b")).isEqualTo(
        new StateChange.KeyStatus("b", KeyState.UNHEALTHY, until, "health 0.40", now));
    assertThat(s.statuses().get("c").state()).isEqualTo(KeyState.DISABLED);
    assertThat(s.cooldowns()).containsExactlyInAnyOrder(
        new StateChange.Cooldown("proj-1", "gemini-2.5-flash", until, false),
        new StateChange.Cooldown("key:solo", "*", until.plusSeconds(1), false));
    assertThat(s.health()).isEqualTo(Map.of("a", 0.42));
    ApiKey loaded = s.addedKeys().get(0);
    ApiKey original = runtimeKey();
    assertThat(loaded.id()).isEqualTo(original.id());
    assertThat(loaded.secret()).isEqualTo(original.secret());
    assertThat(loaded.weight()).isEqualTo(3);
    assertThat(loaded.labels()).isEqualTo(original.labels());
    assertThat(loaded.requestsPerMinute()).isEqualTo(original.requestsPerMinute());
    assertThat(loaded.requestsPerDay()).isEqualTo(original.requestsPerDay());
    assertThat(s.removedKeyIds()).containsExactly("gone");
    assertThat(s.breakers().get("upstream"))
        .isEqualTo(new StateChange.Breaker("upstream", "OPEN", until));
  }

  @Test
  void redisKeysExplainTheStateAndExpire() {
    RedisKeyStateStore store = open();
    Instant until = now.plusSeconds(60);
    store.apply(new StateChange.KeyStatus("a", KeyState.INVALID, null, "rejected", now));
    store.apply(new StateChange.Cooldown("proj-1", "gemini-2.5-pro", until, false));
    store.apply(new StateChange.Health("a", 0.5));
    store.apply(new StateChange.KeyAdded(runtimeKey()));
    store.apply(new StateChange.KeyRemoved("old"));
    store.apply(new StateChange.Breaker("upstream", "OPEN", until));
    StoreCalls.countNow(store, "client:team-a", Duration.ofMinutes(1));

    Set<String> expected = Set.of("gemini_rotator:key:a:status", "gemini_rotator:keys:status",
        "gemini_rotator:cooldown:proj-1:gemini-2.5-pro", "gemini_rotator:cooldowns",
        "gemini_rotator:health", "gemini_rotator:keys:added", "gemini_rotator:keys:removed",
        "gemini_rotator:breaker:upstream", "gemini_rotator:breakers", "gemini_rotator:meta");
    Set<String> keys = Eventually.value("keys written", this::scan,
        k -> k.containsAll(expected));
    assertThat(keys).anyMatch(k -> k.startsWith("gemini_rotator:counter:client:team-a:1m:"));

    var c = redis.client();
    assertThat(c.hgetAll("gemini_rotator:key:a:status"))
        .containsEntry("state", "INVALID").containsEntry("reason", "rejected")
        .containsEntry("at", Long.toString(now.toEpochMilli())).containsKeys("gen", "origin");
    assertThat(c.hgetAll("gemini_rotator:cooldown:proj-1:gemini-2.5-pro"))
        .containsEntry("until", Long.toString(until.toEpochMilli()))
        .containsEntry("project", "proj-1").containsEntry("model", "gemini-2.5-pro");
    assertThat(c.pttl("gemini_rotator:cooldown:proj-1:gemini-2.5-pro"))
        .as("expires with the cooldown (PEXPIREAT until)").isBetween(50_000L, 60_000L);
    String counter = keys.stream().filter(k -> k.contains(":counter:")).findFirst().orElseThrow();
    assertThat(c.get(counter)).isEqualTo("1");
    assertThat(c.pttl(counter)).isBetween(1L, 61_000L);
    assertThat(c.hget("gemini_rotator:health", "a")).isEqualTo("0.5");
    assertThat(c.sismember("gemini_rotator:keys:removed", "old")).isTrue();
    assertThat(c.hget("gemini_rotator:keys:added", "rt-1")).contains("\"id\":\"rt-1\"");
  }

  @Test
  void aStatusWrittenWithoutKnowingANewerOneNeverOverwritesItAndItsWriterLearnsTheWinner() {
    RedisKeyStateStore slow = open();
    List<StateChange> seenBySlow = new CopyOnWriteArrayList<>();
    slow.subscribe(seenBySlow::add);
    // another instance's status, written after everything slow has seen (no message: slow cannot
    // have learnt it), stamped by a clock far behind slow's
    long gen = (System.currentTimeMillis() + 3_600_000) * 1_000; // Redis's sequence an hour on
    redis.client().hset("gemini_rotator:key:k:status", Map.of("state", "INVALID", "until", "",
        "reason", "newer", "at", Long.toString(now.minusSeconds(3600).toEpochMilli()),
        "gen", Long.toString(gen), "origin", "elsewhere", "other", "0"));
    redis.client().sadd("gemini_rotator:keys:status", "k");

    slow.apply(new StateChange.KeyStatus("k", KeyState.UNHEALTHY, now.plusSeconds(5), "older",
        now));

    Eventually.until("slow store hands its listeners the status that stands", () ->
        seenBySlow.size() > 1 && seenBySlow.get(seenBySlow.size() - 1)
            instanceof StateChange.KeyStatus s && "newer".equals(s.reason()));
    assertThat(redis.client().hget("gemini_rotator:key:k:status", "reason")).isEqualTo("newer");
    assertThat(slow.load().statuses().get("k").reason()).isEqualTo("newer");
  }

  @Test
  void aStatusWrittenAfterSeeingAnotherReplacesItWhateverTheWritersClocksSay() {
    RedisKeyStateStore ahead = open();
    RedisKeyStateStore behind = open();
    List<StateChange> seenByBehind = new CopyOnWriteArrayList<>();
    behind.subscribe(seenByBehind::add);
    ahead.apply(new StateChange.KeyStatus("k", KeyState.INVALID, null, "first",
        now.plusSeconds(3600)));
    Eventually.until("the other instance learns the first status", () -> seenByBehind.stream()
        .anyMatch(c -> c instanceof StateChange.KeyStatus s && "first".equals(s.reason())));

    behind.apply(new StateChange.KeyStatus("k", KeyState.HEALTHY, null, "second", now));

    Eventually.until("the later change stands in Redis",
        () -> "second".equals(redis.client().hget("gemini_rotator:key:k:status", "reason")));
    // HEALTHY with no deadline is the default, which a snapshot leaves out (StoreSnapshot)
    Eventually.until("and on the instance whose clock is ahead",
        () -> !ahead.load().statuses().containsKey("k"));
  }

  @Test
  void aCooldownOnlyMovesLaterUntilItIsCleared() {
    RedisKeyStateStore a = open();
    RedisKeyStateStore b = open();
    String key = "gemini_rotator:cooldown:p:m";
    a.apply(new StateChange.Cooldown("p", "m", now.plusSeconds(60), false));
    Eventually.until("cooldown stored", () -> redis.client().exists(key));
    b.apply(new StateChange.Cooldown("p", "m", now.plusSeconds(30), false));
    b.apply(new StateChange.Cooldown("q", "m", now.plusSeconds(1), false));
    Eventually.until("b flushed", () -> redis.client().exists("gemini_rotator:cooldown:q:m"));
    assertThat(redis.client().hget(key, "until"))
        .isEqualTo(Long.toString(now.plusSeconds(60).toEpochMilli()));

    b.apply(new StateChange.Cooldown("p", "m", Instant.EPOCH, true));
    Eventually.until("cleared", () -> "1".equals(redis.client().hget(key, "cleared")));
    assertThat(a.load().cooldowns()).noneMatch(c -> c.project().equals("p"));

    a.apply(new StateChange.Cooldown("p", "m", now.plusSeconds(10), false));
    Eventually.until("a shorter cooldown after a clear stands", () -> Long.toString(
        now.plusSeconds(10).toEpochMilli()).equals(redis.client().hget(key, "until")));
    assertThat(b.load().cooldowns()).contains(
        new StateChange.Cooldown("p", "m", now.plusSeconds(10), false));
  }

  @Test
  void removingAKeyTakesItsStatusAndHealthAlongAndReAddingBringsItBack() {
    RedisKeyStateStore store = open();
    store.apply(new StateChange.KeyAdded(runtimeKey()));
    store.apply(new StateChange.KeyStatus("rt-1", KeyState.INVALID, null, "x", now));
    store.apply(new StateChange.Health("rt-1", 0.1));
    Eventually.until("written", () -> redis.client().exists("gemini_rotator:key:rt-1:status"));
    store.apply(new StateChange.KeyRemoved("rt-1"));
    Eventually.until("removed", () -> !redis.client().exists("gemini_rotator:key:rt-1:status"));
    StoreSnapshot s = open().load();
    assertThat(s.addedKeys()).isEmpty();
    assertThat(s.removedKeyIds()).containsExactly("rt-1");
    assertThat(s.statuses()).doesNotContainKey("rt-1");
    assertThat(s.health()).doesNotContainKey("rt-1");

    store.apply(new StateChange.KeyAdded(runtimeKey()));
    StoreSnapshot again = Eventually.value("re-added", () -> open().load(),
        x -> x.addedKeys().size() == 1);
    assertThat(again.removedKeyIds()).isEmpty();
  }

  @Test
  void secretsOfRuntimeKeysAreStoredButNeverPublished() throws Exception {
    RedisKeyStateStore store = open();
    List<String> messages = new CopyOnWriteArrayList<>();
    try (RedisClient raw = RedisClient.create("redis://127.0.0.1:" + redis.port())) {
      JedisPubSub pubSub = new JedisPubSub() {
        @Override
        public void onMessage(String channel, String message) {
          messages.add(message);
        }
      };
      Thread t = new Thread(() -> raw.subscribe(pubSub, "gemini_rotator:changes"));
      t.start();
      Eventually.until("subscribed", pubSub::isSubscribed);
      store.apply(new StateChange.KeyAdded(runtimeKey()));
      Eventually.until("published", () -> !messages.isEmpty());
      pubSub.unsubscribe();
      t.join(5_000);
    }
    assertThat(messages.get(0)).contains("\"t\":\"added\"").contains("rt-1")
        .doesNotContain(runtimeKey().secret());
    assertThat(redis.client().hget("gemini_rotator:keys:added", "rt-1"))
        .contains(runtimeKey().secret());
    assertThat(store.describe()).doesNotContain(runtimeKey().secret());
  }

  private Set<String> scan() {
    Set<String> keys = new TreeSet<>();
    String cursor = ScanParams.SCAN_POINTER_START;
    do {
      ScanResult<String> r = redis.client().scan(cursor,
          new ScanParams().match("gemini_rotator:*").count(1000));
      keys.addAll(r.getResult());
      cursor = r.getCursor();
    } while (!cursor.equals(ScanParams.SCAN_POINTER_START));
    return keys;
  }
}
