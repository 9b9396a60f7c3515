package dev.geminirotator.apicheck;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;

/** Compiles Java sources given as text with the JDK's own compiler, for the listing tests. */
final class JavaSources {

  private JavaSources() {}

  /**
   * Writes {@code sources} (path such as {@code p/Foo.java} to content) under {@code dir/src},
   * compiles them for release 17 into {@code dir/classes} and returns that directory.
   */
  static Path compile(Path dir, Map<String, String> sources) throws IOException {
    Path src = dir.resolve("src");
    Path classes = dir.resolve("classes");
    Files.createDirectories(classes);
    List<String> args = new ArrayList<>(List.of("--release", "17", "-d", classes.toString()));
    for (Map.Entry<String, String> source : sources.entrySet()) {
      Path file = src.resolve(source.getKey());
      Files.createDirectories(file.getParent());
      Files.writeString(file, source.getValue());
      args.add(file.toString());
    }
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    ByteArrayOutputStream errors = new ByteArrayOutputStream();
    int status = javac.run(null, errors, errors, args.toArray(String[]::new));
    if (status != 0) {
      throw new IllegalStateException("javac failed on " + sources.keySet() + ": " + errors.toString(StandardCharsets.UTF_8));
    }
    return classes;
  }
}
