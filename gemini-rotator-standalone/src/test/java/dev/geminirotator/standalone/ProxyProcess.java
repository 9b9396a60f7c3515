package dev.geminirotator.standalone;

import dev.geminirotator.testsupport.Eventually;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The proxy started as its own JVM through {@link Main}, as README runs it, for process tests. */
final class ProxyProcess {

  private static final Pattern LISTENING =
      Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)");

  private ProxyProcess() {
  }

  /** {@code java <jvmFlags> -cp <the tests' class path> Main --config <config>}. */
  static List<String> command(List<String> jvmFlags, Path config) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmFlags);
    if (Runtime.version().feature() >= 22) {
      // what the jar's Enable-Native-Access manifest entry does for java -jar: no JVM warning on
      // stderr when Netty loads its native transport
      command.add("--enable-native-access=ALL-UNNAMED");
    }
    command.addAll(List.of("-cp", System.getProperty("java.class.path"),
        Main.class.getName(), "--config", config.toString()));
    return command;
  }

  /** The port the proxy logged, once it listens; fails with its log if it died first. */
  static int awaitPort(Process proxy, Path log) {
    String text = Eventually.value(Duration.ofSeconds(90), "the proxy to log its port", () -> {
      String t = read(log);
      if (!LISTENING.matcher(t).find() && !proxy.isAlive()) {
        throw new AssertionError("the proxy exited: " + t);
      }
      return t;
    }, t -> LISTENING.matcher(t).find());
    Matcher m = LISTENING.matcher(text);
    if (!m.find()) throw new AssertionError("no port in: " + text); // the wait saw one
    return Integer.parseInt(m.group(1));
  }

  /** What the process wrote to {@code log} so far ("" before it exists). */
  static String read(Path log) {
    try {
      return Files.exists(log) ? Files.readString(log) : "";
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
