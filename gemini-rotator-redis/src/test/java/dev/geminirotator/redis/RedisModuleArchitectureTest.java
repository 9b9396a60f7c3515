package dev.geminirotator.redis;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaModifier;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The redis module builds on the public SPI only, keeps a small public surface, logs via slf4j. */
class RedisModuleArchitectureTest {

  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    production = new ClassFileImporter()
        .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages("dev.geminirotator.redis");
  }

  @Test
  void usesThePublicApiAndNotCore() {
    noClasses().that().resideInAPackage("dev.geminirotator.redis..")
        .should().dependOnClassesThat().resideInAPackage("dev.geminirotator.core..")
        .check(production);
  }

  @Test
  void logsThroughSlf4jOnly() {
    noClasses().that().resideInAPackage("dev.geminirotator.redis..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("ch.qos.logback..", "org.apache.logging.log4j..", "java.util.logging..")
        .check(production);
  }

  @Test
  void onlyTheStoreItsOptionsProviderAndMetricsArePublic() {
    classes().that().resideInAPackage("dev.geminirotator.redis")
        .and().haveModifier(JavaModifier.PUBLIC).and().areTopLevelClasses()
        .should().haveSimpleNameStartingWith("Redis").orShould().haveSimpleName("StoreMetrics")
        .check(production);
    noClasses().that().resideInAPackage("dev.geminirotator.redis")
        .and().haveSimpleNameNotStartingWith("Redis").and().doNotHaveSimpleName("StoreMetrics")
        .and().areTopLevelClasses()
        .should().bePublic()
        .check(production);
  }
}
