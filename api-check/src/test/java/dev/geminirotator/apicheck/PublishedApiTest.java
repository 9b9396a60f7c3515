package dev.geminirotator.apicheck;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The public API of every published module matches its checked-in listing
 * ({@code <module>/api/<module>.api}). With {@code -Dapi.update=true} it rewrites the listings
 * instead. The pom passes the project root, the checked modules and the update flag.
 */
class PublishedApiTest {

  private static final Path ROOT = Path.of(required("api.root")).toAbsolutePath().normalize();
  private static final List<String> MODULES = Arrays.stream(required("api.modules").split(","))
      .map(String::strip)
      .filter(module -> !module.isEmpty())
      .collect(Collectors.toList());

  @Test
  void everyPublishedModuleMatchesItsCheckedInApiListing() {
    if (Boolean.getBoolean("api.update")) {
      List<Path> changed = ApiCheck.update(ROOT, MODULES);
      changed.forEach(file -> System.out.println("API listing rewritten: " + ROOT.relativize(file)));
    }
    List<String> problems = ApiCheck.verify(ROOT, MODULES);

    assertThat(problems)
        .withFailMessage(() -> String.join("\n\n", problems))
        .isEmpty();
  }

  private static String required(String property) {
    String value = System.getProperty(property);
    if (value == null || value.isBlank()) {
      throw new IllegalStateException("system property " + property + " is not set: run this test"
          + " through Maven (mvn -B -ntp verify -pl api-check -am), whose pom sets it");
    }
    return value;
  }
}
