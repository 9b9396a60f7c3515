package dev.geminirotator.config;

import dev.geminirotator.core.config.RotatorConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.geminirotator.api.ApiKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Secrets never appear in an error, an exception message or a toString. */
class SecretsNeverLeakTest {

  /** A distinctive secret; no part of it may show. */
  static final String CANARY = "AIzaSyCANARY0000leak1111CANARY2222zz";
  static final String CANARY_CORE = "CANARY0000leak1111CANARY2222";
  static final String OTHER = "AIzaSyO-oooooooooooooooooooooooooooooo";

  @TempDir
  Path dir;

  private String failure(Map<String, String> env, String yaml) {
    ConfigException e = catchThrowableOfType(ConfigException.class,
        () -> ConfigLoader.builder().env(env).build().loadString(yaml, dir));
    assertThat(e).as("expected a failure for %s", yaml).isNotNull();
    String everything = e.getMessage() + "\n" + String.join("\n", e.errors()) + "\n" + e;
    assertThat(everything).doesNotContain(CANARY_CORE);
    return everything;
  }

  @Test
  void inlineSecretNeverAppearsInErrors() {
    String all = failure(Map.of(), """
        keys:
          - %s
          - secret: %s
            weight: 0
          - %s
          - secret: %s
            weight: %s
            id: %s
        """.formatted(CANARY, CANARY, CANARY, OTHER, CANARY, CANARY));

    assertThat(all).contains("keys[1].weight must be >= 1 and <= 1000 but was 0")
        .contains("keys[2] duplicates keys[0] (same secret)")
        .contains("keys[3].weight must be an integer but was '****'");
  }

  @Test
  void secretUsedAsIdIsNotShown() {
    String withPlus = "AIzaSy+" + CANARY_CORE + "/x";
    ConfigException e = catchThrowableOfType(ConfigException.class,
        () -> ConfigLoader.builder().env(Map.of()).build().loadString(
            "keys: [{secret: \"" + withPlus + "\", id: \"" + withPlus + "\"},"
                + " {secret: " + CANARY + ", id: " + CANARY + "}]", dir));

    assertThat(e.errors()).containsExactly(
        "keys[0].id must be 1-128 characters of letters, digits and . _ : @ - but was '****'",
        "keys[1].id must not be the secret itself");
    assertThat(e.getMessage()).doesNotContain(CANARY_CORE);
  }

  @Test
  void secretWithWhitespaceIsNotShown() {
    String all = failure(Map.of(), "keys: [\"AIzaSy " + CANARY_CORE + "\"]");

    assertThat(all).contains("keys[0].secret must not contain whitespace or control characters"
        + " (at index 6)");
  }

  @Test
  void secretsFromPlaceholdersEnvEntriesAndGeminiApiKeysAreNotShown() {
    failure(Map.of("K", CANARY, "POOL", CANARY + "," + CANARY + ",bad key"),
        "keys: [{secret: '${K}', weight: 0}, {env: POOL}]");
    failure(Map.of(ConfigLoader.KEYS_ENV, CANARY + "," + CANARY), "");
    failure(Map.of(ConfigLoader.KEYS_ENV, CANARY + " tail"), "");
  }

  @Test
  void secretsFromAKeysFileAreNotShown() throws Exception {
    Files.writeString(dir.resolve("k.txt"), CANARY + "\n" + CANARY + "\n" + CANARY + "\u0001\n");

    String all = failure(Map.of(), "keys: [{file: k.txt, rpm: 0}]");

    assertThat(all).contains("keys[0].rpm must be >= 1 but was 0");
  }

  @Test
  void yamlErrorsDoNotQuoteTheDocument() {
    failure(Map.of(), "keys:\n  - " + CANARY + ": [\n");
    failure(Map.of(), "keys:\n  - secret: " + CANARY + "\n    secret: " + CANARY + "\n");
    failure(Map.of(), "keys:\n  - {" + CANARY + ": 1, " + CANARY + ": 2}\n");
    failure(Map.of(), "keys:\n  - " + CANARY + "\n  - {" + CANARY + ": x}\n");
  }

  @Test
  void unresolvedPlaceholderInASecretDoesNotShowItsDefault() {
    String all = failure(Map.of(), "keys: [{secret: '${K:" + CANARY + "', weight: 0}]");

    assertThat(all).contains("keys[0].secret: unterminated placeholder; close it with } or write"
        + " $${ for a literal ${");
  }

  @Test
  void toStringShowsIdsAndMaskedSecretsOnly() {
    RotatorConfig config = RotatorConfig.builder()
        .key(ApiKey.builder(CANARY).id("canary").build())
        .key(ApiKey.of(OTHER))
        .storage("redis://user:" + CANARY + "@cache:6379/0?password=" + CANARY)
        .build();

    String text = config.toString();

    assertThat(text).doesNotContain(CANARY_CORE)
        .contains("ApiKey{id=canary, secret=AIza…22zz, weight=1}")
        .contains("storage=redis://user:****@cache:6379/0?password=****");
  }

  @Test
  void loadedConfigToStringHasNoSecret() {
    RotatorConfig config = ConfigLoader.builder().env(Map.of("K", CANARY)).build()
        .loadString("keys: [{secret: '${K}', id: c}]\nstorage: 'memory:'", dir);

    assertThat(config.toString()).doesNotContain(CANARY_CORE).contains("id=c");
  }

  @Test
  void badStorageUriDoesNotShowItsPassword() {
    String all = failure(Map.of(), "keys: [" + OTHER + "]\nstorage: 'redis//:" + CANARY
        + "@host'");

    assertThat(all).contains("storage must be a URI with a scheme");
  }
}
