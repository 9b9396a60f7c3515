package dev.geminirotator.standalone;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The standalone module is packaged by concern (issue 16 item 6): the HTTP plumbing knows nothing
 * of Gemini or of the packages above it; config and admin never reach into the Gemini exchange
 * adapter (the module's root package), which depends on them, not the reverse.
 */
class StandaloneArchitectureTest {

  private static final String ROOT = "dev.geminirotator.standalone";
  private static final String HTTP = ROOT + ".http..";
  private static final String CONFIG = ROOT + ".config..";
  private static final String ADMIN = ROOT + ".admin..";

  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    production = new ClassFileImporter()
        .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages(ROOT);
  }

  @Test
  void httpPlumbingImportsNothingOfGemini() {
    noClasses().that().resideInAPackage(HTTP)
        .should().dependOnClassesThat()
        .resideInAnyPackage("dev.geminirotator.api..", "dev.geminirotator.core..",
            "dev.geminirotator.redis..")
        .because("the HTTP plumbing can be read, tested and replaced on its own")
        .check(production);
  }

  @Test
  void httpPlumbingImportsNoOtherPackageOfTheModule() {
    noClasses().that().resideInAPackage(HTTP)
        .should().dependOnClassesThat()
        .resideInAnyPackage(ROOT, CONFIG, ADMIN)
        .because("requests reach the rest only through RequestHandler")
        .check(production);
  }

  @Test
  void configImportsNeitherTheExchangeAdapterNorAdmin() {
    noClasses().that().resideInAPackage(CONFIG)
        .should().dependOnClassesThat().resideInAnyPackage(ROOT, ADMIN)
        .check(production);
  }

  @Test
  void adminImportsNothingOfTheExchangeAdapter() {
    noClasses().that().resideInAPackage(ADMIN)
        .should().dependOnClassesThat().resideInAPackage(ROOT)
        .check(production);
  }

  @Test
  void usesNoInternalPackageOfAnotherModule() {
    noClasses().that().resideInAPackage(ROOT + "..")
        .should().dependOnClassesThat().resideInAPackage("dev.geminirotator..internal..")
        .check(production);
  }
}
