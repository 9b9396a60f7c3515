package dev.geminirotator.core.internal.exchange;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.classify.GeminiClassifier;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Function;

/**
 * When a client whose request the pool could not serve should come back: the {@code Retry-After}
 * of every 429 and 503 a transport answers, whether it made the answer itself or passes on the
 * last upstream one. Both transports (the OkHttp interceptor, the standalone proxy) ask here, so
 * the rule lives in one place:
 *
 * <ul>
 *   <li>The pool frees up at the earliest instant a key that could serve the model (neither
 *       invalid nor disabled) is past its cooldowns ({@link KeyRotator#earliestAvailable}); while
 *       the model's breaker is open, not before the breaker lets calls through again ({@link
 *       CircuitGuard#openUntil}). The later of the two, in whole seconds from now, rounded up, at
 *       least 1.
 *   <li>When no key frees up by itself (every key invalid or disabled, or none at all) there is no
 *       time to give: {@link #operatorNeeded()}, and the answer is 503 without {@code
 *       Retry-After}, never a made-up delay.
 *   <li>A passed-on upstream 429 gets the pool's value, replacing Gemini's own: a 429 is about one
 *       project's quota, which the pool routes around (that project's cooldown is already part of
 *       the pool's estimate). A request only one project (or one key) may serve, because it names
 *       a resource pinned there, gets that project's (that key's) value instead: the pool cannot
 *       route it around ({@link #of(KeyRotator, CircuitGuard, RequestContext, Clock)}). A
 *       passed-on 503 gets the later of the pool's value and Gemini's {@code Retry-After}: an
 *       overloaded upstream is every key's upstream. See {@link #forUpstream}.
 * </ul>
 *
 * <p>Immutable and thread-safe.
 */
public final class RetryAdvice {

  /** The status of an answer when no key can serve and one frees up by itself. */
  public static final int NO_KEY_STATUS = 429;
  /** The status of an answer when no key frees up by itself, or the breaker is open. */
  public static final int UNAVAILABLE_STATUS = 503;

  private final Instant at;
  private final long seconds;
  private final Clock clock;

  private RetryAdvice(Instant at, long seconds, Clock clock) {
    this.at = at;
    this.seconds = seconds;
    this.clock = clock;
  }

  /**
   * What the pool says now for a request for {@code model}.
   *
   * @param model the model, or {@value dev.geminirotator.api.RequestContext#ANY_MODEL}
   */
  public static RetryAdvice of(KeyRotator rotator, CircuitGuard guard, String model,
      Clock clock) {
    Objects.requireNonNull(rotator, "rotator");
    return combine(rotator.earliestAvailable(model), guard, model, clock);
  }

  /**
   * What the keys {@code context} admits say now (a request pinned to one project or one key:
   * {@link RequestContext#inProject}, {@link RequestContext#onlyKey}), for its model.
   */
  public static RetryAdvice of(KeyRotator rotator, CircuitGuard guard, RequestContext context,
      Clock clock) {
    Objects.requireNonNull(rotator, "rotator");
    return combine(rotator.earliestAvailable(context), guard, context.model(), clock);
  }

  /** What the pool says for a request the rotator just refused. */
  public static RetryAdvice of(NoKeyAvailableException refusal, CircuitGuard guard,
      Clock clock) {
    Objects.requireNonNull(refusal, "refusal");
    return combine(refusal.earliestAvailable(), guard, refusal.model(), clock);
  }

  /** The advice for a refusal of the breaker: come back when it lets calls through. */
  public static RetryAdvice breakerOpen(Instant retryAt, Clock clock) {
    Objects.requireNonNull(retryAt, "retryAt");
    return new RetryAdvice(retryAt, secondsUntil(retryAt, clock), clock);
  }

  private static RetryAdvice combine(Optional<Instant> keyFree, CircuitGuard guard, String model,
      Clock clock) {
    Objects.requireNonNull(clock, "clock");
    if (keyFree.isEmpty()) return new RetryAdvice(null, -1, clock);
    Instant at = keyFree.get();
    if (guard != null) {
      Optional<Instant> open = guard.openUntil(model);
      if (open.isPresent() && open.get().isAfter(at)) at = open.get();
    }
    return new RetryAdvice(at, secondsUntil(at, clock), clock);
  }

  /** Whether no key frees up by itself: only an operator (reset, enable, add keys) can help. */
  public boolean operatorNeeded() {
    return at == null;
  }

  /** When the pool can serve again; empty when {@link #operatorNeeded()}. */
  public Optional<Instant> at() {
    return Optional.ofNullable(at);
  }

  /**
   * The {@code Retry-After} in whole seconds, at least 1; {@code -1} (send none) when {@link
   * #operatorNeeded()}.
   */
  public long seconds() {
    return seconds;
  }

  /**
   * The status a transport's own answer gets when the rotator refused a request: 429 while a key
   * frees up by itself, 503 when {@link #operatorNeeded()}.
   */
  public int noKeyStatus() {
    return operatorNeeded() ? UNAVAILABLE_STATUS : NO_KEY_STATUS;
  }

  /**
   * The {@code Retry-After} for an upstream 429 or 503 passed on to the client (see the class
   * comment); {@code -1} (leave the upstream's as it is) for other statuses, for an answer another
   * gemini-rotator made itself ({@link GeminiClassifier#ROTATOR_ANSWER_HEADER}: its pool, not
   * this one, knows when it frees up), and when no value can be given.
   *
   * @param status the upstream status
   * @param header looks up an upstream response header by name, case-insensitively
   */
  public long forUpstream(int status, Function<String, String> header) {
    if (status != 429 && status != 503) return -1;
    if (header.apply(GeminiClassifier.ROTATOR_ANSWER_HEADER) != null) return -1;
    if (status == 429) return seconds;
    long upstream = parseRetryAfter(header.apply("Retry-After"), clock);
    return Math.max(seconds, upstream);
  }

  /** Whole seconds from now until {@code at}, rounded up, at least 1. */
  public static long secondsUntil(Instant at, Clock clock) {
    long millis = Duration.between(clock.instant(), at).toMillis();
    return Math.max(1, (millis + 999) / 1000);
  }

  /**
   * A {@code Retry-After} value (RFC 9110 10.2.3: delay-seconds or an HTTP-date) in whole seconds
   * from now, at least 1; {@code -1} when absent or unreadable.
   */
  static long parseRetryAfter(String value, Clock clock) {
    if (value == null || value.isBlank()) return -1;
    String v = value.trim();
    if (v.length() <= 10 && v.chars().allMatch(c -> c >= '0' && c <= '9')) {
      return Math.max(1, Long.parseLong(v));
    }
    try {
      Instant at = ZonedDateTime.parse(v, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
      return secondsUntil(at, clock);
    } catch (DateTimeParseException e) {
      return -1;
    }
  }

  @Override
  public String toString() {
    return operatorNeeded() ? "RetryAdvice{operator needed}"
        : "RetryAdvice{at=" + at + ", seconds=" + seconds + '}';
  }
}
