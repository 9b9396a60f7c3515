package dev.geminirotator.api;

import java.time.Instant;
import java.util.Collections;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;

/**
 * No key in the pool can take this request now. Carries the earliest instant a key frees up (the
 * proxy turns it into {@code 429} with {@code Retry-After}) and how many keys are in each state.
 *
 * <p>The message reads like {@code no key available for model gemini-2.5-pro: 12 rate-limited,
 * 2 invalid; next key frees at 2026-11-26T12:00:07Z}. It never names a secret.
 */
public final class NoKeyAvailableException extends RotatorException {
  private static final long serialVersionUID = 1L;

  private final String model;
  private final transient Instant earliestAvailable;
  private final transient Map<KeyState, Integer> breakdown;
  private final int triedByRequest;

  /**
   * @param model the model asked for
   * @param earliestAvailable when the first key frees up, or {@code null} if none will by itself
   * @param breakdown keys counted by state (keys this request already tried counted by their state)
   * @param triedByRequest how many keys this request already tried
   */
  public NoKeyAvailableException(String model, Instant earliestAvailable,
      Map<KeyState, Integer> breakdown, int triedByRequest) {
    super(message(model, earliestAvailable, breakdown, triedByRequest));
    this.model = model;
    this.earliestAvailable = earliestAvailable;
    EnumMap<KeyState, Integer> copy = new EnumMap<>(KeyState.class);
    copy.putAll(breakdown);
    this.breakdown = Collections.unmodifiableMap(copy);
    this.triedByRequest = triedByRequest;
  }

  /** The model asked for, or {@value RequestContext#ANY_MODEL}. */
  public String model() {
    return model;
  }

  /** When the first key frees up; empty when every key needs an operator (invalid, disabled). */
  public Optional<Instant> earliestAvailable() {
    return Optional.ofNullable(earliestAvailable);
  }

  /** Keys counted by state. */
  public Map<KeyState, Integer> breakdown() {
    return breakdown;
  }

  /** How many keys this request had already tried. */
  public int triedByRequest() {
    return triedByRequest;
  }

  private static String message(String model, Instant earliest, Map<KeyState, Integer> breakdown,
      int tried) {
    StringBuilder sb = new StringBuilder("no key available for ");
    sb.append(RequestContext.ANY_MODEL.equals(model) ? "any model" : "model " + model);
    sb.append(':');
    String sep = " ";
    for (KeyState state : KeyState.values()) {
      Integer n = breakdown.get(state);
      if (n != null && n > 0) {
        sb.append(sep).append(n).append(' ').append(state.name().toLowerCase().replace('_', '-'));
        sep = ", ";
      }
    }
    if (sep.equals(" ")) sb.append(" the pool is empty");
    if (tried > 0) sb.append(" (").append(tried).append(" already tried by this request)");
    if (earliest != null) {
      sb.append("; next key frees at ").append(earliest);
    } else {
      sb.append("; no key frees up by itself: reset or add keys");
    }
    return sb.toString();
  }
}
