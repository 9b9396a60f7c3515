package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.event.KeyAdded;
import dev.geminirotator.api.event.KeyRemoved;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.standalone.config.ConfigWatcher;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockResponseBody;
import okio.BufferedSink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LifecycleTest {

  Harness h;
  ConfigWatcher watcher;

  @TempDir
  Path tmp;

  @AfterEach
  void stop() throws Exception {
    if (watcher != null) watcher.close();
    if (h != null) h.close();
  }

  @Test
  void aChangedConfigFileIsAppliedAndABadOneIsKeptOut() throws Exception {
    h = new Harness("");
    watcher = new ConfigWatcher(h.configFile, h.proxy, Map.of(), new StandaloneConfig.Overrides(
        null, 0), Duration.ofMillis(100));
    String original = Files.readString(h.configFile);

    String third = "AIzaSyTEST-pool-key-three-00000003";
    replaceFile(h.configFile, original
        .replace("keys:\n", "keys:\n  - id: k3\n    secret: " + third + "\n    weight: 5\n")
        .replace("  - id: k2\n    secret: " + Harness.KEY_2 + "\n", ""));
    Eventually.untilAsserted("the changed file is applied", () -> assertThat(
        h.proxy.rotator().snapshot()).extracting(k -> k.id())
        .containsExactlyInAnyOrder("k1", "k3"));
    assertThat(h.proxy.rotator().snapshot("k3").orElseThrow().weight()).isEqualTo(5);

    // From here every key change is recorded: a bad file applied even for a moment shows up.
    List<String> keyChanges = new CopyOnWriteArrayList<>();
    h.proxy.rotator().addListener(new RotatorListener() {
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
      // Each bad file is awaited through the watcher's warning that it keeps the running
      // configuration: the signal that it read the file and turned it down.
      replaceFile(h.configFile, "keys: [\n  unterminated");
      assertThat(watcherLog.awaitWarningAfter(0, "the watcher rejects the unterminated YAML"))
          .contains("keeping the running configuration");
      replaceFile(h.configFile, original.replace("keys:\n", "keys:\n  - id: k9\n"
          + "    weight: 0\n    secret: AIzaSyTEST-pool-key-nine-000000009\n"));
      assertThat(watcherLog.awaitWarningAfter(1, "the watcher rejects the weight of 0"))
          .contains("keeping the running configuration").contains("keys[0].weight");
    }
    assertThat(h.proxy.rotator().snapshot()).extracting(k -> k.id())
        .containsExactlyInAnyOrder("k1", "k3");

    // The marker: the original file, applied after both bad ones were read. Once it is in force,
    // the only key changes since the bad files are its own.
    replaceFile(h.configFile, original);
    Eventually.untilAsserted("the original file is applied again", () -> assertThat(
        h.proxy.rotator().snapshot()).extracting(k -> k.id())
        .containsExactlyInAnyOrder("k1", "k2"));
    // the listeners hear a change just after the snapshot shows it: wait for them
    Eventually.untilAsserted("key changes since the bad files", () -> assertThat(keyChanges)
        .containsExactlyInAnyOrder("added k2", "removed k3"));
  }

  @Test
  void shutdownLetsAnOpenStreamFinish() throws Exception {
    h = new Harness("");
    String sse = Fixtures.geminiResponse("stream-generate-content.sse");
    int firstEnd = sse.indexOf("\n\n") + 2;
    CountDownLatch release = new CountDownLatch(1);
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(new MockResponseBody() {
          @Override
          public long getContentLength() {
            return sse.getBytes(StandardCharsets.UTF_8).length;
          }

          @Override
          public void writeTo(BufferedSink sink) throws IOException {
            sink.writeUtf8(sse.substring(0, firstEnd));
            sink.flush();
            try {
              release.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            sink.writeUtf8(sse.substring(firstEnd));
            sink.flush();
          }
        }).build());
    HttpResponse<InputStream> response = h.http.send(h.request(
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
        .header("x-goog-api-key", Harness.TOKEN)
        .POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    InputStream body = response.body();
    byte[] first = body.readNBytes(firstEnd);
    assertThat(new String(first, StandardCharsets.UTF_8)).isEqualTo(sse.substring(0, firstEnd));

    try (Harness.KeptConnection probe = h.keepAlive()) {
      CompletableFuture<Void> closing = CompletableFuture.runAsync(h.proxy::close);
      probe.awaitDraining(); // the signal that shutdown is under way
      assertThat(closing).as("shutdown waits for the open stream").isNotDone();
      release.countDown();
      String rest = new String(body.readAllBytes(), StandardCharsets.UTF_8);
      assertThat(rest).isEqualTo(sse.substring(firstEnd));
      closing.get(10, TimeUnit.SECONDS);
    }
  }

  @Test
  void validateAcceptsAGoodFile() throws Exception {
    Path file = tmp.resolve("good.yaml");
    Files.writeString(file, "keys: [" + Harness.KEY_1 + "]\nserver:\n  port: 5000\n");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int code = Main.run(new String[] {"--config", file.toString(), "--validate"}, Map.of(),
        new PrintWriter(out, true), new PrintWriter(err, true), false);

    assertThat(code).isZero();
    assertThat(out.toString()).contains("configuration OK").contains("5000");
    assertThat(out.toString() + err).doesNotContain(Harness.KEY_1);
  }

  @Test
  void validateListsEveryErrorWithItsFieldAndExitsWith1() throws Exception {
    Path file = tmp.resolve("bad.yaml");
    Files.writeString(file, """
        keys:
          - secret: %s
            weight: 0
        server:
          port: 70000
          max-request-size: lots
          drain-timeout: soon
        upstream:
          base-url: ftp://example.com
        rate-limit:
          requests-per-minute: -1
        logging:
          level: loud
        surprise: true
        """.formatted(Harness.KEY_1));
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();

    int code = Main.run(new String[] {"--config", file.toString(), "--validate"}, Map.of(),
        new PrintWriter(out, true), new PrintWriter(err, true), false);

    assertThat(code).isEqualTo(1);
    assertThat(err.toString())
        .contains("keys[0].weight")
        .contains("server.port")
        .contains("server.max-request-size")
        .contains("server.drain-timeout")
        .contains("upstream.base-url")
        .contains("rate-limit.requests-per-minute")
        .contains("logging.level")
        .contains("surprise")
        .doesNotContain(Harness.KEY_1);
  }

  @Test
  void cliFlagsWinOverEnvironmentAndFileAndPrintConfigMasksSecrets() throws Exception {
    Path file = tmp.resolve("p.yaml");
    Files.writeString(file, "keys: [" + Harness.KEY_1 + "]\nserver:\n  port: 5000\n"
        + "admin:\n  token: " + Harness.ADMIN + "\n");
    StringWriter out = new StringWriter();

    int code = Main.run(new String[] {"--config", file.toString(), "--print-config",
            "--port", "6000"},
        Map.of("GEMINI_ROTATOR_SERVER_PORT", "5500", "GEMINI_ROTATOR_ACCESS_TOKENS",
            Harness.TOKEN), new PrintWriter(out, true), new PrintWriter(new StringWriter()), false);

    assertThat(code).isZero();
    assertThat(out.toString()).contains("port: 6000").contains("tokens:\n    - '****'")
        .doesNotContain(Harness.KEY_1).doesNotContain(Harness.ADMIN)
        .doesNotContain(Harness.TOKEN);
    StringWriter envOut = new StringWriter();
    Main.run(new String[] {"--config", file.toString(), "--print-config"},
        Map.of("GEMINI_ROTATOR_SERVER_PORT", "5500"), new PrintWriter(envOut, true),
        new PrintWriter(new StringWriter()), false);
    assertThat(envOut.toString()).contains("port: 5500");
  }

  @Test
  void printConfigMasksEveryPasswordInTheStorageUri() throws Exception {
    for (String storage : new String[] {
        "rediss://:RedisPw4711@cache.example:6380/0?truststore=/etc/redis/ca.p12"
            + "&truststorePassword=TrustPw4711",
        "redis://RedisPw4711@cache.example:6379/0"}) {
      Path file = tmp.resolve("s.yaml");
      Files.writeString(file, "keys: [" + Harness.KEY_1 + "]\nstorage: \"" + storage + "\"\n");
      StringWriter out = new StringWriter();
      int code = Main.run(new String[] {"--config", file.toString(), "--print-config"}, Map.of(),
          new PrintWriter(out, true), new PrintWriter(new StringWriter()), false);
      assertThat(code).isZero();
      assertThat(out.toString()).contains("storage: redis").contains("cache.example")
          .doesNotContain("RedisPw4711").doesNotContain("TrustPw4711");
    }
  }

  @Test
  void helpAndVersionExitWithZero() {
    StringWriter out = new StringWriter();
    assertThat(Main.run(new String[] {"--help"}, Map.of(), new PrintWriter(out, true),
        new PrintWriter(new StringWriter()), false)).isZero();
    assertThat(out.toString()).contains("--config").contains("--validate")
        .contains("--print-config");
    StringWriter version = new StringWriter();
    assertThat(Main.run(new String[] {"--version"}, Map.of(), new PrintWriter(version, true),
        new PrintWriter(new StringWriter()), false)).isZero();
    assertThat(version.toString()).contains("gemini-rotator-standalone");
  }

  /**
   * Replaces the file in one step, as editors and config management do: written next to it,
   * then moved over it. The watcher polls, so a file truncated and then written in place could
   * be read half-written and turned down for the wrong reason.
   */
  private static void replaceFile(Path file, String text) throws IOException {
    Path next = file.resolveSibling(file.getFileName() + ".next");
    Files.writeString(next, text);
    Files.move(next, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
