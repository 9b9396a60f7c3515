package com.example.vendor.internal;

/** Stands for another library's internal class (ArchitectureRulesTest). */
public final class VendorHelper {
  public static int answer() {
    return 42;
  }
}
