package dev.geminirotator.okhttp;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The okhttp module is an integration module: it uses the public API of api and core only. */
class ArchitectureTest {

  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    production = new ClassFileImporter()
        .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("dev.geminirotator.okhttp");
  }

  @Test
  void usesNoInternalPackageOfAnotherModule() {
    noClasses().that().resideInAPackage("dev.geminirotator.okhttp..")
        .should().dependOnClassesThat().resideInAPackage("dev.geminirotator..internal..")
        .check(production);
  }

  @Test
  void knowsNothingOfOtherTransportsOrStores() {
    noClasses().that().resideInAPackage("dev.geminirotator.okhttp..")
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
    noClasses().that().resideInAPackage("dev.geminirotator.okhttp..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("ch.qos.logback..", "org.apache.logging.log4j..", "java.util.logging..")
        .check(production);
  }
}
