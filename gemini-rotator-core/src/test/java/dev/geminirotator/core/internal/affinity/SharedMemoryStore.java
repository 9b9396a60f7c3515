package dev.geminirotator.core.internal.affinity;

import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.SharedValues;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.api.spi.WindowCounters;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
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

  /** The values the memory store keeps, read and written without being counted. */
  SharedValues kept() {
    return memory.values().orElseThrow();
  }

  @Override
  public StoreSnapshot load() {
    return memory.load();
  }

  @Override
  public StateChange apply(StateChange change) {
    return memory.apply(change);
  }

  @Override
  public Subscription subscribe(Consumer<StateChange> listener) {
    return memory.subscribe(listener);
  }

  @Override
  public Optional<WindowCounters> counters() {
    return memory.counters();
  }

  /** Values through {@link #putValue}, {@link #getValue} and {@link #removeValue}, counted. */
  @Override
  public Optional<SharedValues> values() {
    return Optional.of(new SharedValues() {
      @Override
      public void put(String name, String value, Duration ttl) {
        putValue(name, value, ttl);
      }

      @Override
      public String get(String name) {
        return getValue(name);
      }

      @Override
      public void remove(String name) {
        removeValue(name);
      }
    });
  }

  public void putValue(String name, String value, Duration ttl) {
    writes.incrementAndGet();
    threads.add(Thread.currentThread().getName());
    memory.values().orElseThrow().put(name, value, ttl);
  }

  public String getValue(String name) {
    reads.incrementAndGet();
    return memory.values().orElseThrow().get(name);
  }

  public void removeValue(String name) {
    removals.incrementAndGet();
    threads.add(Thread.currentThread().getName());
    memory.values().orElseThrow().remove(name);
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
