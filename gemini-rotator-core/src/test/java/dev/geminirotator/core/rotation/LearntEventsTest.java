package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.event.KeyAdded;
import dev.geminirotator.api.event.RotatorEvent;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.api.event.StateTransition;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.Eventually;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadInfo;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Events learnt from a shared store are told on the rotator's event thread, after the store let
 * go of its lock: a listener may then change the rotator it listens to. Told on the store's
 * delivery thread (as before), the listener below deadlocks against a writer of the same rotator
 * that waits for the store.
 */
class LearntEventsTest {

  private static final Duration DEADLINE = Duration.ofSeconds(20);

  private final MemoryKeyStateStore store = new MemoryKeyStateStore();
  private final List<GeminiKeyRotator> rotators = new CopyOnWriteArrayList<>();

  /** Closes on a daemon thread: after a deadlock (the defect) closing would hang the suite. */
  @AfterEach
  void close() throws InterruptedException {
    Thread closer = new Thread(() -> rotators.forEach(GeminiKeyRotator::close), "closer");
    closer.setDaemon(true);
    closer.start();
    closer.join(DEADLINE.toMillis());
    assertThat(closer.isAlive()).as("the rotators closed").isFalse();
  }

  private GeminiKeyRotator rotator() {
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().store(store)
        .keys(List.of(key("k1"), key("k2"))).build();
    rotators.add(rotator);
    return rotator;
  }

  private static ApiKey key(String id) {
    return ApiKey.builder("secret-" + id + "-0123456789").id(id).build();
  }

  /** Whether {@code thread} waits for the store's monitor (it is in the store's apply). */
  private static boolean waitsForTheStore(Thread thread) {
    ThreadInfo info = ManagementFactory.getThreadMXBean().getThreadInfo(thread.getId());
    return info == null || thread.getState() == Thread.State.TERMINATED
        || (info.getLockInfo() != null
            && info.getLockInfo().getClassName().equals(MemoryKeyStateStore.class.getName()));
  }

  @Test
  void aListenerMayChangeTheRotatorOnAnEventLearntFromTheStore() throws Exception {
    GeminiKeyRotator mine = rotator();
    GeminiKeyRotator other = rotator();
    CompletableFuture<String> heard = new CompletableFuture<>();
    mine.addListener(new RotatorListener() {
      @Override
      public void onStateTransition(StateTransition event) {
        if (!event.keyId().equals("k1") || event.to() != KeyState.DISABLED) return;
        try {
          // Another writer of this rotator reaches the store while this event is told: it holds
          // k2's store lock and waits for the store, or (told after the store let go) is done.
          Thread writer = new Thread(() -> mine.disable("k2"), "writer");
          writer.setDaemon(true);
          writer.start();
          Eventually.until(DEADLINE, "the writer waits for the store or is done",
              () -> waitsForTheStore(writer));
          mine.enable("k2"); // takes k2's store lock
          heard.complete(Thread.currentThread().getName());
        } catch (RuntimeException | Error e) {
          heard.completeExceptionally(e);
        }
      }
    });

    Thread operator = new Thread(() -> other.disable("k1"), "operator");
    operator.setDaemon(true);
    operator.start();
    operator.join(DEADLINE.toMillis());

    assertThat(operator.isAlive()).as("the other rotator's disable returned (no deadlock)")
        .isFalse();
    assertThat(heard.get(DEADLINE.toMillis(), TimeUnit.MILLISECONDS))
        .as("told on the rotator's event thread, not the store's delivery thread")
        .isEqualTo("gemini-rotator-events");
    assertThat(mine.snapshot("k1").orElseThrow().state()).isEqualTo(KeyState.DISABLED);
    // the writer's disable reached the store first, the listener's enable after it: both agree
    Eventually.untilAsserted(DEADLINE, "k2 enabled in both rotators", () -> {
      assertThat(mine.snapshot("k2").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
      assertThat(other.snapshot("k2").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
    });
  }

  @Test
  void eventsLearntFromTheStoreAreToldInTheOrderLearnt() throws Exception {
    GeminiKeyRotator mine = rotator();
    GeminiKeyRotator other = rotator();
    List<String> told = new CopyOnWriteArrayList<>();
    List<String> threads = new CopyOnWriteArrayList<>();
    mine.addListener(new RotatorListener() {
      @Override
      public void onEvent(RotatorEvent event) {
        threads.add(Thread.currentThread().getName());
        if (event instanceof StateTransition t) told.add(t.keyId() + "->" + t.to());
        if (event instanceof KeyAdded a) told.add("added " + a.keyId());
      }
    });

    for (int i = 0; i < 50; i++) {
      other.disable("k1");
      other.enable("k1");
    }
    other.addKey(key("k3"));

    Eventually.untilAsserted(DEADLINE, "every event told", () -> assertThat(told).hasSize(101));
    for (int i = 0; i < 100; i += 2) {
      assertThat(told.get(i)).isEqualTo("k1->DISABLED");
      assertThat(told.get(i + 1)).isEqualTo("k1->HEALTHY");
    }
    assertThat(told.get(100)).isEqualTo("added k3");
    assertThat(threads).containsOnly("gemini-rotator-events");
  }

  @Test
  void anEventThisRotatorCausedIsToldOnTheCallersThread() {
    GeminiKeyRotator mine = rotator();
    List<String> threads = new CopyOnWriteArrayList<>();
    mine.addListener(new RotatorListener() {
      @Override
      public void onEvent(RotatorEvent event) {
        threads.add(Thread.currentThread().getName());
      }
    });

    mine.disable("k1");

    assertThat(threads).containsExactly(Thread.currentThread().getName());
  }
}
