package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Messages a store must not hand its listeners: its own, coming back through pub/sub (its
 * listeners had the change when it was applied), and one older than what it knows of that state.
 * Each test then publishes a message that must arrive: messages come in order on one
 * subscription, so once it is seen the one before it was read and skipped.
 */
class MessagesSkippedTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private static final String CHANNEL = "gemini_rotator:changes";

  private final List<AutoCloseable> open = new ArrayList<>();
  private final Instant at = Instant.ofEpochMilli(System.currentTimeMillis());
  private RedisKeyStateStore store;
  private final List<StateChange> seen = new CopyOnWriteArrayList<>();

  @BeforeEach
  void aStoreWithAListener() {
    redis.client().flushAll();
    store = RedisKeyStateStore.open(redis.uri("/0"));
    open.add(store);
    store.subscribe(seen::add);
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
  }

  @Test
  void aStoresOwnMessageIsNotHandedToItsListenersAgain() {
    publish(store.instanceId(), status("k1", KeyState.DISABLED, "own"), Long.MAX_VALUE / 4);
    StateChange.KeyStatus after = status("k2", KeyState.INVALID, "from another instance");
    publish("another-instance", after, Long.MAX_VALUE / 4);

    Eventually.until("the other instance's message arrives", () -> seen.contains(after));
    assertThat(seen).containsExactly(after);
  }

  @Test
  void aMessageOlderThanWhatTheStoreKnowsOfThatKeyIsNotHandedOn() {
    StateChange.KeyStatus newer = status("k1", KeyState.INVALID, "newer");
    publish("another-instance", newer, 2_000);
    Eventually.until("the newer status arrives", () -> seen.contains(newer));

    publish("another-instance", status("k1", KeyState.DISABLED, "older"), 1_000);
    StateChange.KeyStatus after = status("k2", KeyState.DISABLED, "later, of another key");
    publish("another-instance", after, 3_000);

    Eventually.until("the message after it arrives", () -> seen.contains(after));
    assertThat(seen).containsExactly(newer, after);
  }

  private StateChange.KeyStatus status(String id, KeyState state, String reason) {
    return new StateChange.KeyStatus(id, state, null, reason, at);
  }

  /** What the STATUS script publishes for a status Redis numbered {@code generation}. */
  private static void publish(String origin, StateChange.KeyStatus status, long generation) {
    redis.client().publish(CHANNEL, Codec.status(origin, status) + generation + "}");
  }
}
