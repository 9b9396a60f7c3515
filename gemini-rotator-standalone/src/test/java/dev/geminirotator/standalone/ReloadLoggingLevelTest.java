package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import dev.geminirotator.standalone.config.StandaloneConfig;
import java.nio.file.Files;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/**
 * Issue 15 item 9: a reload applies {@code logging.level} at once and says so, and names
 * {@code logging.json} (which needs a restart) in its restart warning instead of ignoring it.
 */
class ReloadLoggingLevelTest {

  private final Logger root = ((LoggerContext) LoggerFactory.getILoggerFactory())
      .getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  private final Level before = root.getLevel();
  private Harness h;

  @AfterEach
  void restore() {
    root.setLevel(before);
    if (h != null) h.close();
  }

  private String original;

  private void reloadWith(String logging) throws Exception {
    if (original == null) original = Files.readString(h.configFile);
    Files.writeString(h.configFile, original.substring(0, original.indexOf("logging:"))
        + logging);
    h.proxy.reload(StandaloneConfig.load(h.configFile, Map.of(),
        new StandaloneConfig.Overrides(null, 0))); // as the harness loaded it
  }

  @Test
  void aLoggingLevelChangeOnReloadIsAppliedAndLogged() throws Exception {
    h = new Harness("logging:\n  level: INFO\n");
    try (LogCapture log = LogCapture.of(ProxyServer.class)) {
      reloadWith("logging:\n  level: debug\n");
      assertThat(root.getLevel()).isEqualTo(Level.DEBUG);
      assertThat(h.proxy.config().logging().level()).isEqualTo("DEBUG");
      assertThat(log.messages()).contains("INFO reload: logging.level changed from INFO to DEBUG");

      reloadWith("logging:\n  level: WARN\n");
      assertThat(root.getLevel()).isEqualTo(Level.WARN);
      // Said before the level went up, so a WARN-level log still holds the line.
      assertThat(log.messages()).contains("INFO reload: logging.level changed from DEBUG to WARN");
      assertThat(log.warnings()).noneMatch(w -> w.contains("after a restart"));
    }
  }

  @Test
  void aLoggingJsonChangeIsNamedInTheRestartWarning() throws Exception {
    h = new Harness("logging:\n  json: true\n");
    try (LogCapture log = LogCapture.of(ProxyServer.class)) {
      reloadWith("logging:\n  json: false\n");
      assertThat(log.warnings()).containsExactly("reload: changes to logging.json take effect"
          + " after a restart; the running values are kept");
      assertThat(h.proxy.config().logging().json()).isFalse();
    }
  }
}
