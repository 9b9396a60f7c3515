package dev.geminirotator.standalone.config;

import dev.geminirotator.config.ConfigException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Hot reload: polls the configuration file (modification time, then content digest) and applies a
 * changed file to the running proxy (a {@link Reloadable}). Polling rather than a
 * {@code WatchService}
 * also catches editors that replace the file and mounted config maps that swap symlinks. An
 * invalid file is logged with every error, a file that cannot be read (deleted) is logged once,
 * and in both cases the running configuration is kept. Thread-safe;
 * runs on its own daemon thread until {@link #close()}.
 */
public final class ConfigWatcher implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(ConfigWatcher.class);

  /** What a changed, valid file is applied to: the running proxy. */
  public interface Reloadable {
    /**
     * Applies {@code next}; called on the watcher's thread, so it must be thread-safe.
     *
     * @throws RuntimeException when it cannot be applied (logged; the running one is kept)
     */
    void reload(StandaloneConfig next);
  }

  private final Path file;
  private final Reloadable server;
  private final Map<String, String> env;
  private final StandaloneConfig.Overrides overrides;
  private final ScheduledExecutorService timer;
  private long lastModified;
  private byte[] lastDigest;

  /**
   * Starts watching.
   *
   * @param interval how often to look at the file
   */
  public ConfigWatcher(Path file, Reloadable server, Map<String, String> env,
      StandaloneConfig.Overrides overrides, Duration interval) {
    this.file = file;
    this.server = server;
    this.env = env;
    this.overrides = overrides;
    this.lastModified = modified();
    this.lastDigest = digest();
    this.timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "gemini-rotator-config-watch");
      t.setDaemon(true);
      return t;
    });
    timer.scheduleWithFixedDelay(this::check, interval.toMillis(), interval.toMillis(),
        TimeUnit.MILLISECONDS);
  }

  private void check() {
    try {
      long m = modified();
      if (m == lastModified) return;
      lastModified = m;
      byte[] d = digest();
      if (d == null) {
        // said once per disappearance: the modification time stays -1 until it comes back
        log.warn("config file {} cannot be read (deleted or moved?); keeping the running"
            + " configuration", file);
        return;
      }
      if (Arrays.equals(d, lastDigest)) return;
      lastDigest = d;
      StandaloneConfig next;
      try {
        next = StandaloneConfig.load(file, env, overrides);
      } catch (ConfigException e) {
        logInvalid(file, e, "file changed", null);
        return;
      }
      server.reload(next);
    } catch (RuntimeException e) {
      log.warn("config reload failed: {}", e.getClass().getSimpleName());
    }
  }

  /**
   * Logs a reload refused because the file is invalid, with every error: the one line a failed
   * reload gives, whether a file change or {@code POST /admin/reload} asked for it. The errors name
   * fields and values, never a secret (the loader masks them).
   *
   * @param trigger what asked for the reload ({@code file changed}, {@code POST /admin/reload})
   * @param requestId the admin request's id, or {@code null} for a file change
   */
  public static void logInvalid(Path file, ConfigException e, String trigger,
      CharSequence requestId) {
    var line = log.atWarn().addKeyValue("file", String.valueOf(file))
        .addKeyValue("errors", e.errors()).addKeyValue("trigger", trigger);
    if (requestId != null) line = line.addKeyValue("requestId", requestId.toString());
    line.log("config reload ({}{}) refused: {} is invalid; keeping the running configuration: {}",
        trigger, requestId == null ? "" : ", request " + requestId, file,
        String.join("; ", e.errors()));
  }

  private long modified() {
    try {
      return Files.getLastModifiedTime(file).toMillis() ^ Files.size(file);
    } catch (IOException e) {
      return -1;
    }
  }

  private byte[] digest() {
    try {
      return MessageDigest.getInstance("SHA-256").digest(Files.readAllBytes(file));
    } catch (IOException | java.security.NoSuchAlgorithmException e) {
      return null;
    }
  }

  @Override
  public void close() {
    timer.shutdownNow();
  }
}
