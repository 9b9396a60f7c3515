package dev.geminirotator.core.arch;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.tngtech.archunit.core.domain.JavaClasses;
import dev.geminirotator.testsupport.ArchitectureRules;
import java.time.Instant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Makes the module boundaries of STYLE.md executable. */
class ArchitectureTest {

  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    // core and, from its jar, api: the rules below name which they apply to
    production = ArchitectureRules.production("dev.geminirotator");
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
  void coreBringsNoRateLimiterLibrary() {
    // core counts quotas itself (SharedQuotas); the proxy's per-client limits declare their own
    assertThatThrownBy(() -> Class.forName("io.github.resilience4j.ratelimiter.RateLimiter"))
        .as("resilience4j-ratelimiter on core's classpath")
        .isInstanceOf(ClassNotFoundException.class);
  }

  @Test
  void coreUsesNoInternalPackageOfAnotherModuleOrLibrary() {
    // its own dev.geminirotator.core.internal is allowed
    ArchitectureRules.noInternalPackageOfAnother("dev.geminirotator.core").check(production);
  }

  @Test
  void librariesLogThroughSlf4jOnly() {
    ArchitectureRules.logThroughSlf4jOnly("dev.geminirotator.core").check(production);
    ArchitectureRules.logThroughSlf4jOnly("dev.geminirotator.api").check(production);
  }
}
