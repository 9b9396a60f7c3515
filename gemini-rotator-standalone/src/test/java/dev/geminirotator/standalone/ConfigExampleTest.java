package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.config.FieldDoc;
import dev.geminirotator.config.RotatorSections;
import dev.geminirotator.standalone.config.StandaloneConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigExampleTest {

  static final Path EXAMPLE = Path.of("config.example.yaml");

  @Test
  void theShippedExampleIsValidAndMatchesTheDefaults(@TempDir Path dir) throws Exception {
    Path copy = dir.resolve("config.yaml");
    Files.copy(EXAMPLE, copy);
    Files.createDirectories(dir.resolve("secrets"));
    Files.writeString(dir.resolve("secrets/third.key"), "AIzaSyTEST-third-from-a-file-0003");

    StandaloneConfig config = StandaloneConfig.load(copy, Map.of(
        "GEMINI_KEY_PRIMARY", "AIzaSyTEST-primary-key-00000000001",
        "GEMINI_KEY_SECONDARY", "AIzaSyTEST-second-key-00000000002"),
        StandaloneConfig.Overrides.NONE);

    assertThat(config.rotator().keys()).hasSize(3);
    assertThat(config.port()).isEqualTo(StandaloneConfig.DEFAULT_PORT);
    assertThat(config.host()).isEqualTo(StandaloneConfig.DEFAULT_HOST);
    assertThat(config.maxRequestSize()).isEqualTo(StandaloneConfig.DEFAULT_MAX_REQUEST_SIZE);
    assertThat(config.drainTimeout()).isEqualTo(StandaloneConfig.DEFAULT_DRAIN_TIMEOUT);
    assertThat(config.upstreamBaseUrl().toString()).isEqualTo(StandaloneConfig.DEFAULT_BASE_URL);
    assertThat(config.hasAccessTokens()).isFalse();
    assertThat(config.adminEnabled()).isFalse();
    assertThat(config.tlsKeystore()).isNull();
  }

  @Test
  void theShippedExampleDocumentsEveryField() throws Exception {
    String text = Files.readString(EXAMPLE);
    List<FieldDoc> fields = new ArrayList<>(RotatorSections.fields());
    fields.addAll(StandaloneConfig.fields());
    for (FieldDoc field : fields) {
      String[] parts = field.path().replace("[]", "").split("\\.");
      String leaf = parts[parts.length - 1];
      assertThat(text).as(field.path()).containsPattern("(?m)^\\s*-?\\s*" + leaf + ":");
    }
  }
}
