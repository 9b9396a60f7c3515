package dev.geminirotator.testsupport.archfixture;

import com.example.vendor.internal.VendorHelper;
import dev.geminirotator.othermodule.internal.OtherHelper;
import dev.geminirotator.testsupport.archfixture.internal.OwnHelper;
import java.util.logging.Logger;

/** Classes of a fixture module, each with one dependency ArchitectureRulesTest looks for. */
final class Fixtures {

  private Fixtures() {
  }

  static final class UsesAnotherLibrarysInternal {
    int run() {
      return VendorHelper.answer();
    }
  }

  static final class UsesAnotherModulesInternal {
    int run() {
      return OtherHelper.answer();
    }
  }

  static final class UsesItsOwnInternal {
    int run() {
      return OwnHelper.answer();
    }
  }

  static final class LogsThroughJul {
    void run() {
      Logger.getLogger("fixture").info("hello");
    }
  }
}
