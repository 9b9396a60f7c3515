package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** Per-key quotas counted together by every rotator on one store. */
class SharedKeyQuotaTest {

  private static final RequestContext FLASH = RequestContext.forModel("gemini-2.5-flash");
  private final FakeClock clock = FakeClock.at(Instant.parse("2026-11-26T12:00:00Z"));
  private final MemoryKeyStateStore store = new MemoryKeyStateStore(clock);
  private final List<GeminiKeyRotator> rotators = new ArrayList<>();

  @AfterEach
  void close() {
    rotators.forEach(GeminiKeyRotator::close);
  }

  private GeminiKeyRotator rotator(ApiKey... keys) {
    GeminiKeyRotator r = GeminiKeyRotator.builder().clock(clock).store(store)
        .keys(List.of(keys)).build();
    rotators.add(r);
    return r;
  }

  private static ApiKey.Builder key(String id) {
    return ApiKey.builder("secret-" + id + "-0123456789").id(id);
  }

  /**
   * Acquires through the rotators in turn until each has been told the quota is spent for the
   * window, and returns how many each admitted. The signal is the refusal itself: a rotator out of
   * permits while its next block is being claimed (on a background thread) says a key frees in a
   * millisecond; once the store says the limit is reached, it names the end of the window.
   */
  private long[] drain(List<GeminiKeyRotator> instances) {
    long[] admitted = new long[instances.size()];
    boolean[] spent = new boolean[instances.size()];
    Eventually.untilAsserted("every rotator told the quota is spent", () -> {
      boolean any = true;
      while (any) { // rounds while permits come; a pause once none does: a block is on its way
        any = false;
        for (int i = 0; i < instances.size(); i++) {
          if (spent[i]) continue;
          try {
            KeyLease lease = instances.get(i).acquire(FLASH);
            lease.complete(Outcome.success());
            admitted[i]++;
            any = true;
          } catch (NoKeyAvailableException e) {
            Instant inAMillisecond = clock.instant().plusMillis(1);
            spent[i] = e.earliestAvailable().filter(t -> t.isAfter(inAMillisecond)).isPresent();
          }
        }
      }
      assertThat(spent).as("told the quota is spent; admitted %s", Arrays.toString(admitted))
          .containsOnly(true);
    });
    return admitted;
  }

  @Test
  void threeRotatorsOnOneStoreSpendAKeysMinuteQuotaTogether() throws Exception {
    ApiKey a = key("a").requestsPerMinute(1_200).build();
    List<GeminiKeyRotator> instances = List.of(rotator(a), rotator(a), rotator(a));
    long[] admitted = drain(instances);
    long total = admitted[0] + admitted[1] + admitted[2];
    assertThat(total).as("admitted by all three together").isBetween(1_140L, 1_260L);
    for (long n : admitted) assertThat(n).isPositive();
  }

  @Test
  void aSpentQuotaSaysWhenTheKeyFreesUp() throws Exception {
    ApiKey a = key("a").requestsPerMinute(10).build();
    GeminiKeyRotator rotator = rotator(a);
    drain(List.of(rotator));
    clock.advance(Duration.ofSeconds(20));
    assertThatThrownBy(() -> rotator.acquire(FLASH))
        .isInstanceOfSatisfying(NoKeyAvailableException.class, e -> assertThat(
            e.earliestAvailable()).contains(Instant.parse("2026-11-26T12:01:00Z")))
        .hasMessageContaining("rate-limited");
    clock.advance(Duration.ofSeconds(40));
    assertThat(drain(List.of(rotator))[0]).isEqualTo(10);
  }

  @Test
  void aKeyAtItsQuotaIsSkippedForTheOthers() throws Exception {
    GeminiKeyRotator rotator = rotator(key("a").requestsPerMinute(5).build(), key("b").build());
    int onA = 0;
    for (int i = 0; i < 200; i++) {
      KeyLease lease = rotator.acquire(FLASH);
      if (lease.key().id().equals("a")) onA++;
      lease.complete(Outcome.success());
      if (i % 10 == 0) Thread.sleep(2); // let a's claims land
    }
    assertThat(onA).isBetween(1, 5);
  }

  @Test
  void updatingAKeysWeightDoesNotGiveItANewQuota() throws Exception {
    ApiKey a = key("a").requestsPerMinute(100).build();
    GeminiKeyRotator rotator = rotator(a);
    long first = drain(List.of(rotator))[0];
    rotator.updateKeys(List.of(a.toBuilder().weight(2).build()));
    long after = drain(List.of(rotator))[0];
    assertThat(first + after).isBetween(95L, 105L);
  }
}
