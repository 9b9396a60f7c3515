package dev.geminirotator.core.affinity;

import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * The memory store, presented as shared: what two instances on one Redis see, in one JVM. Its
 * values are the real {@link MemoryKeyStateStore}'s; it counts reads and writes, so a test can see
 * how often the request path asked. Thread-safe.
 */
class SharedMemoryStore implements KeyStateStore {

  final MemoryKeyStateStore memory;
  final AtomicInteger reads = new AtomicInteger();
  final AtomicInteger writes = new AtomicInteger();
  final AtomicInteger removals = new AtomicInteger();
  /** The threads store calls ran on. */
  final List<String> threads = java.util.Collections.synchronizedList(new ArrayList<>());

  SharedMemoryStore(Clock clock) {
    this.memory = new MemoryKeyStateStore(clock);
  }

  @Override
  public StoreSnapshot load() {
    return memory.load();
  }

  @Override
  public void apply(StateChange change) {
    memory.apply(change);
  }

  @Override
  public Subscription subscribe(Consumer<StateChange> listener) {
    return memory.subscribe(listener);
  }

  @Override
  public long incrementWindow(String name, Duration window) {
    return memory.incrementWindow(name, window);
  }

  @Override
  public void putValue(String name, String value, Duration ttl) {
    writes.incrementAndGet();
    threads.add(Thread.currentThread().getName());
    memory.putValue(name, value, ttl);
  }

  @Override
  public String getValue(String name) {
    reads.incrementAndGet();
    return memory.getValue(name);
  }

  @Override
  public void removeValue(String name) {
    removals.incrementAndGet();
    threads.add(Thread.currentThread().getName());
    memory.removeValue(name);
  }

  @Override
  public boolean isShared() {
    return true;
  }

  @Override
  public boolean isAvailable() {
    return true;
  }

  @Override
  public String describe() {
    return "shared-memory:";
  }

  @Override
  public void close() {
    memory.close();
  }

  /** An executor that runs nothing until told to: store writes wait in it, as behind a thread. */
  static final class Queue implements Executor {
    private final List<Runnable> tasks = new ArrayList<>();

    @Override
    public synchronized void execute(Runnable task) {
      tasks.add(task);
    }

    synchronized int pending() {
      return tasks.size();
    }

    /** Runs what waits, on a thread named {@code write-behind}. */
    void runAll() throws InterruptedException {
      List<Runnable> now;
      synchronized (this) {
        now = new ArrayList<>(tasks);
        tasks.clear();
      }
      Thread t = new Thread(() -> now.forEach(Runnable::run), "write-behind");
      t.start();
      t.join();
    }
  }
}
