package dev.geminirotator.core.rotation;

/**
 * How a rotator chooses among the keys that can serve a request. Whichever keys cannot serve
 * (invalid, disabled, cooling for the model, quota spent, already tried by the request), every
 * strategy shares their turns among the keys that can in proportion to each one's own share: when
 * the key a strategy picks cannot serve, a replacement is drawn at random, never simply the next
 * key along (which would hand it the turns of every unusable key before it).
 */
public enum Strategy {
  /** Each key in turn; a turn whose key cannot serve goes to a key drawn at random. The default. */
  ROUND_ROBIN,
  /**
   * In proportion to each key's weight, interleaved smoothly (a low-discrepancy sequence over an
   * alias table: O(1) per pick whatever the pool size).
   */
  WEIGHTED,
  /**
   * Two random keys, keeping the one with the better health per request in flight. Adapts to slow
   * or flaky keys without a global view. Shares are equal among keys that are equally busy: a
   * key whose requests stay in flight longer is picked less, by design.
   */
  POWER_OF_TWO;
}
