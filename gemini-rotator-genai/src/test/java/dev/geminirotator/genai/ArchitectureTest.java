package dev.geminirotator.genai;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

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
  void logsThroughSlf4jOnly() {
    ArchitectureRules.logThroughSlf4jOnly(ROOT).check(production);
  }
}
