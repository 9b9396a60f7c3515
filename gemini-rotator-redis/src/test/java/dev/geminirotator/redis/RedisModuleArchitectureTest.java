package dev.geminirotator.redis;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaModifier;
import dev.geminirotator.testsupport.ArchitectureRules;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The redis module builds on the public SPI only (no internal package of another module or
 * library), keeps a small public surface, logs via slf4j.
 */
class RedisModuleArchitectureTest {

  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    production = ArchitectureRules.production("dev.geminirotator.redis");
  }

  @Test
  void usesNoInternalPackageOfAnotherModuleOrLibrary() {
    ArchitectureRules.noInternalPackageOfAnother("dev.geminirotator.redis").check(production);
  }

  @Test
  void usesThePublicApiAndNotCore() {
    noClasses().that().resideInAPackage("dev.geminirotator.redis..")
        .should().dependOnClassesThat().resideInAPackage("dev.geminirotator.core..")
        .check(production);
  }

  @Test
  void logsThroughSlf4jOnly() {
    ArchitectureRules.logThroughSlf4jOnly("dev.geminirotator.redis").check(production);
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
