package dev.geminirotator.apicheck;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ApiCheckTest {

  private static final String V1 = "package p; public class Service { public void call() {} }";
  private static final String V2 =
      "package p; public class Service { public void call() {} public void extra() {} }";

  @TempDir Path root;
  @TempDir Path scratch;

  @BeforeEach
  void compileModuleA() throws IOException {
    compile("module-a", V1);
  }

  private void compile(String module, String source) throws IOException {
    Path work = Files.createTempDirectory(scratch, "javac");
    Path classes = JavaSources.compile(work, Map.of("p/Service.java", source));
    Path target = ApiCheck.classesDir(root, module);
    deleteTree(target);
    Files.createDirectories(target.getParent());
    Files.move(classes, target);
  }

  private static void deleteTree(Path dir) throws IOException {
    if (Files.exists(dir)) {
      try (var paths = Files.walk(dir)) {
        for (Path path : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
          Files.delete(path);
        }
      }
    }
  }

  @Test
  void aModuleWithoutAListingFailsAndSaysHowToCreateIt() {
    List<String> problems = ApiCheck.verify(root, List.of("module-a"));

    assertThat(problems).singleElement().asString()
        .contains("module-a has no API listing at module-a/api/module-a.api")
        .contains(ApiCheck.UPDATE_COMMAND);
  }

  @Test
  void updateWritesTheListingAndThenTheCheckPasses() {
    List<Path> changed = ApiCheck.update(root, List.of("module-a"));

    assertThat(changed).containsExactly(ApiCheck.listingFile(root, "module-a"));
    assertThat(ApiCheck.verify(root, List.of("module-a"))).isEmpty();
    assertThat(ApiCheck.update(root, List.of("module-a"))).isEmpty();
  }

  @Test
  void anApiChangeFailsNamingTheModuleTheLinesAndTheUpdateCommand() throws IOException {
    ApiCheck.update(root, List.of("module-a"));
    compile("module-a", V2);

    List<String> problems = ApiCheck.verify(root, List.of("module-a"));

    assertThat(problems).singleElement().asString()
        .contains("The public API of module-a does not match its listing module-a/api/module-a.api")
        .contains("~ p.Service\n    + public void extra()")
        .contains(ApiCheck.UPDATE_COMMAND);
  }

  @Test
  void aListingWithWindowsLineEndingsStillMatches() throws IOException {
    ApiCheck.update(root, List.of("module-a"));
    Path listing = ApiCheck.listingFile(root, "module-a");
    Files.writeString(listing, Files.readString(listing).replace("\n", "\r\n"));

    assertThat(ApiCheck.verify(root, List.of("module-a"))).isEmpty();
  }

  @Test
  void aListingOfAModuleThatIsNotCheckedFails() throws IOException {
    ApiCheck.update(root, List.of("module-a"));
    Path stray = root.resolve("examples/old-example/api/old-example.api");
    Files.createDirectories(stray.getParent());
    Files.writeString(stray, "");

    List<String> problems = ApiCheck.verify(root, List.of("module-a"));

    assertThat(problems).singleElement().asString()
        .contains("API listing examples/old-example/api/old-example.api belongs to no checked"
            + " module (module-a)");
  }

  @Test
  void aModuleThatWasNotBuiltFailsClearly() {
    List<String> problems = ApiCheck.verify(root, List.of("module-a", "module-b"));

    assertThat(problems).anySatisfy(problem -> assertThat(problem)
        .startsWith("module-b: no compiled classes at module-b/target/classes"));
  }
}
