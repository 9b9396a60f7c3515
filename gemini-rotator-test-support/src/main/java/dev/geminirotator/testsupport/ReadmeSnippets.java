package dev.geminirotator.testsupport;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Collectors;

/**
 * Keeps README code honest: a test holds the snippet between {@code // README:<name>:begin} and
 * {@code // README:<name>:end} markers, compiles and runs it, and {@link #assertInReadme} checks
 * that the root README shows exactly those lines (common indentation removed).
 */
public final class ReadmeSnippets {

  private ReadmeSnippets() {
  }

  /** The snippet named {@code name} in a test source file, with its common indentation removed. */
  public static String extract(Path source, String name) {
    String text = read(source);
    String begin = "// README:" + name + ":begin";
    String end = "// README:" + name + ":end";
    int from = text.indexOf(begin);
    int to = text.indexOf(end);
    if (from < 0 || to < from) {
      throw new IllegalArgumentException("no snippet " + name + " in " + source);
    }
    String body = text.substring(text.indexOf('\n', from) + 1, text.lastIndexOf('\n', to));
    int indent = body.lines().filter(l -> !l.isBlank())
        .mapToInt(l -> l.length() - l.stripLeading().length()).min().orElse(0);
    return body.lines().map(l -> l.length() >= indent ? l.substring(indent) : l.strip())
        .collect(Collectors.joining("\n"));
  }

  /**
   * Fails unless README.md in the repository root (found by walking up from the working
   * directory) contains the snippet verbatim.
   */
  public static void assertInReadme(Path source, String name) {
    String snippet = extract(source, name);
    String readme = read(findReadme());
    if (!readme.contains(snippet)) {
      throw new AssertionError("README.md does not show snippet '" + name + "' from " + source
          + " exactly; expected these lines:\n" + snippet);
    }
  }

  private static Path findReadme() {
    Path dir = Path.of("").toAbsolutePath();
    while (dir != null) {
      Path candidate = dir.resolve("README.md");
      if (Files.exists(candidate) && Files.exists(dir.resolve(".ci"))) return candidate;
      dir = dir.getParent();
    }
    throw new IllegalStateException("no README.md next to .ci/ above " + Path.of("").toAbsolutePath());
  }

  private static String read(Path path) {
    try {
      return Files.readString(path);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
