package dev.geminirotator.config;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThat;

import com.tngtech.archunit.core.domain.JavaClasses;
import dev.geminirotator.testsupport.ArchitectureRules;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The config module reads files into core's public model: it uses no internal package of another
 * module and knows nothing of transports, stores or the proxy.
 */
class ConfigModuleArchitectureTest {

  private static final String ROOT = "dev.geminirotator.config";

  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    production = ArchitectureRules.production(ROOT);
  }

  @Test
  void usesNoInternalPackageOfAnotherModuleOrLibrary() {
    ArchitectureRules.noInternalPackageOfAnother(ROOT).check(production);
  }

  @Test
  void knowsNothingOfTransportsStoresOrTheProxy() {
    noClasses().that().resideInAPackage(ROOT + "..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("okhttp3..", "io.netty..", "redis.clients..",
            "dev.geminirotator.okhttp..", "dev.geminirotator.redis..",
            "dev.geminirotator.standalone..")
        .check(production);
  }

  @Test
  void configNodeShowsOtherModulesOnlyWhatTheyRead() {
    // What the standalone proxy reads its sections with; the rest serves RotatorSections and
    // stays package-private (issue 17). Widen this list only for a caller in another module.
    List<String> publicMethods = Arrays.stream(ConfigNode.class.getDeclaredMethods())
        .filter(m -> Modifier.isPublic(m.getModifiers())).map(Method::getName).toList();
    assertThat(publicMethods).containsExactlyInAnyOrder("describe", "path", "isDescribing",
        "baseDir", "string", "secret", "integer", "bool", "duration", "value", "stringList",
        "child", "list", "asSecret", "error", "fields", "finish");
    assertThat(Arrays.stream(ConfigNode.class.getDeclaredFields())
        .filter(f -> Modifier.isPublic(f.getModifiers()))).isEmpty();
  }

  @Test
  void logsThroughSlf4jOnly() {
    ArchitectureRules.logThroughSlf4jOnly(ROOT).check(production);
  }
}
