package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.event.CooldownStarted;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class CooldownTest {

  private static final RequestContext FLASH = RequestContext.forModel("gemini-2.5-flash");
  private static final RequestContext PRO = RequestContext.forModel("gemini-2.5-pro");

  private final FakeClock clock = FakeClock.standard();

  private GeminiKeyRotator rotator(ApiKey... keys) {
    return GeminiKeyRotator.builder().keys(List.of(keys)).clock(clock)
        .cooldowns(CooldownPolicy.builder().jitter(0).build()).build();
  }

  private static ApiKey key(String id) {
    return ApiKey.builder("secret-" + id + "-0123456789").id(id).build();
  }

  private static ApiKey key(String id, String project) {
    return ApiKey.builder("secret-" + id + "-0123456789").id(id).project(project).build();
  }

  private static Set<String> servable(GeminiKeyRotator rotator, RequestContext ctx, int picks) {
    Set<String> ids = new HashSet<>();
    for (int i = 0; i < picks; i++) {
      try {
        KeyLease lease = rotator.acquire(ctx);
        ids.add(lease.key().id());
        lease.complete(Outcome.success());
      } catch (NoKeyAvailableException e) {
        break;
      }
    }
    return ids;
  }

  private static void rateLimit(GeminiKeyRotator rotator, RequestContext ctx, String keyId,
      Outcome outcome) {
    RequestContext only = ctx;
    for (var snapshot : rotator.snapshot()) {
      if (!snapshot.id().equals(keyId)) only = only.excluding(snapshot.id());
    }
    KeyLease lease = rotator.acquire(only);
    assertThat(lease.key().id()).isEqualTo(keyId);
    lease.complete(outcome);
  }

  @Test
  void rateLimitedKeyIsSkippedUntilRetryDelayPasses() {
    GeminiKeyRotator rotator = rotator(key("a"), key("b"));
    rateLimit(rotator, FLASH, "a", Outcome.rateLimited(Duration.ofSeconds(37), QuotaScope.PER_MINUTE));

    assertThat(servable(rotator, FLASH, 10)).containsExactly("b");
    clock.advance(Duration.ofSeconds(36));
    assertThat(servable(rotator, FLASH, 10)).containsExactly("b");
    clock.advance(Duration.ofSeconds(1));
    assertThat(servable(rotator, FLASH, 10)).containsExactlyInAnyOrder("a", "b");
  }

  @Test
  void fractionalRetryDelayIsHonouredToTheMillisecond() {
    GeminiKeyRotator rotator = rotator(key("a"), key("b"));
    rateLimit(rotator, PRO, "a", Outcome.rateLimited(Duration.ofMillis(45_800), QuotaScope.PER_MINUTE));
    assertThat(rotator.snapshot("a").orElseThrow().cooldowns())
        .containsEntry("gemini-2.5-pro", clock.instant().plusMillis(45_800));
    clock.advance(Duration.ofMillis(45_799));
    assertThat(servable(rotator, PRO, 10)).containsExactly("b");
    clock.advance(Duration.ofMillis(1));
    assertThat(servable(rotator, PRO, 10)).contains("a");
  }

  @Test
  void cooldownIsPerModel() {
    GeminiKeyRotator rotator = rotator(key("a"), key("b"));
    rateLimit(rotator, FLASH, "a", Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE));
    assertThat(servable(rotator, FLASH, 10)).containsExactly("b");
    assertThat(servable(rotator, PRO, 10)).containsExactlyInAnyOrder("a", "b");
    assertThat(rotator.snapshot("a").orElseThrow().state()).isEqualTo(KeyState.RATE_LIMITED);
  }

  @Test
  void rateLimitOnARequestWithoutModelCoolsEveryModel() {
    GeminiKeyRotator rotator = rotator(key("a"), key("b"));
    rateLimit(rotator, RequestContext.anyModel(), "a",
        Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.UNKNOWN));
    assertThat(servable(rotator, FLASH, 10)).containsExactly("b");
    assertThat(servable(rotator, PRO, 10)).containsExactly("b");
  }

  @Test
  void keysOfOneProjectShareTheCooldown() {
    List<CooldownStarted> events = new ArrayList<>();
    GeminiKeyRotator rotator = rotator(key("a1", "proj-a"), key("a2", "proj-a"), key("b1", "proj-b"));
    rotator.addListener(new RotatorListener() {
      @Override
      public void onCooldown(CooldownStarted event) {
        events.add(event);
      }
    });
    rateLimit(rotator, FLASH, "a1", Outcome.rateLimited(Duration.ofSeconds(20), QuotaScope.PER_MINUTE));

    assertThat(servable(rotator, FLASH, 10)).containsExactly("b1");
    assertThat(servable(rotator, PRO, 10)).containsExactlyInAnyOrder("a1", "a2", "b1");
    assertThat(events).singleElement().satisfies(e -> {
      assertThat(e.project()).isEqualTo("proj-a");
      assertThat(e.affectedKeyIds()).containsExactlyInAnyOrder("a1", "a2");
      assertThat(e.until()).isEqualTo(clock.instant().plusSeconds(20));
    });
  }

  @Test
  void keysWithoutProjectLabelAreTheirOwnProject() {
    GeminiKeyRotator rotator = rotator(key("a"), key("b"), key("c"));
    rateLimit(rotator, FLASH, "a", Outcome.rateLimited(Duration.ofSeconds(20), QuotaScope.PER_MINUTE));
    assertThat(servable(rotator, FLASH, 10)).containsExactlyInAnyOrder("b", "c");
  }

  @Test
  void perDayQuotaCoolsUntilMidnightInLosAngelesWhateverTheDelaySays() {
    clock.set(Instant.parse("2026-11-26T20:00:00Z")); // 12:00 PST
    GeminiKeyRotator rotator = rotator(key("a"), key("b"));
    rateLimit(rotator, FLASH, "a", Outcome.rateLimited(Duration.ofSeconds(12), QuotaScope.PER_DAY));
    Instant midnightPst = Instant.parse("2026-11-27T08:00:00Z");
    assertThat(rotator.snapshot("a").orElseThrow().cooldowns())
        .containsEntry("gemini-2.5-flash", midnightPst);
    clock.set(midnightPst.minusMillis(1));
    assertThat(servable(rotator, FLASH, 10)).containsExactly("b");
    clock.set(midnightPst);
    assertThat(servable(rotator, FLASH, 10)).contains("a");
  }

  @Test
  void dailyResetFollowsDaylightSavingChanges() {
    CooldownPolicy policy = CooldownPolicy.defaults();
    // Spring forward: 2026-03-08 in Los Angeles. 23:30 PST on the 7th -> midnight of the 8th (PST).
    assertThat(policy.nextDailyReset(Instant.parse("2026-03-08T07:30:00Z")))
        .isEqualTo(Instant.parse("2026-03-08T08:00:00Z"));
    // 01:00 PST on the 8th -> midnight of the 9th, now PDT (UTC-7): a 22-hour day.
    assertThat(policy.nextDailyReset(Instant.parse("2026-03-08T09:00:00Z")))
        .isEqualTo(Instant.parse("2026-03-09T07:00:00Z"));
    // Fall back: 2026-11-01. 00:30 PDT -> midnight of the 2nd, in PST (UTC-8): a 25-hour day.
    assertThat(policy.nextDailyReset(Instant.parse("2026-11-01T07:30:00Z")))
        .isEqualTo(Instant.parse("2026-11-02T08:00:00Z"));
  }

  @Test
  void perDayCooldownAcrossSpringForwardEndsAtTheLocalMidnight() {
    FakeClock clock = FakeClock.at(Instant.parse("2026-03-08T09:00:00Z")); // 01:00 PST; DST at 02:00
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().keys(List.of(key("a"), key("b")))
        .clock(clock).build();
    rateLimit(rotator, FLASH, "a", Outcome.rateLimited(null, QuotaScope.PER_DAY));
    clock.advance(Duration.ofHours(22).minusMillis(1));
    assertThat(servable(rotator, FLASH, 10)).containsExactly("b");
    clock.advance(Duration.ofMillis(1));
    assertThat(servable(rotator, FLASH, 10)).contains("a");
  }

  @Test
  void bare429CoolsWithBackoffThatDoublesWhileTheProjectKeepsHittingIt() {
    GeminiKeyRotator rotator = rotator(key("a"), key("b"));
    Outcome bare = Outcome.rateLimited(null, QuotaScope.UNKNOWN);
    Duration base = CooldownPolicy.DEFAULT_BACKOFF_BASE;

    rateLimit(rotator, FLASH, "a", bare);
    assertThat(cooldownLeft(rotator, "a")).isEqualTo(base);
    clock.advance(base);
    rateLimit(rotator, FLASH, "a", bare);
    assertThat(cooldownLeft(rotator, "a")).isEqualTo(base.multipliedBy(2));
    clock.advance(base.multipliedBy(2));
    rateLimit(rotator, FLASH, "a", bare);
    assertThat(cooldownLeft(rotator, "a")).isEqualTo(base.multipliedBy(4));

    clock.advance(base.multipliedBy(4));
    rotator.acquire(FLASH.excluding("b")).complete(Outcome.success());
    rateLimit(rotator, FLASH, "a", bare);
    assertThat(cooldownLeft(rotator, "a")).as("a success resets the backoff").isEqualTo(base);
  }

  @Test
  void backoffIsCappedAndRetryDelayIsClampedToTheMinimum() {
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().keys(List.of(key("a"), key("b")))
        .clock(clock).cooldowns(CooldownPolicy.builder().jitter(0)
            .backoffBase(Duration.ofSeconds(10)).backoffMax(Duration.ofSeconds(25)).build())
        .build();
    for (int i = 0; i < 5; i++) {
      rateLimit(rotator, FLASH, "a", Outcome.rateLimited(null, QuotaScope.UNKNOWN));
      clock.advance(cooldownLeft(rotator, "a"));
    }
    rateLimit(rotator, FLASH, "a", Outcome.rateLimited(null, QuotaScope.UNKNOWN));
    assertThat(cooldownLeft(rotator, "a")).isEqualTo(Duration.ofSeconds(25));
    clock.advance(Duration.ofSeconds(25));
    rateLimit(rotator, FLASH, "a", Outcome.rateLimited(Duration.ofMillis(10), QuotaScope.PER_MINUTE));
    assertThat(cooldownLeft(rotator, "a")).isEqualTo(CooldownPolicy.DEFAULT_MINIMUM);
  }

  @Test
  void jitterShortensButNeverLengthensTheBackoff() {
    CooldownPolicy policy = CooldownPolicy.builder().jitter(0.5).build();
    Instant now = clock.instant();
    Outcome.RateLimited bare = new Outcome.RateLimited(null, QuotaScope.UNKNOWN);
    assertThat(policy.cooldownUntil(bare, now, 0, 0.0)).isEqualTo(now.plusSeconds(10));
    assertThat(policy.cooldownUntil(bare, now, 0, 0.999)).isAfter(now.plusSeconds(5))
        .isBefore(now.plusSeconds(10));
  }

  @Test
  void noKeyAvailableNamesTheEarliestRecoveryAndTheBreakdown() {
    GeminiKeyRotator rotator = rotator(key("a"), key("b"), key("c"));
    rateLimit(rotator, FLASH, "a", Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.PER_MINUTE));
    rateLimit(rotator, FLASH, "b", Outcome.rateLimited(Duration.ofSeconds(7), QuotaScope.PER_MINUTE));
    rateLimit(rotator, FLASH, "c", Outcome.keyRejected(400, "API_KEY_INVALID"));

    assertThatThrownBy(() -> rotator.acquire(FLASH))
        .isInstanceOfSatisfying(NoKeyAvailableException.class, e -> {
          assertThat(e.earliestAvailable()).contains(clock.instant().plusSeconds(7));
          assertThat(e.breakdown()).containsEntry(KeyState.RATE_LIMITED, 2)
              .containsEntry(KeyState.INVALID, 1);
          assertThat(e.model()).isEqualTo("gemini-2.5-flash");
          assertThat(e.getMessage()).isEqualTo("no key available for model gemini-2.5-flash:"
              + " 2 rate-limited, 1 invalid; next key frees at 2026-11-26T12:00:07Z");
          assertThat(e.getStackTrace()).isEmpty();
        });
    assertThat(rotator.stats().noKeyAvailable()).isEqualTo(1);
  }

  @Test
  void noKeyAvailableWithOnlyInvalidKeysSaysNoneFreesByItself() {
    GeminiKeyRotator rotator = rotator(key("a"));
    rotator.acquire(FLASH).complete(Outcome.keyRejected(401, "UNAUTHENTICATED"));
    assertThatThrownBy(() -> rotator.acquire(FLASH))
        .isInstanceOfSatisfying(NoKeyAvailableException.class, e -> {
          assertThat(e.earliestAvailable()).isEmpty();
          assertThat(e.getMessage()).endsWith("no key frees up by itself: reset or add keys");
        });
  }

  @Test
  void emptyPoolSaysSo() {
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().clock(clock).build();
    assertThatThrownBy(() -> rotator.acquire(FLASH)).isInstanceOf(NoKeyAvailableException.class)
        .hasMessageContaining("the pool is empty");
  }

  @Test
  void resetClearsTheProjectsCooldowns() {
    GeminiKeyRotator rotator = rotator(key("a"), key("b"));
    rateLimit(rotator, FLASH, "a", Outcome.rateLimited(Duration.ofMinutes(5), QuotaScope.PER_MINUTE));
    assertThat(rotator.reset("a")).isTrue();
    assertThat(servable(rotator, FLASH, 10)).containsExactlyInAnyOrder("a", "b");
    assertThat(rotator.snapshot("a").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
  }

  @Test
  void perMinuteQuotaSkipsAKeyBeforeItEarnsA429() {
    ApiKey limited = ApiKey.builder("secret-limited-0123456789").id("limited")
        .requestsPerMinute(3).build();
    GeminiKeyRotator rotator = rotator(limited, key("free"));
    int limitedPicks = 0;
    for (int i = 0; i < 20; i++) {
      KeyLease lease = rotator.acquire(FLASH);
      if (lease.key().id().equals("limited")) limitedPicks++;
      lease.complete(Outcome.success());
    }
    assertThat(limitedPicks).isEqualTo(3);
  }

  @Test
  void spentQuotaCountsAsRateLimitedWhenNothingIsLeft() {
    ApiKey limited = ApiKey.builder("secret-limited-0123456789").id("limited")
        .requestsPerMinute(1).build();
    GeminiKeyRotator rotator = rotator(limited);
    rotator.acquire(FLASH).complete(Outcome.success());
    assertThatThrownBy(() -> rotator.acquire(FLASH))
        .isInstanceOfSatisfying(NoKeyAvailableException.class, e -> {
          assertThat(e.breakdown()).containsEntry(KeyState.RATE_LIMITED, 1);
          assertThat(e.earliestAvailable()).isPresent();
        });
  }

  private Duration cooldownLeft(GeminiKeyRotator rotator, String keyId) {
    Instant until = rotator.snapshot(keyId).orElseThrow().cooldowns().get("gemini-2.5-flash");
    return Duration.between(clock.instant(), until);
  }
}
