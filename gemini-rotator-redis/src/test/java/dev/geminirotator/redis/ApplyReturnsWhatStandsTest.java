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
 * {@code apply} answers with the state that stands for the change's subject as this instance
 * knows it (the SPI's contract), without waiting for Redis.
 */
class ApplyReturnsWhatStandsTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private final List<AutoCloseable> open = new ArrayList<>();
  private final Instant now = Instant.ofEpochMilli(System.currentTimeMillis()); // as Redis keeps it

  @BeforeEach
  void emptyRedis() {
    redis.client().flushAll();
  }

  @AfterEach
  void close() throws Exception {
    for (int i = open.size() - 1; i >= 0; i--) open.get(i).close();
  }

  @Test
  void aCooldownEndingBeforeOneKnownReturnsTheKnownOne() {
    RedisKeyStateStore store = open();
    StateChange.Cooldown longer = cooldown(now.plusSeconds(60));
    assertThat(store.apply(longer)).isEqualTo(longer);

    assertThat(store.apply(cooldown(now.plusSeconds(30)))).isEqualTo(longer);
    StateChange.Cooldown later = cooldown(now.plusSeconds(90));
    assertThat(store.apply(later)).isEqualTo(later);
  }

  @Test
  void aCooldownEndingBeforeOneLearntFromAnotherInstanceReturnsThatOne() {
    RedisKeyStateStore one = open();
    RedisKeyStateStore two = open();
    List<StateChange> seenByTwo = new CopyOnWriteArrayList<>();
    two.subscribe(seenByTwo::add);
    StateChange.Cooldown elsewhere = cooldown(now.plusSeconds(120));
    one.apply(elsewhere);
    Eventually.until("the second instance learns the cooldown",
        () -> seenByTwo.contains(elsewhere));

    assertThat(two.apply(cooldown(now.plusSeconds(30)))).isEqualTo(elsewhere);
  }

  @Test
  void statusesAndClearsStandAsApplied() {
    RedisKeyStateStore store = open();
    store.apply(cooldown(now.plusSeconds(60)));
    StateChange.Cooldown clear = new StateChange.Cooldown("p", "m", Instant.EPOCH, true);
    assertThat(store.apply(clear)).isEqualTo(clear);
    StateChange.Cooldown shorter = cooldown(now.plusSeconds(30));
    assertThat(store.apply(shorter)).as("nothing longer stands after the clear")
        .isEqualTo(shorter);
    StateChange.KeyStatus invalid =
        new StateChange.KeyStatus("k", KeyState.INVALID, null, "rejected", now);
    assertThat(store.apply(invalid)).isEqualTo(invalid);
  }

  private static StateChange.Cooldown cooldown(Instant until) {
    return new StateChange.Cooldown("p", "m", until, false);
  }

  private RedisKeyStateStore open() {
    RedisKeyStateStore store = RedisKeyStateStore.open(redis.uri("/0"));
    open.add(store);
    return store;
  }
}
