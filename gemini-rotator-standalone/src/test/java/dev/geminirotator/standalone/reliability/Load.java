package dev.geminirotator.standalone.reliability;

import dev.geminirotator.standalone.Harness;
import dev.geminirotator.testsupport.Eventually;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Steady client load on a proxy from a few threads, each sending requests back to back until
 * {@link #stop()}: counts responses by status and keeps every failure (status and body, or the
 * exception) so a test can say exactly what went wrong.
 */
final class Load implements AutoCloseable {

  interface Call {
    /** Sends one request; returns "status" or "status body" for a failure worth reporting. */
    int send(List<String> failures) throws Exception;
  }

  final Map<Integer, AtomicInteger> byStatus = new ConcurrentHashMap<>();
  final List<String> failures = new CopyOnWriteArrayList<>();
  final AtomicInteger exceptions = new AtomicInteger();
  private final AtomicBoolean running = new AtomicBoolean(true);
  private final List<Thread> threads = new ArrayList<>();

  Load(int threadCount, Call call) {
    for (int i = 0; i < threadCount; i++) {
      Thread t = new Thread(() -> {
        while (running.get()) {
          try {
            int status = call.send(failures);
            byStatus.computeIfAbsent(status, k -> new AtomicInteger()).incrementAndGet();
          } catch (Exception e) {
            exceptions.incrementAndGet();
            failures.add(e.toString());
          }
        }
      }, "load-" + i);
      t.setDaemon(true);
      threads.add(t);
      t.start();
    }
  }

  /** Load against the fixture's generateContent; any status but 200 is a failure. */
  static Load generate(Harness f, int threadCount) {
    return new Load(threadCount, failures -> {
      var r = f.generate();
      if (r.statusCode() != 200) failures.add(r.statusCode() + " " + r.body());
      return r.statusCode();
    });
  }

  int total() {
    return byStatus.values().stream().mapToInt(AtomicInteger::get).sum() + exceptions.get();
  }

  int count(int status) {
    AtomicInteger n = byStatus.get(status);
    return n == null ? 0 : n.get();
  }

  /** Waits until at least {@code more} further requests have completed. */
  void awaitMore(int more) {
    int target = total() + more;
    try {
      Eventually.until("the load to reach " + target + " completed requests",
          () -> total() >= target);
    } catch (AssertionError e) {
      throw new AssertionError("load stalled at " + total() + " requests: " + byStatus, e);
    }
  }

  void stop() throws InterruptedException {
    running.set(false);
    for (Thread t : threads) t.join(30_000);
  }

  @Override
  public void close() throws InterruptedException {
    stop();
  }
}
