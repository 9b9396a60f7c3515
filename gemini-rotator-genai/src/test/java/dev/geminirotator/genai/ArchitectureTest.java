package dev.geminirotator.genai;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.tngtech.archunit.core.domain.JavaClasses;
import dev.geminirotator.testsupport.ArchitectureRules;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The genai module is an integration module: the public API of api, core and okhttp only. */
class ArchitectureTest {

  private static final String ROOT = "dev.geminirotator.genai";

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
  void holdsNoGeminiSemanticsOfItsOwn() {
    noClasses().that().resideInAPackage(ROOT + "..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("dev.geminirotator.core.classify..", "dev.geminirotator.core.attempt..",
            "dev.geminirotator.core.guard..", "dev.geminirotator.standalone..", "redis.clients..")
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
