package dev.geminirotator.api.arch;

import com.tngtech.archunit.core.domain.JavaClasses;
import dev.geminirotator.testsupport.ArchitectureRules;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The api module's own boundary checks. That it depends on the JDK alone is checked in core's
 * ArchitectureTest (which sees api and core together); the rules every module checks are here.
 */
class ApiArchitectureTest {

  private static final String ROOT = "dev.geminirotator.api";

  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    production = ArchitectureRules.production(ROOT);
  }

  @Test
  void usesNoInternalPackageOfAnotherModuleOrLibrary() {
    // jdk.internal included: the api is the JDK's public API only
    ArchitectureRules.noInternalPackageOfAnother(ROOT).check(production);
  }

  @Test
  void logsThroughNoBackend() {
    ArchitectureRules.logThroughSlf4jOnly(ROOT).check(production);
  }
}
