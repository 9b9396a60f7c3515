package dev.geminirotator.core.rotation;

/** How a rotator chooses among the keys that can serve a request. */
public enum Strategy {
  /** Each key in turn, skipping those that cannot serve. The default. */
  ROUND_ROBIN,
  /**
   * In proportion to each key's weight, interleaved smoothly (a low-discrepancy sequence over an
   * alias table: O(1) per pick whatever the pool size).
   */
  WEIGHTED,
  /**
   * Two random keys, keeping the one with the better health per request in flight. Adapts to slow
   * or flaky keys without a global view.
   */
  POWER_OF_TWO;
}
