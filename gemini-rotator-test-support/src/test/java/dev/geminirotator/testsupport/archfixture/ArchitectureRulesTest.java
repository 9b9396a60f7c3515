package dev.geminirotator.testsupport.archfixture;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.example.vendor.internal.VendorHelper;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import dev.geminirotator.othermodule.internal.OtherHelper;
import dev.geminirotator.testsupport.ArchitectureRules;
import dev.geminirotator.testsupport.archfixture.internal.OwnHelper;
import org.junit.jupiter.api.Test;

/** The shared rules catch what they name, and only that, on a fixture "module" (this package). */
class ArchitectureRulesTest {

  private static final String ROOT = "dev.geminirotator.testsupport.archfixture";

  private static JavaClasses classes(Class<?>... classes) {
    return new ClassFileImporter().importClasses(classes);
  }

  @Test
  void anotherLibrarysInternalPackageIsRefused() {
    assertThatThrownBy(() -> ArchitectureRules.noInternalPackageOfAnother(ROOT)
        .check(classes(Fixtures.UsesAnotherLibrarysInternal.class, VendorHelper.class)))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("com.example.vendor.internal.VendorHelper");
  }

  @Test
  void anotherModulesInternalPackageIsRefused() {
    assertThatThrownBy(() -> ArchitectureRules.noInternalPackageOfAnother(ROOT)
        .check(classes(Fixtures.UsesAnotherModulesInternal.class, OtherHelper.class)))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("dev.geminirotator.othermodule.internal.OtherHelper");
  }

  @Test
  void theModulesOwnInternalPackageIsAllowed() {
    assertThatCode(() -> ArchitectureRules.noInternalPackageOfAnother(ROOT)
        .check(classes(Fixtures.UsesItsOwnInternal.class, OwnHelper.class)))
        .doesNotThrowAnyException();
  }

  @Test
  void aFriendModulesInternalPackageIsAllowedAndNoOtherOne() {
    assertThatCode(() -> ArchitectureRules
        .noInternalPackageOfAnother(ROOT, "dev.geminirotator.othermodule.internal")
        .check(classes(Fixtures.UsesAnotherModulesInternal.class, OtherHelper.class)))
        .doesNotThrowAnyException();
    assertThatThrownBy(() -> ArchitectureRules
        .noInternalPackageOfAnother(ROOT, "dev.geminirotator.othermodule.internal")
        .check(classes(Fixtures.UsesAnotherLibrarysInternal.class, VendorHelper.class)))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("com.example.vendor.internal.VendorHelper");
    assertThatThrownBy(() -> ArchitectureRules.noInternalPackageOfAnother(ROOT, "okhttp3.internal"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("okhttp3.internal");
  }

  @Test
  void loggingThroughAnythingButSlf4jIsRefused() {
    assertThatThrownBy(() -> ArchitectureRules.logThroughSlf4jOnly(ROOT)
        .check(classes(Fixtures.LogsThroughJul.class)))
        .isInstanceOf(AssertionError.class)
        .hasMessageContaining("java.util.logging.Logger");
    assertThatCode(() -> ArchitectureRules.logThroughSlf4jOnly(ROOT)
        .check(classes(Fixtures.UsesItsOwnInternal.class)))
        .doesNotThrowAnyException();
  }
}
