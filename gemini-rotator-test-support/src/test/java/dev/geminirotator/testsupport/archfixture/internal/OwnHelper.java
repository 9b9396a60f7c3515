package dev.geminirotator.testsupport.archfixture.internal;

/** The fixture module's own internal class (ArchitectureRulesTest). */
public final class OwnHelper {
  public static int answer() {
    return 1;
  }
}
