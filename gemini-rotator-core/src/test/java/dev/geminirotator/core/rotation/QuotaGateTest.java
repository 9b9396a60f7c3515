package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.core.internal.quota.SharedQuota;
import dev.geminirotator.core.internal.quota.SharedQuotas;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;

class QuotaGateTest {

  private final FakeClock clock = FakeClock.at(Instant.parse("2026-11-26T12:00:00Z"));
  private final MemoryKeyStateStore memory = new MemoryKeyStateStore(clock);

  @Test
  void aRequestRefusedByTheDayQuotaGivesItsMinutePermitBack() {
    SharedQuota day = SharedQuotas.builder(memory).clock(clock).executor(Runnable::run).build()
        .perDay("quota:k:rpd", 1);
    // Another request on this instance takes the last daily permit while this one takes its
    // minute permit (after this one saw the day not spent): the claim of the minute's first block
    // is the moment in between.
    AtomicBoolean rival = new AtomicBoolean(true);
    SharedQuota minute = SharedQuotas.builder(memory).clock(clock).executor(claim -> {
      if (rival.getAndSet(false)) assertThat(day.tryAcquire()).as("the rival request").isTrue();
      claim.run();
    }).build().perMinute("quota:k:rpm", 10);
    QuotaGate gate = new QuotaGate(minute, day);

    assertThat(gate.tryAcquire()).isFalse();
    assertThat(rival).isFalse();
    assertThat(minute.usedInWindow()).as("minute permits held by refused requests").isZero();
  }

  @Test
  void aRequestTakesOnePermitFromEachQuota() {
    SharedQuotas quotas = SharedQuotas.builder(memory).clock(clock).executor(Runnable::run).build();
    SharedQuota minute = quotas.perMinute("quota:k:rpm", 10);
    SharedQuota day = quotas.perDay("quota:k:rpd", 3);
    QuotaGate gate = new QuotaGate(minute, day);
    int admitted = 0;
    for (int i = 0; i < 10; i++) if (gate.tryAcquire()) admitted++;
    assertThat(admitted).isEqualTo(3);
    assertThat(minute.usedInWindow()).isEqualTo(3);
    assertThat(day.usedInWindow()).isEqualTo(3);
  }
}
