package dev.geminirotator.apicheck;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * Compares each published module's compiled API with its checked-in listing
 * {@code <module>/api/<module>.api}, or rewrites the listings.
 *
 * <p>A module's classes are read from {@code <root>/<module>/target/classes}, where the reactor
 * compiled them. Stateless and thread-safe; {@link #update} writes files.
 */
public final class ApiCheck {

  /** The command that rewrites every listing from the compiled classes. */
  public static final String UPDATE_COMMAND =
      "mvn -B -ntp verify -pl api-check -am -Dapi.update=true";

  private ApiCheck() {}

  /** The checked-in listing of {@code module}: {@code <root>/<module>/api/<module>.api}. */
  public static Path listingFile(Path root, String module) {
    return root.resolve(module).resolve("api").resolve(module + ".api");
  }

  /** Where the reactor puts {@code module}'s compiled classes. */
  public static Path classesDir(Path root, String module) {
    return root.resolve(module).resolve("target").resolve("classes");
  }

  /**
   * Returns one message per problem, empty when every listing matches: a module whose API differs
   * from its listing (with the lines added and removed), a module without a listing or without
   * compiled classes, and a listing file of a module that is not checked.
   */
  public static List<String> verify(Path root, List<String> modules) {
    List<String> problems = new ArrayList<>();
    for (String module : modules) {
      Path classes = classesDir(root, module);
      Path listing = listingFile(root, module);
      if (!Files.isDirectory(classes)) {
        problems.add(module + ": no compiled classes at " + root.relativize(classes)
            + "; build the module first: " + UPDATE_COMMAND.replace(" -Dapi.update=true", ""));
        continue;
      }
      if (!Files.isRegularFile(listing)) {
        problems.add(module + " has no API listing at " + root.relativize(listing)
            + ".\nCreate it with: " + UPDATE_COMMAND + "\nand commit it.");
        continue;
      }
      List<String> changes = ApiDiff.changes(read(listing), ApiListing.generate(classes));
      if (!changes.isEmpty()) {
        problems.add("The public API of " + module + " does not match its listing "
            + root.relativize(listing) + " (+ only in the compiled classes, - only in the"
            + " listing):\n" + String.join("\n", changes)
            + "\nIf the change is deliberate, rewrite the listings with:\n  " + UPDATE_COMMAND
            + "\nand commit them with the change. Otherwise restore the API.");
      }
    }
    problems.addAll(strayListings(root, modules));
    return problems;
  }

  /**
   * Rewrites the listing of each module from its compiled classes and returns the files whose
   * content changed.
   *
   * @throws IllegalStateException when a module has no compiled classes
   */
  public static List<Path> update(Path root, List<String> modules) {
    List<Path> changed = new ArrayList<>();
    for (String module : modules) {
      Path classes = classesDir(root, module);
      if (!Files.isDirectory(classes)) {
        throw new IllegalStateException(module + ": no compiled classes at " + classes
            + "; build with -am so the module is compiled first");
      }
      Path listing = listingFile(root, module);
      String content = ApiListing.generate(classes);
      if (Files.isRegularFile(listing) && read(listing).equals(content)) {
        continue;
      }
      try {
        Files.createDirectories(listing.getParent());
        Files.writeString(listing, content, StandardCharsets.UTF_8);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + listing, e);
      }
      changed.add(listing);
    }
    return changed;
  }

  /** Listing files ({@code api/*.api} one or two levels under the root) of unchecked modules. */
  static List<String> strayListings(Path root, List<String> modules) {
    Set<Path> expected = modules.stream()
        .map(module -> listingFile(root, module).toAbsolutePath().normalize())
        .collect(Collectors.toSet());
    List<Path> moduleDirs = new ArrayList<>();
    for (Path child : subdirectories(root)) {
      moduleDirs.add(child);
      moduleDirs.addAll(subdirectories(child)); // examples/<example>
    }
    List<String> stray = new ArrayList<>();
    for (Path dir : moduleDirs) {
      Path api = dir.resolve("api");
      if (!Files.isDirectory(api)) {
        continue;
      }
      try (Stream<Path> files = Files.list(api)) {
        files.filter(file -> file.getFileName().toString().endsWith(".api"))
            .filter(file -> !expected.contains(file.toAbsolutePath().normalize()))
            .forEach(file -> stray.add("API listing " + root.relativize(file)
                + " belongs to no checked module (" + String.join(", ", modules)
                + "): delete it, or add its module to api.modules in api-check/pom.xml"));
      } catch (IOException e) {
        throw new UncheckedIOException("cannot list " + api, e);
      }
    }
    stray.sort(null);
    return stray;
  }

  private static List<Path> subdirectories(Path dir) {
    try (Stream<Path> children = Files.list(dir)) {
      return children
          .filter(Files::isDirectory)
          .filter(child -> !child.getFileName().toString().startsWith("."))
          .filter(child -> !child.getFileName().toString().equals("target"))
          .sorted()
          .collect(Collectors.toList());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot list " + dir, e);
    }
  }

  private static String read(Path file) {
    try {
      return Files.readString(file, StandardCharsets.UTF_8).replace("\r\n", "\n");
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + file, e);
    }
  }
}
