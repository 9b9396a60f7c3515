package dev.geminirotator.examples.filestore;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.spi.KeyStateStores;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.ReadmeSnippets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The example program run twice over one state file, standing in for a restart: what the first
 * run learned (a cooled project, a rejected key) decides which key the second run sends first.
 * With a store that forgets (memory:), round-robin would start at k1 again.
 */
class CustomStoreExampleTest {

  private static final String KEY_1 = "AIzaSyEXAMPLE-file-store-key-one-01";
  private static final String KEY_2 = "AIzaSyEXAMPLE-file-store-key-two-02";

  @TempDir
  Path dir;
  private MockWebServer gemini;
  private Path config;
  private Path state;

  @BeforeEach
  void start() throws Exception {
    gemini = new MockWebServer();
    gemini.start();
    state = dir.resolve("state/gemini-rotator-state.json");
    config = dir.resolve("gemini-rotator.yaml");
    Files.writeString(config, """
        keys:
          - id: k1
            secret: %s
            project: project-a
          - id: k2
            secret: %s
            project: project-b
        storage: "file:%s"
        """.formatted(KEY_1, KEY_2, state));
  }

  @AfterEach
  void stop() {
    gemini.close();
  }

  @Test
  void aCooldownSurvivesARestart() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute"))); // retryDelay 37s
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    String first = run();
    assertThat(keyOf()).isEqualTo(KEY_1);
    assertThat(keyOf()).isEqualTo(KEY_2);
    assertThat(first).contains("store: file:" + state).contains("request 1: 200")
        .contains("key k1 RATE_LIMITED cooling [gemini-2.5-flash]");
    assertThat(Files.readString(state)).contains("\"project\" : \"project-a\"")
        .contains("\"model\" : \"gemini-2.5-flash\"");

    // Restart: a new rotator over the same file starts with project-a still cooling.
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    String second = run();
    assertThat(keyOf()).isEqualTo(KEY_2);
    assertThat(second).contains("request 1: 200")
        .contains("key k1 RATE_LIMITED cooling [gemini-2.5-flash]");
  }

  @Test
  void aRejectedKeyStaysInvalidAfterARestart() throws Exception {
    gemini.enqueue(json(400, Fixtures.geminiError("400-api-key-invalid")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    assertThat(run()).contains("request 1: 200").contains("key k1 INVALID");
    assertThat(keyOf()).isEqualTo(KEY_1);
    assertThat(keyOf()).isEqualTo(KEY_2);

    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    String second = run(2);
    assertThat(keyOf()).isEqualTo(KEY_2);
    assertThat(keyOf()).isEqualTo(KEY_2);
    assertThat(second).contains("key k1 INVALID").contains("key k2 HEALTHY");
  }

  @Test
  void theFileKeepsNoSecretOfConfiguredKeysAndOnlyItsOwnerMayReadIt() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    run();
    assertThat(Files.readString(state)).doesNotContain(KEY_1).doesNotContain(KEY_2);
    if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
      assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(state)))
          .isEqualTo("rw-------");
    }
  }

  @Test
  void theSchemeIsFoundByServiceLoaderAndABadUriIsExplained() {
    try (var store = KeyStateStores.open("file:" + state)) {
      assertThat(store).isInstanceOf(FileKeyStateStore.class);
    }
    assertThatThrownBy(() -> KeyStateStores.open("file:///tmp/"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("file: storage needs a file path");
  }

  private String run() throws Exception {
    return run(1);
  }

  private String run(int requests) throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    CustomStoreExample.run(config, Map.of(), gemini.url("/").toString().replaceAll("/$", ""),
        requests, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    return bytes.toString(StandardCharsets.UTF_8);
  }

  private String keyOf() throws InterruptedException {
    return gemini.takeRequest(5, TimeUnit.SECONDS).getHeaders().get("x-goog-api-key");
  }

  @Test
  void readmeShowsTheExamplesSnippetExactly() {
    ReadmeSnippets.assertInReadme(
        Path.of("src/main/java/dev/geminirotator/examples/filestore/FileStoreProvider.java"),
        "custom-store");
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).body(body)
        .addHeader("Content-Type", "application/json").build();
  }
}
