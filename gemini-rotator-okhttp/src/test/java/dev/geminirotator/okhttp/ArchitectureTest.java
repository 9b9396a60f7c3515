package dev.geminirotator.okhttp;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.tngtech.archunit.core.domain.JavaClasses;
import dev.geminirotator.testsupport.ArchitectureRules;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The okhttp module is an integration module: it uses the public API of api and core only. */
class ArchitectureTest {

  private static final String ROOT = "dev.geminirotator.okhttp";

  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    production = ArchitectureRules.production(ROOT);
  }

  @Test
  void usesNoInternalPackageOfAnotherModuleOrLibrary() {
    // core's transport machinery is shared by the two transports, released with them
    ArchitectureRules.noInternalPackageOfAnother(ROOT, "dev.geminirotator.core.internal")
        .check(production);
  }

  @Test
  void knowsNothingOfOtherTransportsOrStores() {
    noClasses().that().resideInAPackage(ROOT + "..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("org.eclipse.jetty..", "redis.clients..", "jakarta.servlet..",
            "io.github.resilience4j..", "com.fasterxml.jackson..")
        .check(production);
  }

  @Test
  void classPathCarriesNoYamlParser() {
    // This module's test class path holds its runtime one: were snakeyaml-engine or the config
    // module to come in through core again, every user of this module would get them (issue 17).
    assertThatThrownBy(() -> Class.forName("org.snakeyaml.engine.v2.api.Load"))
        .isInstanceOf(ClassNotFoundException.class);
    assertThatThrownBy(() -> Class.forName("dev.geminirotator.config.ConfigLoader"))
        .isInstanceOf(ClassNotFoundException.class);
  }

  @Test
  void logsThroughSlf4jOnly() {
    ArchitectureRules.logThroughSlf4jOnly(ROOT).check(production);
  }
}
