package dev.geminirotator.standalone.reliability;

import static dev.geminirotator.standalone.Harness.KEYS;
import static dev.geminirotator.standalone.Harness.json;
import static dev.geminirotator.testsupport.Eventually.until;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.event.KeyAdded;
import dev.geminirotator.api.event.KeyRemoved;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.testsupport.redis.RedisServer;
import dev.geminirotator.standalone.config.ConfigWatcher;
import dev.geminirotator.standalone.Harness;
import dev.geminirotator.standalone.LogCapture;
import dev.geminirotator.standalone.Harness.Yaml;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import redis.clients.jedis.RedisClient;

/** Redis dies and comes back, the config file turns to garbage or vanishes: clients notice nothing. */
@ExtendWith(SecretScan.class)
class StorageAndConfigFaultsTest {

  Harness f;
  RedisServer redis;
  ConfigWatcher watcher;
  Load load;

  @AfterEach
  void stop() throws Exception {
    if (load != null) load.stop();
    if (watcher != null) watcher.close();
    if (f != null) f.close();
    if (redis != null) redis.close();
  }

  @Test
  void redisKilledAndRestartedUnderLoadCostsNoRequestAndStateIsWrittenBack() throws Exception {
    redis = RedisServer.startOnFreePort();
    AtomicBoolean limitK1 = new AtomicBoolean();
    f = Harness.start(Yaml.keys(3).section("storage: \""
        + redis.uri("?timeout=300ms&connectTimeout=300ms&retry=100ms") + "\""));
    f.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        boolean k1 = KEYS.get(0).equals(request.getHeaders().get("x-goog-api-key"));
        return k1 && limitK1.get()
            ? json(429, Fixtures.geminiError("429-per-minute"))
            : json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    });
    load = Load.generate(f, 4);
    load.awaitMore(20);

    redis.kill();
    until("the store notices Redis is gone", () -> !f.proxy.rotator().store().isAvailable());
    limitK1.set(true); // k1 is cooled while Redis is down: only this instance knows it
    until("k1 rate-limited during the outage", () -> f.proxy.rotator().snapshot("k1")
        .map(k -> k.state() == KeyState.RATE_LIMITED).orElse(false));
    load.awaitMore(30);
    HttpResponse<String> health = f.get("/health/detailed");
    // Still serving from local state: ready, degraded (a 503 would take every instance out).
    assertThat(health.statusCode()).isEqualTo(200);
    assertThat(health.body()).contains("\"status\":\"DEGRADED\"")
        .contains("\"store\":{\"status\":\"DOWN\"");

    redis.start(); // back on the same port, empty
    until("the store reconnects", () -> f.proxy.rotator().store().isAvailable());
    load.awaitMore(30);
    load.stop();

    assertThat(load.failures).as("client errors during the Redis outage").isEmpty();
    assertThat(load.count(200)).isEqualTo(load.total()).isGreaterThanOrEqualTo(80);
    // Reconciled: the cooldown learned during the outage is written back to the empty Redis.
    try (RedisClient jedis = RedisClient.create(redis.uri())) {
      until("the outage's cooldown is in Redis",
          () -> !jedis.keys("gemini_rotator:cooldown:*").isEmpty());
      Set<String> cooldowns = jedis.keys("gemini_rotator:cooldown:*");
      assertThat(cooldowns).singleElement().asString().endsWith(":gemini-2.5-flash");
    }
    assertThat(f.get("/health/detailed").body()).contains("\"store\":{\"status\":\"UP\"");
    assertThat(f.proxy.rotator().snapshot()).extracting(KeySnapshot::state)
        .doesNotContain(KeyState.INVALID);
  }

  static void replace(Path file, byte[] content) throws Exception {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, content);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }

  @Test
  void garbageEmptyAndDeletedConfigFilesUnderLoadLeaveTheLastGoodConfigInForce()
      throws Exception {
    f = Harness.start(Yaml.keys(2));
    f.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    });
    String good = Files.readString(f.configFile);
    watcher = new ConfigWatcher(f.configFile, f.proxy, Map.of(),
        new StandaloneConfig.Overrides(null, 0), Duration.ofMillis(50));
    load = Load.generate(f, 4);
    load.awaitMore(10);

    // Each bad file is awaited through the watcher's own warning that it keeps the running
    // configuration (a real signal that it read the file), and every key change is recorded:
    // a bad file applied even for a moment shows up there.
    List<String> keyChanges = new CopyOnWriteArrayList<>();
    f.proxy.rotator().addListener(new RotatorListener() {
      @Override
      public void onKeyAdded(KeyAdded event) {
        keyChanges.add("added " + event.keyId());
      }

      @Override
      public void onKeyRemoved(KeyRemoved event) {
        keyChanges.add("removed " + event.keyId());
      }
    });
    try (LogCapture watcherLog = LogCapture.of(ConfigWatcher.class)) {
      replace(f.configFile, new byte[] {0, (byte) 0xff, (byte) 0xfe, '{', '{', ':', '\n', '-'});
      watcherLog.awaitWarningAfter(0, "the watcher rejects the binary garbage");
      load.awaitMore(10);
      replace(f.configFile, "keys: [\n  - id: broken\n".getBytes(StandardCharsets.UTF_8));
      watcherLog.awaitWarningAfter(1, "the watcher rejects the unterminated YAML");
      load.awaitMore(10);
      Files.write(f.configFile, new byte[0]);
      watcherLog.awaitWarningAfter(2, "the watcher rejects the empty file");
      load.awaitMore(10);
      Files.delete(f.configFile);
      assertThat(watcherLog.awaitWarningAfter(3, "the watcher notices the file is gone"))
          .contains("cannot be read");
      load.awaitMore(10);
      assertThat(watcherLog.warnings()).hasSize(4)
          .allMatch(w -> w.contains("keeping the running configuration"));
    }
    HttpResponse<String> reload = f.admin("POST", "/admin/reload");
    SecretScan.record(reload.body());
    assertThat(reload.statusCode()).as("reloading a deleted file: %s", reload.body())
        .isBetween(400, 499);

    assertThat(f.proxy.rotator().snapshot()).extracting(KeySnapshot::id)
        .containsExactlyInAnyOrder("k1", "k2");
    assertThat(f.generate().statusCode()).isEqualTo(200);
    assertThat(f.get(Harness.GENERATE).statusCode()).as("tokens still required")
        .isEqualTo(401);

    // The watcher survived it all: a good file is applied again.
    Files.writeString(f.configFile, good.replace("keys:\n", "keys:\n  - id: k3\n    secret: "
        + KEYS.get(2) + "\n"));
    // The listener hears of k3 after the pool holds it: wait for the event, not the pool.
    until("the good file's key is announced", () -> keyChanges.contains("added k3"));
    assertThat(f.proxy.rotator().snapshot("k3")).isPresent();
    assertThat(keyChanges).as("key changes since the first bad file").containsExactly("added k3");
    load.awaitMore(10);
    load.stop();
    assertThat(load.failures).as("client errors while the config file was bad").isEmpty();
    assertThat(load.count(200)).isEqualTo(load.total());
  }
}
