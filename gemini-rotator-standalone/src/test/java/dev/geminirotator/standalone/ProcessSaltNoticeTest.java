package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.core.rotation.GeminiKeyRotator;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * On the memory store, ids derived from secrets use a salt random per process, so they change at
 * every restart (metrics series, admin scripts). The proxy says so once at start, naming the
 * setting that makes them last; never the secret or the salt.
 */
class ProcessSaltNoticeTest {

  static String yamlWithoutIds(String extra) {
    return Harness.defaultYaml().replace("- id: k1\n    secret:", "- secret:") + extra;
  }

  @Test
  void oneInfoLineNamesKeyIdSaltWhenDerivedIdsUseAProcessSalt() throws Exception {
    List<String> notices;
    try (LogCapture log = LogCapture.of(GeminiKeyRotator.class);
        Harness h = new Harness(yamlWithoutIds(""), Map.of())) {
      notices = log.messages().stream().filter(m -> m.contains("key-id-salt")).toList();
    }
    assertThat(notices).hasSize(1);
    assertThat(notices.get(0)).startsWith("INFO ").contains("change at every restart")
        .doesNotContain(Harness.KEY_1);
  }

  @Test
  void noNoticeWhenKeyIdSaltIsSet() throws Exception {
    try (LogCapture log = LogCapture.of(GeminiKeyRotator.class);
        Harness h = new Harness(yamlWithoutIds("key-id-salt: a-salt-for-the-notice-test-01\n"),
            Map.of())) {
      assertThat(log.messages()).noneMatch(m -> m.contains("key-id-salt"));
      assertThat(h.proxy.rotator().snapshot()).anyMatch(k -> k.id().startsWith("key-"));
    }
  }
}
