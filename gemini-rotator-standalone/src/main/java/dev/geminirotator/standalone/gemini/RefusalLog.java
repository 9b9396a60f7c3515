package dev.geminirotator.standalone.gemini;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Operator log lines for what the proxy refuses itself: its own 429s (no key available, a
 * client's rate limit), breaker and overload 503s, refused or missing access tokens, wrong admin
 * and metrics tokens, and the other answers it makes without Gemini. One INFO line per refusal
 * names the request id, the route, the client (a configured token's client id, {@code token-} and
 * a digest prefix, or the client's address; never a token or a key), the status and kind, and
 * why.
 *
 * <p>Rate-limited so that a flood gives a bounded number of lines: per kind (a fixed slug such as
 * {@code client-rate-limited}, chosen by the code, never by a client), at most one line per
 * interval ({@value #DEFAULT_INTERVAL_SECONDS} s by default); the next line that goes out says how
 * many of that kind were left out meanwhile. Keying by kind rather than by client or address keeps
 * the state bounded however many addresses an attacker uses (the map also stops at
 * {@value #MAX_KINDS} kinds, after which kinds share one window). Text a client may have chosen
 * (a model name inside a message) has its control characters replaced, so it cannot forge lines.
 * Thread-safe and lock-free.
 */
public final class RefusalLog {

  public static final long DEFAULT_INTERVAL_SECONDS = 10;
  public static final int MAX_KINDS = 64;
  private static final int MAX_WHY = 300;
  private static final Logger log = LoggerFactory.getLogger(RefusalLog.class);

  private final LongSupplier nanoTime;
  private final long intervalNanos;
  private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();
  private final Window shared;

  /** One line per kind per {@value #DEFAULT_INTERVAL_SECONDS} s, on {@link System#nanoTime()}. */
  public RefusalLog() {
    this(System::nanoTime, Duration.ofSeconds(DEFAULT_INTERVAL_SECONDS));
  }

  /** For tests: a fake ticker (nanoseconds) and an interval. */
  public RefusalLog(LongSupplier nanoTime, Duration interval) {
    this.nanoTime = nanoTime;
    this.intervalNanos = interval.toNanos();
    this.shared = new Window(nanoTime.getAsLong());
  }

  /** Per kind: when the next line may go out, and how many were left out since the last one. */
  private static final class Window {
    final AtomicLong due;
    final AtomicLong suppressed = new AtomicLong();

    Window(long now) {
      this.due = new AtomicLong(now);
    }
  }

  /**
   * Logs one refusal, unless a line of this kind went out less than an interval ago (then it is
   * counted and reported with the next line of its kind).
   *
   * @param kind what was refused, a fixed slug (the problem type's last part)
   * @param status the status answered
   * @param requestId the request's id
   * @param route the route ({@code generate}, {@code admin}, ...)
   * @param client who asked: a client id or an address, never a credential
   * @param why a sentence for the operator; client-chosen parts are sanitized here
   */
  public void refused(String kind, int status, CharSequence requestId, String route, String client,
      String why) {
    Window w = window(kind);
    long now = nanoTime.getAsLong();
    long due = w.due.get();
    if (now - due < 0 || !w.due.compareAndSet(due, now + intervalNanos)) {
      w.suppressed.incrementAndGet();
      return;
    }
    if (!log.isInfoEnabled()) return;
    long more = w.suppressed.getAndSet(0);
    String id = requestId == null ? "-" : requestId.toString();
    String reason = sanitize(why);
    var line = log.atInfo().addKeyValue("requestId", id).addKeyValue("route", route)
        .addKeyValue("client", client).addKeyValue("status", status).addKeyValue("kind", kind);
    if (more > 0) {
      line.addKeyValue("suppressed", more).log("refused request {} on {} from {}: {} {}: {}"
          + " ({} more {} refusals since the last such line)", id, route, client, status, kind,
          reason, more, kind);
    } else {
      line.log("refused request {} on {} from {}: {} {}: {}", id, route, client, status, kind,
          reason);
    }
  }

  private Window window(String kind) {
    Window w = windows.get(kind);
    if (w != null) return w;
    if (windows.size() >= MAX_KINDS) return shared;
    return windows.computeIfAbsent(kind, k -> new Window(nanoTime.getAsLong()));
  }

  /** Control characters replaced, cut to a few hundred characters. */
  public static String sanitize(String text) {
    if (text == null) return "";
    String s = text.length() > MAX_WHY ? text.substring(0, MAX_WHY) + "…" : text;
    StringBuilder out = null;
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isISOControl(c) || c == '\u2028' || c == '\u2029') {
        if (out == null) out = new StringBuilder(s.length()).append(s, 0, i);
        out.append('?');
      } else if (out != null) {
        out.append(c);
      }
    }
    return out == null ? s : out.toString();
  }
}
