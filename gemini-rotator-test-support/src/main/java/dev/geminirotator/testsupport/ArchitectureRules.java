package dev.geminirotator.testsupport;

import static com.tngtech.archunit.base.DescribedPredicate.not;
import static com.tngtech.archunit.core.domain.JavaClass.Predicates.resideInAPackage;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchRule;

/**
 * The ArchUnit rules every module's architecture test checks, written once. Each takes the
 * module's root package ({@code dev.geminirotator.okhttp}) and applies to the classes under it;
 * a module's test imports its production classes with {@link #production(String)} and checks
 * each rule, next to the rules that are its own. Stateless and thread-safe.
 */
public final class ArchitectureRules {

  private ArchitectureRules() {
  }

  /** The production classes (no test classes) under {@code root} and its sub-packages. */
  public static JavaClasses production(String root) {
    return new ClassFileImporter()
        .withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
        .importPackages(root);
  }

  /**
   * No class under {@code root} depends on a class in a package named {@code internal} outside
   * {@code root}: not another library's ({@code io.github.resilience4j.ratelimiter.internal},
   * {@code okhttp3.internal}, {@code io.netty.util.internal}, {@code jdk.internal}, ...), which
   * may change in any release, and not another module's of this project, which is not part of its
   * contract. The module's own {@code internal} packages are its to use.
   */
  public static ArchRule noInternalPackageOfAnother(String root) {
    return noClasses().that().resideInAPackage(root + "..")
        .should().dependOnClassesThat(foreignInternal(root))
        .because("a package named internal is no part of its library's or module's contract"
            + " (issue 17)");
  }

  /**
   * As {@link #noInternalPackageOfAnother(String)}, except for {@code friend}: the internal
   * package (and its sub-packages) of a module of this project that is built and released
   * together with this one, as OkHttp's own modules use {@code okhttp3.internal}. Core's
   * transport machinery ({@code dev.geminirotator.core.internal}) is such a package for the two
   * transports; no other module's, and no library's, is ever one.
   */
  public static ArchRule noInternalPackageOfAnother(String root, String friend) {
    if (!friend.startsWith("dev.geminirotator.") || !friend.endsWith(".internal")) {
      throw new IllegalArgumentException(
          "friend must be an internal package of this project, but was " + friend);
    }
    return noClasses().that().resideInAPackage(root + "..")
        .should().dependOnClassesThat(foreignInternal(root)
            .and(not(resideInAPackage(friend + ".."))))
        .because("a package named internal is no part of its library's or module's contract,"
            + " except " + friend + ", released together with this module (issue 18)");
  }

  /** A class in a package named {@code internal} outside {@code root}. */
  private static DescribedPredicate<JavaClass> foreignInternal(String root) {
    return resideInAPackage("..internal..").and(not(resideInAPackage(root + "..")));
  }

  /** Classes under {@code root} log through slf4j-api only; a library picks no backend. */
  public static ArchRule logThroughSlf4jOnly(String root) {
    return noClasses().that().resideInAPackage(root + "..")
        .should().dependOnClassesThat()
        .resideInAnyPackage("ch.qos.logback..", "org.apache.logging.log4j..", "java.util.logging..")
        .because("only the standalone proxy chooses a logging backend");
  }
}
