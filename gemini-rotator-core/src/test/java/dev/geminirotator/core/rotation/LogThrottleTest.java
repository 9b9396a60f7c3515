package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

class LogThrottleTest {

  @Test
  void oneLinePerSubjectPerIntervalAndTheNextCarriesTheCountHeldBack() {
    LogThrottle throttle = new LogThrottle(30_000, 100);
    assertThat(throttle.tryLog("key k1", 0)).isZero();
    for (int i = 1; i <= 999; i++) {
      assertThat(throttle.tryLog("key k1", i)).isEqualTo(LogThrottle.HOLD);
    }
    assertThat(throttle.tryLog("key k2", 10)).as("another subject has its own window").isZero();
    assertThat(throttle.tryLog("key k1", 30_000)).isEqualTo(999);
    assertThat(throttle.tryLog("key k1", 30_001)).isEqualTo(LogThrottle.HOLD);
    assertThat(throttle.takeHeld("key k1")).isEqualTo(1);
    assertThat(throttle.takeHeld("key k1")).isZero();
  }

  @Test
  void endlessSubjectsShareOneOverflowWindowInsteadOfGrowingTheMap() {
    LogThrottle throttle = new LogThrottle(30_000, 64);
    int logged = 0;
    for (int i = 0; i < 10_000; i++) {
      if (throttle.tryLog("model-" + i, 5) != LogThrottle.HOLD) logged++;
    }
    assertThat(throttle.size()).isLessThanOrEqualTo(65);
    assertThat(logged).isLessThanOrEqualTo(65);
  }

  @Test
  void quietSubjectsMakeRoomOnceTheirIntervalHasPassed() {
    LogThrottle throttle = new LogThrottle(1_000, 4);
    for (int i = 0; i < 4; i++) throttle.tryLog("s" + i, 0);
    assertThat(throttle.tryLog("late", 2_000)).isZero();
    assertThat(throttle.size()).isLessThanOrEqualTo(4);
  }
}
