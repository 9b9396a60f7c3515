package dev.geminirotator.standalone.reliability;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.AppenderBase;
import dev.geminirotator.standalone.Harness;
import dev.geminirotator.testsupport.SecretScanner;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.slf4j.LoggerFactory;

/**
 * Captures everything a test class logs (every logback event at DEBUG and above, encoded as the
 * proxy's JSON log lines, with Jetty at INFO) and everything written to {@code System.out} and
 * {@code System.err}, then fails the class if any secret of {@link Harness#SECRETS} shows up:
 * whole, any 8 or more characters of one, or URL-encoded ({@link SecretScanner}). Tests add what
 * else they saw (response headers and bodies) with {@link #record}. The console appenders are
 * detached while capturing so DEBUG output does not flood the build log. One test class at a
 * time (the capture is static).
 */
final class SecretScan implements BeforeAllCallback, AfterAllCallback {

  /** Looks for every secret the harness configures or a test presents. */
  static final SecretScanner SCANNER = SecretScanner.of(Harness.SECRETS);
  private static final StringBuffer seen = new StringBuffer();
  private static volatile boolean active;

  private final List<Appender<ILoggingEvent>> detached = new ArrayList<>();
  private Capture capture;
  private Level rootLevel;
  private Level jettyLevel;
  private PrintStream out;
  private PrintStream err;

  /** Adds text a test observed (responses, admin output, metrics) to what is scanned. */
  static void record(String text) {
    if (active) seen.append(text).append('\n');
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    begin();
  }

  @Override
  public void afterAll(ExtensionContext context) {
    end(context.getDisplayName());
  }

  /** Starts capturing (for a test that manages capture itself). */
  void begin() {
    seen.setLength(0);
    LoggerContext lc = (LoggerContext) LoggerFactory.getILoggerFactory();
    Logger root = lc.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    for (Iterator<Appender<ILoggingEvent>> it = root.iteratorForAppenders(); it.hasNext(); ) {
      detached.add(it.next());
    }
    detached.forEach(root::detachAppender);
    rootLevel = root.getLevel();
    root.setLevel(Level.DEBUG);
    Logger jetty = lc.getLogger("org.eclipse.jetty");
    jettyLevel = jetty.getLevel();
    jetty.setLevel(Level.INFO);
    capture = new Capture();
    capture.setContext(lc);
    capture.start();
    root.addAppender(capture);
    out = System.out;
    err = System.err;
    System.setOut(new PrintStream(new Tee(out), true, StandardCharsets.UTF_8));
    System.setErr(new PrintStream(new Tee(err), true, StandardCharsets.UTF_8));
    active = true;
  }

  /** Stops capturing and fails if any secret was seen. */
  void end(String name) {
    active = false;
    System.setOut(out);
    System.setErr(err);
    LoggerContext lc = (LoggerContext) LoggerFactory.getILoggerFactory();
    Logger root = lc.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.detachAppender(capture);
    capture.stop();
    detached.forEach(root::addAppender);
    root.setLevel(rootLevel);
    lc.getLogger("org.eclipse.jetty").setLevel(jettyLevel);
    String everything = seen.toString();
    if (capture.events == 0) {
      throw new AssertionError("nothing was logged: the capture is not working");
    }
    List<String> leaks = SCANNER.findings(everything);
    if (!leaks.isEmpty()) {
      throw new AssertionError(leaks.size() + " line(s) of " + name
          + " output carry a secret or a part of one:\n" + String.join("\n", leaks));
    }
  }

  /** The captured text so far (for tests that check what the capture holds). */
  static String captured() {
    return seen.toString();
  }

  /** The line with every secret and part of one masked, at most 600 characters. */
  static String redact(String line) {
    String out = SCANNER.redact(line);
    return out.length() > 600 ? out.substring(0, 600) + "…" : out;
  }

  private static final class Capture extends AppenderBase<ILoggingEvent> {
    private JsonEncoder encoder;
    volatile long events;

    @Override
    public void start() {
      encoder = new JsonEncoder();
      encoder.setContext(getContext());
      encoder.start();
      super.start();
    }

    @Override
    protected void append(ILoggingEvent event) {
      events++;
      seen.append(new String(encoder.encode(event), StandardCharsets.UTF_8));
    }
  }

  /** Copies what is written to the original stream and to the capture. */
  private static final class Tee extends OutputStream {
    private final OutputStream original;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    Tee(OutputStream original) {
      this.original = original;
    }

    @Override
    public synchronized void write(int b) {
      try {
        original.write(b);
      } catch (java.io.IOException e) {
        // the original stream's problem, not the capture's
      }
      line.write(b);
      if (b == '\n') flushLine();
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
      for (int i = off; i < off + len; i++) write(b[i]);
    }

    @Override
    public synchronized void flush() {
      flushLine();
    }

    private void flushLine() {
      if (line.size() == 0) return;
      seen.append(line.toString(StandardCharsets.UTF_8)).append('\n');
      line.reset();
    }
  }
}
