package dev.geminirotator.core.rotation;

import java.util.concurrent.ConcurrentHashMap;

/**
 * At most one log line per subject (a key, a project and model) per interval; the lines held back
 * are counted and the count goes out with the subject's next line. Subjects are kept in a map
 * bounded by {@code maxSubjects}: when it is full, subjects whose interval has passed with nothing
 * held back are dropped, and if none can be, new subjects share one overflow subject, so a client
 * naming endless models cannot grow it. Time comes from the caller (the rotator's clock).
 *
 * <p>Thread-safe.
 */
final class LogThrottle {

  /** Returned by {@link #tryLog} when the line is to be held back. */
  static final long HOLD = -1;

  private static final String OVERFLOW = "\u0000overflow";

  private final long intervalMillis;
  private final int maxSubjects;
  private final ConcurrentHashMap<String, Window> windows = new ConcurrentHashMap<>();
  /** No purge before this, so a full map costs one pass per interval, not one per line. */
  private volatile long nextPurgeAt = Long.MIN_VALUE;

  private static final class Window {
    long openAt = Long.MIN_VALUE; // guarded by this: when the next line may go out
    long held; // guarded by this
  }

  LogThrottle(long intervalMillis, int maxSubjects) {
    this.intervalMillis = intervalMillis;
    this.maxSubjects = maxSubjects;
  }

  /**
   * Whether a line about {@code subject} may go out now: {@link #HOLD} if not (it is counted),
   * else how many lines were held back since the last one that went out.
   */
  long tryLog(String subject, long now) {
    Window w = window(subject, now);
    synchronized (w) {
      if (now < w.openAt) {
        w.held++;
        return HOLD;
      }
      long held = w.held;
      w.held = 0;
      w.openAt = now + intervalMillis;
      return held;
    }
  }

  /** Takes the count of lines held back for {@code subject}, to report it with another line. */
  long takeHeld(String subject) {
    Window w = windows.get(subject);
    if (w == null) return 0;
    synchronized (w) {
      long held = w.held;
      w.held = 0;
      return held;
    }
  }

  /** Subjects tracked: for tests. */
  int size() {
    return windows.size();
  }

  private Window window(String subject, long now) {
    Window w = windows.get(subject);
    if (w != null) return w;
    if (windows.size() >= maxSubjects) {
      if (now < nextPurgeAt) return windows.computeIfAbsent(OVERFLOW, s -> new Window());
      nextPurgeAt = now + intervalMillis;
      windows.entrySet().removeIf(e -> {
        Window old = e.getValue();
        synchronized (old) {
          return old.held == 0 && old.openAt <= now && !e.getKey().equals(OVERFLOW);
        }
      });
      if (windows.size() >= maxSubjects) subject = OVERFLOW;
    }
    return windows.computeIfAbsent(subject, s -> new Window());
  }
}
