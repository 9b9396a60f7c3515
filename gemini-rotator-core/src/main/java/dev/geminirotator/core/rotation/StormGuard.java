package dev.geminirotator.core.rotation;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Counts the distinct keys (or projects) hit by one kind of failure within a sliding window and
 * says when that crosses the {@link StormPolicy} threshold. Only failures reach it, never the
 * success path, so a plain monitor is enough.
 */
final class StormGuard {

  enum Change { NONE, STARTED, ENDED }

  private final StormPolicy policy;
  private final long windowMillis;
  /** Subject to the last time it was hit, oldest first. */
  private final LinkedHashMap<String, Long> hits = new LinkedHashMap<>();
  private volatile boolean active;

  StormGuard(StormPolicy policy) {
    this.policy = policy;
    this.windowMillis = policy.window().toMillis();
  }

  boolean active() {
    return active;
  }

  /** Records a hit on a subject and says whether a storm started or ended. */
  synchronized Change record(String subject, long now, int population) {
    hits.remove(subject);
    hits.put(subject, now);
    return evaluate(now, population);
  }

  /** Re-evaluates without a new hit (hits age out of the window). */
  synchronized Change check(long now, int population) {
    return evaluate(now, population);
  }

  /** Subjects hit within the window, oldest first. */
  synchronized List<String> subjectsInWindow(long now) {
    prune(now);
    return new ArrayList<>(hits.keySet());
  }

  synchronized int countInWindow(long now) {
    prune(now);
    return hits.size();
  }

  private Change evaluate(long now, int population) {
    prune(now);
    int threshold = policy.threshold(population);
    int count = hits.size();
    if (!active && count >= threshold) {
      active = true;
      return Change.STARTED;
    }
    if (active && count < Math.max(1, threshold / 2)) {
      active = false;
      return Change.ENDED;
    }
    return Change.NONE;
  }

  private void prune(long now) {
    long oldest = now - windowMillis;
    Iterator<Map.Entry<String, Long>> it = hits.entrySet().iterator();
    while (it.hasNext() && it.next().getValue() < oldest) {
      it.remove();
    }
  }
}
