package dev.geminirotator.standalone.config;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.Encoder;
import org.slf4j.LoggerFactory;

/**
 * Applies the {@code logging} section to logback: the root level, and one JSON object per line
 * (logback's {@link JsonEncoder}) or plain text on standard output. Call {@link #apply} once at
 * start-up, before the proxy starts (not thread-safe); {@link #applyLevel} changes the root level
 * of a running proxy on reload (logback levels may change at any time, from any thread).
 */
public final class LoggingSetup {

  private LoggingSetup() {
  }

  /**
   * Sets the root logger's level ({@code logging.level}) at run time and says so once: the line
   * goes out after the change when the new level shows INFO, else before it, so it is never lost.
   */
  public static void applyLevel(String level, Runnable announce) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      announce.run();
      return;
    }
    Level next = Level.toLevel(level, Level.INFO);
    ch.qos.logback.classic.Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    if (next.isGreaterOrEqual(Level.WARN)) announce.run();
    root.setLevel(next);
    if (!next.isGreaterOrEqual(Level.WARN)) announce.run();
  }

  public static void apply(StandaloneConfig config) {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) return;
    ch.qos.logback.classic.Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.toLevel(config.logging().level(), Level.INFO));
    context.getLogger("io.netty").setLevel(Level.WARN);
    Encoder<ILoggingEvent> encoder;
    if (config.logging().json()) {
      JsonEncoder json = new JsonEncoder();
      json.setWithFormattedMessage(true);
      json.setWithArguments(false);
      json.setWithContext(false);
      encoder = json;
    } else {
      PatternLayoutEncoder pattern = new PatternLayoutEncoder();
      pattern.setPattern("%d{ISO8601} %-5level [%thread] %logger{24} - %msg %kvp%n");
      encoder = pattern;
    }
    encoder.setContext(context);
    encoder.start();
    ConsoleAppender<ILoggingEvent> appender = new ConsoleAppender<>();
    appender.setContext(context);
    appender.setName("STDOUT");
    appender.setEncoder(encoder);
    appender.start();
    root.detachAndStopAllAppenders();
    root.addAppender(appender);
  }
}
