package dev.geminirotator.testsupport;

import java.lang.management.ManagementFactory;

/**
 * Measures how many bytes of heap a piece of code allocates on the calling thread, for tests that
 * keep a hot path's allocation bounded. Allocation per call does not depend on how loaded the
 * machine is (unlike time, which tests never assert), and the JVM counts it exactly per thread.
 * The code runs first {@code warmUp} times unmeasured, so that class loading and the JIT's first
 * compilations are not counted. Stateless and thread-safe.
 */
public final class Allocations {

  private static final com.sun.management.ThreadMXBean THREADS =
      (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

  private Allocations() {
  }

  /** Something to measure; may throw. */
  @FunctionalInterface
  public interface Call {
    void run() throws Exception;
  }

  /**
   * The bytes {@code call} allocates on this thread per run, averaged over {@code runs} runs after
   * {@code warmUp} unmeasured ones.
   *
   * @throws IllegalStateException if this JVM cannot count allocation per thread
   */
  public static double bytesPerRun(int warmUp, int runs, Call call) throws Exception {
    if (!THREADS.isThreadAllocatedMemorySupported() || !THREADS.isThreadAllocatedMemoryEnabled()) {
      throw new IllegalStateException("this JVM does not count allocation per thread");
    }
    if (runs < 1) {
      throw new IllegalArgumentException("runs must be >= 1 but was " + runs);
    }
    for (int i = 0; i < warmUp; i++) {
      call.run();
    }
    long thread = Thread.currentThread().getId();
    long before = THREADS.getThreadAllocatedBytes(thread);
    for (int i = 0; i < runs; i++) {
      call.run();
    }
    return (double) (THREADS.getThreadAllocatedBytes(thread) - before) / runs;
  }
}
