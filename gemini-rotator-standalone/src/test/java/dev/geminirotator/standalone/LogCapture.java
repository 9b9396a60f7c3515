package dev.geminirotator.standalone;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import dev.geminirotator.testsupport.Eventually;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.LoggerFactory;

/**
 * Collects what one class logs at WARN and above (and, for {@link #messages()}, at INFO), so a test can wait for a log line as a real
 * signal (for example the config watcher's "keeping the running configuration") instead of
 * sleeping. Attached on creation, detached by {@link #close()}. Thread-safe.
 */
public final class LogCapture implements AutoCloseable {

  private final Logger logger;
  private final List<String> lines = new CopyOnWriteArrayList<>();
  private final List<String> all = new CopyOnWriteArrayList<>();
  private final AppenderBase<ILoggingEvent> appender = new AppenderBase<>() {
    @Override
    protected void append(ILoggingEvent event) {
      if (event.getLevel().isGreaterOrEqual(Level.INFO)) {
        all.add(event.getLevel() + " " + event.getFormattedMessage());
      }
      if (event.getLevel().isGreaterOrEqual(Level.WARN)) lines.add(event.getFormattedMessage());
    }
  };

  private LogCapture(Class<?> source) {
    LoggerContext lc = (LoggerContext) LoggerFactory.getILoggerFactory();
    logger = lc.getLogger(source);
    appender.setContext(lc);
    appender.setName("log-capture-" + source.getSimpleName());
    appender.start();
    logger.addAppender(appender);
  }

  /** Starts collecting what {@code source} logs at WARN and above. */
  public static LogCapture of(Class<?> source) {
    return new LogCapture(source);
  }

  /** The WARN and ERROR messages so far, formatted, oldest first. */
  public List<String> warnings() {
    return List.copyOf(lines);
  }

  /** Every message at INFO and above so far, as {@code "LEVEL message"}, oldest first. */
  public List<String> messages() {
    return List.copyOf(all);
  }

  /** Waits until more than {@code seen} warnings were logged; returns the newest. */
  public String awaitWarningAfter(int seen, String what) {
    Eventually.until(what, () -> lines.size() > seen);
    return lines.get(lines.size() - 1);
  }

  @Override
  public void close() {
    logger.detachAppender(appender);
    appender.stop();
  }
}
