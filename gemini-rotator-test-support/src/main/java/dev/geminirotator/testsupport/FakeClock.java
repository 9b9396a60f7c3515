package dev.geminirotator.testsupport;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicLong;

/** A clock that moves only when a test advances it. Thread-safe; millisecond resolution. */
public final class FakeClock extends Clock {

  private final AtomicLong millis;
  private final ZoneId zone;

  private FakeClock(AtomicLong millis, ZoneId zone) {
    this.millis = millis;
    this.zone = zone;
  }

  /** A clock at this instant, in UTC. */
  public static FakeClock at(Instant start) {
    return new FakeClock(new AtomicLong(start.toEpochMilli()), ZoneOffset.UTC);
  }

  /** A clock at 2026-11-26T12:00:00Z. */
  public static FakeClock standard() {
    return at(Instant.parse("2026-11-26T12:00:00Z"));
  }

  /** Moves the clock forward. */
  public FakeClock advance(Duration duration) {
    if (duration.isNegative()) {
      throw new IllegalArgumentException("a clock only moves forward, not by " + duration);
    }
    millis.addAndGet(duration.toMillis());
    return this;
  }

  /** Moves the clock to an instant that must not be in its past. */
  public FakeClock set(Instant instant) {
    long target = instant.toEpochMilli();
    long previous = millis.getAndSet(target);
    if (target < previous) {
      millis.set(previous);
      throw new IllegalArgumentException("a clock only moves forward, not back to " + instant);
    }
    return this;
  }

  @Override
  public long millis() {
    return millis.get();
  }

  @Override
  public Instant instant() {
    return Instant.ofEpochMilli(millis.get());
  }

  @Override
  public ZoneId getZone() {
    return zone;
  }

  @Override
  public Clock withZone(ZoneId zone) {
    return new FakeClock(millis, zone);
  }
}
