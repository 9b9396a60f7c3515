package dev.geminirotator.consumertests;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * README's coordinates are the ones the consumer project builds with, at this version: the BOM
 * import block of {@code src/it/okhttp-consumer/pom.xml} appears in README verbatim, and the
 * Gradle lines name the same BOM.
 */
class ReadmeCoordinatesTest {

  private static final String VERSION = System.getProperty("project.version");

  @Test
  void readmeShowsTheBomImportTheConsumerProjectBuildsWith() throws IOException {
    String pom = Files.readString(Paths.get("src/it/okhttp-consumer/pom.xml"));
    String block = dedent(pom.substring(pom.indexOf("  <dependencyManagement>"),
        pom.indexOf("</dependencyManagement>") + "</dependencyManagement>".length()))
        .replace("@project.version@", VERSION);

    assertThat(readme()).contains(block);
  }

  @Test
  void readmeShowsTheBomAndAModuleWithoutVersionForGradle() throws IOException {
    assertThat(readme()).contains(
        "implementation(platform(\"dev.geminirotator:gemini-rotator-bom:" + VERSION + "\"))",
        "implementation(\"dev.geminirotator:gemini-rotator-okhttp\")",
        "implementation platform('dev.geminirotator:gemini-rotator-bom:" + VERSION + "')",
        "implementation 'dev.geminirotator:gemini-rotator-okhttp'");
  }

  private static String readme() throws IOException {
    return Files.readString(Path.of(System.getProperty("readme")));
  }

  private static String dedent(String text) {
    return text.lines().map(line -> line.startsWith("  ") ? line.substring(2) : line)
        .collect(Collectors.joining("\n"));
  }
}
