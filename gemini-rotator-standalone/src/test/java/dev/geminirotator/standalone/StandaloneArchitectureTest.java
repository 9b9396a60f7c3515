package dev.geminirotator.standalone;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;

import com.tngtech.archunit.base.DescribedPredicate;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.domain.JavaMethodCall;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.config.ConfigException;
import dev.geminirotator.config.Secret;
import dev.geminirotator.testsupport.ArchitectureRules;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The standalone module is packaged by concern (issue 16 item 6): the HTTP plumbing knows nothing
 * of Gemini or of the packages above it; config and admin never reach into the Gemini exchange
 * adapter ({@code gemini}), which depends on them, not the reverse; the adapter never reaches back
 * into the root package (the wiring: server, routes, readiness). And the attempt loop is core's:
 * nothing in the module builds a request's attempts, leases a key or asks the breaker itself.
 * No internal package of another module or library is used.
 */
class StandaloneArchitectureTest {

  private static final String ROOT = "dev.geminirotator.standalone";
  private static final String HTTP = ROOT + ".http..";
  private static final String CONFIG = ROOT + ".config..";
  private static final String ADMIN = ROOT + ".admin..";
  private static final String GEMINI = ROOT + ".gemini..";
  /** CircuitGuard's permission and reporting methods: only core's attempt loop calls them. */
  private static final Set<String> GUARD_LOOP_METHODS = Set.of("acquirePermission",
      "onOutcome", "releasePermission");

  private static JavaClasses production;

  @BeforeAll
  static void importClasses() {
    production = ArchitectureRules.production(ROOT);
  }

  @Test
  void httpPlumbingImportsNothingOfGemini() {
    noClasses().that().resideInAPackage(HTTP)
        .should().dependOnClassesThat()
        .resideInAnyPackage("dev.geminirotator.api..", "dev.geminirotator.core..",
            "dev.geminirotator.config..", "dev.geminirotator.redis..")
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
        .should().dependOnClassesThat().resideInAnyPackage(ROOT, ADMIN, GEMINI)
        .check(production);
  }

  @Test
  void onlyTheConfigPackageReadsConfigurationFiles() {
    noClasses().that().resideInAPackage(ROOT + "..").and().resideOutsideOfPackage(CONFIG)
        .should().dependOnClassesThat(JavaClass.Predicates
            .resideInAnyPackage("dev.geminirotator.config..", "org.snakeyaml..")
            .and(DescribedPredicate.not(JavaClass.Predicates.equivalentTo(ConfigException.class)))
            .and(DescribedPredicate.not(JavaClass.Predicates.equivalentTo(Secret.class))))
        .because("the rest of the module sees a loaded StandaloneConfig (and the Secrets it"
            + " holds), or the ConfigException that says why there is none")
        .check(production);
  }

  @Test
  void adminImportsNothingOfTheExchangeAdapter() {
    noClasses().that().resideInAPackage(ADMIN)
        .should().dependOnClassesThat().resideInAnyPackage(ROOT, GEMINI)
        .check(production);
  }

  @Test
  void theExchangeAdapterImportsNothingOfTheWiring() {
    noClasses().that().resideInAPackage(GEMINI)
        .should().dependOnClassesThat().resideInAnyPackage(ROOT, ADMIN)
        .because("the server and its routes use the adapter, not the reverse")
        .check(production);
  }

  @Test
  void noAttemptLoopOutsideCore() {
    noClasses().that().resideInAPackage(ROOT + "..")
        .should().dependOnClassesThat()
        .haveFullyQualifiedName("dev.geminirotator.core.attempt.Attempts")
        .orShould().callMethodWhere(new DescribedPredicate<JavaMethodCall>(
            "a key leased (KeyRotator.acquire) or the breaker asked (CircuitGuard's permission"
                + " and outcome methods) outside core's GeminiExchange") {
          @Override
          public boolean test(JavaMethodCall call) {
            String name = call.getTarget().getName();
            var owner = call.getTargetOwner();
            return (owner.isAssignableTo(KeyRotator.class) && name.equals("acquire"))
                || (owner.isAssignableTo(CircuitGuard.class)
                    && GUARD_LOOP_METHODS.contains(name));
          }
        })
        .because("leases, guard permissions and retries are core's (issue 16 item 3): a"
            + " transport only sends and hands answers on")
        .check(production);
  }

  @Test
  void usesNoInternalPackageOfAnotherModuleOrLibrary() {
    // e.g. resilience4j's ratelimiter.internal.AtomicRateLimiter, Netty's util.internal; core's
    // transport machinery is shared by the two transports, released with them
    ArchitectureRules.noInternalPackageOfAnother(ROOT, "dev.geminirotator.core.internal")
        .check(production);
  }
}
