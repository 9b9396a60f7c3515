package dev.geminirotator.core.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import java.time.Instant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Makes the module boundaries of STYLE.md executable. */
class ArchitectureTest {

  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    production = new ClassFileImporter()
        .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("dev.geminirotator");
  }

  @Test
  void apiDependsOnTheJdkAlone() {
    classes().that().resideInAPackage("dev.geminirotator.api..")
        // javax.crypto: the JDK's HMAC, for key ids derived from secrets (ApiKey)
        .should().onlyDependOnClassesThat().resideInAnyPackage("java..", "javax.crypto..",
            "dev.geminirotator.api..")
        .check(production);
  }

  @Test
  void apiKnowsNothingOfCore() {
    noClasses().that().resideInAPackage("dev.geminirotator.api..")
        .should().dependOnClassesThat().resideInAPackage("dev.geminirotator.core..")
        .check(production);
  }

  @Test
  void coreIsTransportNeutral() {
    noClasses().that().resideInAPackage("dev.geminirotator.core..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("okhttp3..", "org.eclipse.jetty..", "redis.clients..", "jakarta.servlet..")
        .check(production);
  }

  @Test
  void coreCarriesNoYamlParser() {
    noClasses().that().resideInAPackage("dev.geminirotator.core..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("org.snakeyaml..", "org.yaml..", "com.fasterxml.jackson.dataformat..",
            "dev.geminirotator.config..")
        .because("configuration files are the gemini-rotator-config module's: a user of the"
            + " interceptor alone gets no YAML parser on the class path (issue 17)")
        .check(production);
  }

  @Test
  void coreTakesTimeFromItsInjectedClock() {
    noClasses().that().resideInAPackage("dev.geminirotator.core..")
        .should().callMethod(System.class, "currentTimeMillis")
        .orShould().callMethod(Instant.class, "now")
        .because("tests drive time with a fake clock and never sleep through a cooldown")
        .check(production);
  }

  @Test
  void librariesLogThroughSlf4jOnly() {
    noClasses().that().resideInAPackage("dev.geminirotator..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("ch.qos.logback..", "org.apache.logging.log4j..", "java.util.logging..")
        .check(production);
  }
}
