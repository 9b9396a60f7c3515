package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServer;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Keys added or deleted through the admin API against configuration reloads (POST /admin/reload,
 * the file watcher). The rules: a key added at run time survives reloads unless the file has a
 * key with its id (the file's wins); a key deleted through the admin API stays deleted across
 * reloads while the file keeps listing it; once a reload's file no longer lists it the deletion
 * is forgotten, and a file that lists it again adds it back.
 */
class AdminReloadRaceTest {

  Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  Set<String> poolIds() {
    return h.proxy.rotator().snapshot().stream().map(KeySnapshot::id)
        .collect(Collectors.toSet());
  }

  static String secret(String id) {
    return "AIzaSyTEST-runtime-" + id + "-0000000000000000".substring(0, 16);
  }

  HttpResponse<String> addKey(String id) throws Exception {
    return h.admin("POST", "/admin/keys",
        "{\"keys\":[{\"id\":\"" + id + "\",\"secret\":\"" + secret(id) + "\"}]}");
  }

  void reloadFile() {
    h.proxy.reload(StandaloneConfig.load(h.configFile, Map.of(),
        new StandaloneConfig.Overrides(null, 0)));
  }

  @Test
  void aDeletedFileKeyStaysDeletedAcrossReloadsUntilTheFileDropsAndReaddsIt() throws Exception {
    h = new Harness("");
    assertThat(h.admin("DELETE", "/admin/keys/k2", null).statusCode()).isEqualTo(204);

    assertThat(h.admin("POST", "/admin/reload", null).statusCode()).isEqualTo(200);
    reloadFile();
    assertThat(poolIds()).containsExactly("k1");

    // The file stops listing k2: the deletion is forgotten ...
    String original = Files.readString(h.configFile);
    String withoutK2 = original.replaceAll("  - id: k2\n    secret: [^\n]+\n", "");
    assertThat(withoutK2).isNotEqualTo(original);
    Files.writeString(h.configFile, withoutK2);
    assertThat(h.admin("POST", "/admin/reload", null).statusCode()).isEqualTo(200);
    assertThat(poolIds()).containsExactly("k1");
    // ... and listing it again adds it back.
    Files.writeString(h.configFile, original);
    assertThat(h.admin("POST", "/admin/reload", null).statusCode()).isEqualTo(200);
    assertThat(poolIds()).containsExactlyInAnyOrder("k1", "k2");
  }

  @Test
  void addingADeletedIdBackThroughTheAdminApiUndoesTheDeletion() throws Exception {
    h = new Harness("");
    assertThat(h.admin("DELETE", "/admin/keys/k2", null).statusCode()).isEqualTo(204);
    assertThat(addKey("k2").statusCode()).isEqualTo(201);
    reloadFile();
    assertThat(poolIds()).containsExactlyInAnyOrder("k1", "k2");
    // The file's definition of k2 wins over the runtime one.
    assertThat(h.proxy.rotator().snapshot("k2").orElseThrow().masked())
        .doesNotContain(secret("k2").substring(secret("k2").length() - 4));
  }

  @Test
  void adminAddsAndDeletesRacingReloadsEndInTheSetTheRulesGive() throws Exception {
    h = new Harness("");
    int writers = 4;
    int perWriter = 40;
    AtomicBoolean done = new AtomicBoolean();
    AtomicInteger reloads = new AtomicInteger();
    Set<String> expectedRuntime = ConcurrentHashMap.newKeySet();
    ExecutorService pool = Executors.newFixedThreadPool(writers + 2);
    try {
      List<Future<?>> work = new ArrayList<>();
      // Reloads through the admin API and directly (as the file watcher does), nonstop.
      work.add(pool.submit(() -> {
        while (!done.get()) {
          assertThat(h.admin("POST", "/admin/reload", null).statusCode()).isEqualTo(200);
          reloads.incrementAndGet();
        }
        return null;
      }));
      work.add(pool.submit(() -> {
        while (!done.get()) {
          reloadFile();
          reloads.incrementAndGet();
        }
        return null;
      }));
      List<Future<?>> adders = new ArrayList<>();
      for (int w = 0; w < writers; w++) {
        int writer = w;
        adders.add(pool.submit(() -> {
          if (writer == 0) {
            assertThat(h.admin("DELETE", "/admin/keys/k2", null).statusCode()).isEqualTo(204);
          }
          for (int i = 0; i < perWriter; i++) {
            String id = "r" + writer + "x" + i;
            assertThat(addKey(id).statusCode()).isEqualTo(201);
            if (i % 3 == 0) {
              assertThat(h.admin("DELETE", "/admin/keys/" + id, null).statusCode())
                  .as("delete " + id).isEqualTo(204);
            } else {
              expectedRuntime.add(id);
            }
          }
          return null;
        }));
      }
      for (Future<?> f : adders) f.get(60, TimeUnit.SECONDS);
      done.set(true);
      for (Future<?> f : work) f.get(60, TimeUnit.SECONDS);
    } finally {
      done.set(true);
      pool.shutdownNow();
    }
    assertThat(reloads.get()).isGreaterThan(10);

    Set<String> expected = new HashSet<>(expectedRuntime);
    expected.add("k1");
    assertThat(poolIds()).isEqualTo(expected);
    // And one more reload changes nothing.
    reloadFile();
    assertThat(poolIds()).isEqualTo(expected);
  }

  @Test
  void aReloadOnOneInstanceKeepsAKeyAnotherInstanceAddedThroughTheSharedStore()
      throws Exception {
    try (dev.geminirotator.testsupport.redis.RedisServer redis =
        dev.geminirotator.testsupport.redis.RedisServer.startOnFreePort()) {
      String storage = "storage: \"" + redis.uri() + "\"\n";
      try (Harness first = new Harness(storage); Harness second = new Harness(storage)) {
        h = first;
        assertThat(addKey("shared").statusCode()).isEqualTo(201);
        Eventually.until("the second instance sees the key through Redis",
            () -> second.proxy.rotator().snapshot("shared").isPresent());

        assertThat(second.admin("POST", "/admin/reload", null).statusCode()).isEqualTo(200);

        // The second instance's file never listed "shared": its reload leaves it alone.
        assertThat(second.proxy.rotator().snapshot("shared")).isPresent();
        // A marker added on the second instance after its reload: once the first instance has
        // it, it has seen whatever the reload published before it (a removal of "shared").
        assertThat(second.admin("POST", "/admin/keys",
            "{\"keys\":[{\"id\":\"marker\",\"secret\":\"" + secret("marker") + "\"}]}")
            .statusCode()).isEqualTo(201);
        Eventually.until("the first instance sees the marker",
            () -> first.proxy.rotator().snapshot("marker").isPresent());
        assertThat(first.proxy.rotator().snapshot("shared")).as("shared on the first instance")
            .isPresent();
      } finally {
        h = null;
      }
    }
  }
}
