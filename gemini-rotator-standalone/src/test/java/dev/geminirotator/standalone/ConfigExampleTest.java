package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.config.FieldDoc;
import dev.geminirotator.config.RotatorSections;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.standalone.config.StandaloneConfig.Server;
import dev.geminirotator.standalone.config.StandaloneConfig.Upstream;
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
    assertThat(config.server().port()).isEqualTo(Server.DEFAULT_PORT);
    assertThat(config.server().host()).isEqualTo(Server.DEFAULT_HOST);
    assertThat(config.server().maxRequestSize()).isEqualTo(Server.DEFAULT_MAX_REQUEST_SIZE);
    assertThat(config.server().drainTimeout()).isEqualTo(Server.DEFAULT_DRAIN_TIMEOUT);
    assertThat(config.upstream().baseUrl().toString()).isEqualTo(Upstream.DEFAULT_BASE_URL);
    assertThat(config.hasAccessTokens()).isFalse();
    assertThat(config.adminEnabled()).isFalse();
    assertThat(config.server().tls().keystore()).isNull();
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
