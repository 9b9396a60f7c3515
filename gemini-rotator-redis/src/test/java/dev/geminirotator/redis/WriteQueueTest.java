package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/**
 * The bounded write queue: when full, cooldowns that have ended leave before any live write is
 * dropped (the writer would skip them anyway), clears stay, and the sweep that finds them runs
 * only when one can have ended.
 */
class WriteQueueTest {

  private final FakeClock clock = FakeClock.standard();
  private final WriteQueue queue = new WriteQueue(3, clock);

  private Write.Cooldown cooldown(String project, long millisFromNow) {
    return new Write.Cooldown(project, "m", clock.millis() + millisFromNow, false);
  }

  private static Write.Cooldown clear(String project) {
    return new Write.Cooldown(project, "m", 0, true);
  }

  private static List<String> slots(List<Write> writes) {
    return writes.stream().map(Write::slot).toList();
  }

  @Test
  void aFullQueueDropsItsOldestWriteWhenNothingHasEnded() {
    queue.offer(cooldown("p1", 1_000));
    queue.offer(cooldown("p2", 1_000));
    queue.offer(cooldown("p3", 1_000));

    assertThat(queue.offer(cooldown("p4", 1_000))).as("dropped one").isTrue();
    assertThat(queue.dropped()).isEqualTo(1);
    assertThat(slots(queue.pendingAndInFlight())).containsExactly(
        Write.Cooldown.slotOf("p2", "m"), Write.Cooldown.slotOf("p3", "m"),
        Write.Cooldown.slotOf("p4", "m"));
  }

  @Test
  void endedCooldownsLeaveAFullQueueBeforeALiveWriteIsDropped() {
    queue.offer(cooldown("p1", 1_000)); // the oldest, still live when p4 comes
    queue.offer(cooldown("p2", 10));
    queue.offer(cooldown("p3", 20));
    clock.advance(Duration.ofMillis(50)); // p2 and p3 have ended

    assertThat(queue.offer(cooldown("p4", 1_000))).as("nothing live dropped").isFalse();
    assertThat(queue.dropped()).isZero();
    assertThat(slots(queue.pendingAndInFlight())).containsExactly(
        Write.Cooldown.slotOf("p1", "m"), Write.Cooldown.slotOf("p4", "m"));
  }

  @Test
  void aClearIsNeverSweptEvenWhenItsCooldownHasEnded() {
    queue.offer(clear("p1"));
    queue.offer(new Write.Cooldown("p2", "m", clock.millis() + 10, true)); // clear, then set
    queue.offer(cooldown("p3", 10));
    clock.advance(Duration.ofMillis(50));

    assertThat(queue.offer(cooldown("p4", 1_000))).isFalse();
    assertThat(slots(queue.pendingAndInFlight())).containsExactly(
        Write.Cooldown.slotOf("p1", "m"), Write.Cooldown.slotOf("p2", "m"),
        Write.Cooldown.slotOf("p4", "m"));
  }

  @Test
  void afterADropTheSweepStillFindsEveryEndedCooldown() {
    queue.offer(cooldown("p1", 1_000));
    queue.offer(cooldown("p2", 1_000));
    queue.offer(cooldown("p3", 1_000));
    assertThat(queue.offer(cooldown("p4", 1_000))).isTrue(); // p1 dropped: none ended
    clock.advance(Duration.ofMillis(2_000)); // now all three queued have ended

    assertThat(queue.offer(cooldown("p5", 1_000))).isFalse();
    assertThat(slots(queue.pendingAndInFlight())).containsExactly(
        Write.Cooldown.slotOf("p5", "m"));
    assertThat(queue.dropped()).isEqualTo(1);
  }

  @Test
  void requeuedCooldownsCountForTheSweep() {
    queue.offer(cooldown("p2", 1_000));
    queue.offer(cooldown("p3", 1_000));
    // a batch that Redis did not take, never offered to this queue (as a write-back after Redis
    // lost its data is): only requeue can tell the queue when it ends
    queue.requeue(List.of(cooldown("p1", 10)));
    clock.advance(Duration.ofMillis(50));

    assertThat(queue.offer(cooldown("p4", 1_000))).isFalse();
    assertThat(slots(queue.pendingAndInFlight())).containsExactly(
        Write.Cooldown.slotOf("p2", "m"), Write.Cooldown.slotOf("p3", "m"),
        Write.Cooldown.slotOf("p4", "m"));
  }

  @Test
  void aSweepRunsAtMostOnceAMillisecond() {
    AtomicLong nanos = new AtomicLong();
    WriteQueue limited = new WriteQueue(3, clock, nanos::get);
    limited.offer(cooldown("live", 1_000));
    limited.offer(cooldown("a", 10));
    limited.offer(cooldown("b", 20));
    clock.advance(Duration.ofMillis(15)); // a has ended
    assertThat(limited.offer(cooldown("d", 1_000))).as("a swept").isFalse();
    clock.advance(Duration.ofMillis(10)); // b has ended too

    // the same millisecond of monotonic time: no second sweep, the oldest (live) write goes
    assertThat(limited.offer(cooldown("e", 1_000))).as("dropped").isTrue();
    assertThat(slots(limited.pendingAndInFlight())).containsExactly(
        Write.Cooldown.slotOf("b", "m"), Write.Cooldown.slotOf("d", "m"),
        Write.Cooldown.slotOf("e", "m"));

    nanos.addAndGet(1_000_000);
    assertThat(limited.offer(cooldown("f", 1_000))).as("b swept").isFalse();
    assertThat(slots(limited.pendingAndInFlight())).containsExactly(
        Write.Cooldown.slotOf("d", "m"), Write.Cooldown.slotOf("e", "m"),
        Write.Cooldown.slotOf("f", "m"));
    assertThat(limited.dropped()).isEqualTo(1);
  }
}
