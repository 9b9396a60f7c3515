package dev.geminirotator.othermodule.internal;

/** Stands for another module's internal class (ArchitectureRulesTest). */
public final class OtherHelper {
  public static int answer() {
    return 7;
  }
}
