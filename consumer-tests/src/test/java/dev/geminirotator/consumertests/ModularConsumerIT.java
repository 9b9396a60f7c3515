package dev.geminirotator.consumertests;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.lang.module.ModuleDescriptor;
import java.lang.module.ModuleFinder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.spi.ToolProvider;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * A modular program ({@code src/test/modular-consumer}) compiled against, and run on, a module
 * path of the packaged jars of the okhttp module and its runtime dependencies: the module names
 * in the jars' manifests must let {@code requires dev.geminirotator.okhttp} (and api, core)
 * resolve, and the interceptor must work as a named module.
 *
 * <p>A failsafe test: only after {@code package} does the reactor hand over jars (with their
 * manifests) instead of {@code target/classes}.
 */
class ModularConsumerIT {

  private static final String MODULE = "com.example.modular";
  private static final Pattern PUBLISHED_JAR =
      Pattern.compile("gemini-rotator-(api|core|config|okhttp|redis|genai)-[^-]+\\.jar");

  @Test
  void modularProgramResolvesThePublishedJarsByTheirModuleNamesAndRunsTheInterceptor()
      throws Exception {
    List<Path> modulePath = modulePath();
    assertThat(modulePath).as("the module path holds packaged jars, not target/classes")
        .allSatisfy(entry -> assertThat(entry.toString()).endsWith(".jar"))
        .anySatisfy(entry -> assertThat(entry.getFileName().toString())
            .startsWith("gemini-rotator-okhttp-"));
    String path = modulePath.stream().map(Path::toString)
        .collect(Collectors.joining(File.pathSeparator));
    Path work = Paths.get(System.getProperty("modular.work"));
    Path classes = work.resolve(MODULE);
    deleteRecursively(work);
    Files.createDirectories(classes);

    compile(path, classes);
    String output = run(classes + File.pathSeparator + path, work.resolve("output.txt"));

    assertThat(output).contains(
        "module dev.geminirotator.api named=true automatic=true",
        "module dev.geminirotator.core named=true automatic=true",
        "module dev.geminirotator.okhttp named=true automatic=true",
        "layer has dev.geminirotator.okhttp=true",
        "status 200 body {\"candidates\"");
    // k1 or k2: a pool key; k0 would be a key outside the pool, "none" no key at all
    assertThat(output).containsPattern("(?m)^upstream saw key k[12]$").doesNotContain("AIza");
  }

  @Test
  void everyPublishedJarNamesItsModuleInItsManifest() {
    Map<String, String> names = new TreeMap<>();
    for (String entry : System.getProperty("java.class.path").split(File.pathSeparator)) {
      Matcher jar = PUBLISHED_JAR.matcher(Paths.get(entry).getFileName().toString());
      if (!jar.matches()) continue;
      ModuleDescriptor descriptor = ModuleFinder.of(Paths.get(entry)).findAll().iterator().next()
          .descriptor();
      names.put(jar.group(1), descriptor.name());
    }
    assertThat(names).containsExactlyInAnyOrderEntriesOf(Map.of(
        "api", "dev.geminirotator.api",
        "core", "dev.geminirotator.core",
        "config", "dev.geminirotator.config",
        "okhttp", "dev.geminirotator.okhttp",
        "redis", "dev.geminirotator.redis",
        "genai", "dev.geminirotator.genai"));
  }

  private static void compile(String modulePath, Path classes) throws IOException {
    Path sources = Paths.get(System.getProperty("modular.sources")).resolve(MODULE);
    List<String> args = new ArrayList<>(List.of(
        "--release", "17", "--module-path", modulePath, "-d", classes.toString()));
    try (Stream<Path> files = Files.walk(sources)) {
      files.filter(file -> file.toString().endsWith(".java")).map(Path::toString)
          .forEach(args::add);
    }
    ToolProvider javac = ToolProvider.findFirst("javac").orElseThrow();
    ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
    int status;
    try (PrintWriter out = new PrintWriter(diagnostics, true, StandardCharsets.UTF_8)) {
      status = javac.run(out, out, args.toArray(String[]::new));
    }
    assertThat(status).as("javac %s%n%s", args, diagnostics.toString(StandardCharsets.UTF_8))
        .isZero();
  }

  private static String run(String modulePath, Path output) throws Exception {
    Path java = Paths.get(System.getProperty("java.home"), "bin", "java");
    // Automatic modules declare no dependencies, so the explicit modules they use (org.slf4j,
    // com.fasterxml.jackson.databind, kotlin.stdlib) are resolved only when asked for: README's
    // Compatibility section tells modular users to add them this way.
    Process process = new ProcessBuilder(java.toString(), "--module-path", modulePath,
        "--add-modules", "ALL-MODULE-PATH", "--module", MODULE + "/com.example.modular.Main")
        .redirectErrorStream(true)
        .redirectOutput(output.toFile())
        .start();
    process.getOutputStream().close();
    boolean exited = process.waitFor(60, TimeUnit.SECONDS);
    if (!exited) process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
    String text = Files.readString(output);
    assertThat(exited).as("the modular program exits; its output:%n%s", text).isTrue();
    assertThat(process.exitValue()).as("exit status; output:%n%s", text).isZero();
    return text;
  }

  private static List<Path> modulePath() throws IOException {
    String listing = Files.readString(Paths.get(System.getProperty("modular.modulePath"))).trim();
    return Arrays.stream(listing.split(File.pathSeparator)).map(Paths::get).toList();
  }

  private static void deleteRecursively(Path root) throws IOException {
    if (!Files.exists(root)) return;
    try (Stream<Path> files = Files.walk(root)) {
      for (Path file : files.sorted((a, b) -> b.compareTo(a)).toList()) Files.delete(file);
    }
  }
}
