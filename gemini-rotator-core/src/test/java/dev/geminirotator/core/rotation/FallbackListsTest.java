package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * What the fallback lists of {@code Selection#pickFairly} cost (issue 14 review, M4): a
 * list is one pass over the pool, so it must be built O(number of lists) times, not once per
 * request, whatever model names clients send and whatever statuses other instances publish.
 */
class FallbackListsTest {

  @Test
  void inventedModelNamesDoNotRebuildTheFallbackListOnEveryRequest() {
    // Before: one list per model name in 4 direct-mapped entries, so random names rebuilt a
    // 100,000-key pass on almost every request that fell back (about 4,300 of 10,000).
    FakeClock clock = FakeClock.standard();
    GeminiKeyRotator rotator = rotatorWithDisabled(100_000, 90, clock, new MemoryKeyStateStore());
    Random random = new Random(41);
    int fellBack = 0;
    for (int i = 0; i < 10_000; i++) {
      long before = rotator.fallbackListBuilds();
      KeyLease lease = rotator.acquire(RequestContext.forModel("model-" + random.nextLong()));
      lease.complete(Outcome.success());
      if (rotator.fallbackListBuilds() != before) fellBack++;
    }

    assertThat(rotator.fallbackListBuilds()).as("lists built for 10,000 requests with random"
        + " model names (%d requests built one)", fellBack).isLessThanOrEqualTo(2);
    rotator.close();
  }

  @Test
  void statusesFromOtherInstancesThatChangeNothingDoNotRebuildTheFallbackList() {
    // Before: every status applied from the store moved the state epoch, so in a fleet sharing
    // Redis (or at every reconcile) the list was always stale and every fallback rebuilt it.
    FakeClock clock = FakeClock.standard();
    MemoryKeyStateStore store = new MemoryKeyStateStore(clock);
    GeminiKeyRotator rotator = rotatorWithDisabled(1_000, 90, clock, store);
    RequestContext request = RequestContext.forModel("gemini-2.5-flash");
    for (int i = 0; i < 200; i++) {
      rotator.reconcile(); // applies the 900 DISABLED statuses the store holds, as a fleet would
      for (int j = 0; j < 10; j++) rotator.acquire(request).complete(Outcome.success());
    }

    assertThat(rotator.fallbackListBuilds()).isLessThanOrEqualTo(2);
    rotator.close();
  }

  @Test
  void keysThatStopServingNeedNoRebuildButKeysBackDo() {
    FakeClock clock = FakeClock.standard();
    GeminiKeyRotator rotator = rotatorWithDisabled(1_000, 90, clock, new MemoryKeyStateStore());
    RequestContext request = RequestContext.forModel("gemini-2.5-flash");
    for (int j = 0; j < 100; j++) rotator.acquire(request).complete(Outcome.success());
    long built = rotator.fallbackListBuilds();
    assertThat(built).isPositive();

    // a usable key goes unhealthy and then invalid: drawn and refused, no rebuild
    KeyLease lease = rotator.acquire(request);
    String id = lease.key().id();
    lease.complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    for (int j = 0; j < 100; j++) {
      KeyLease next = rotator.acquire(request);
      assertThat(next.key().id()).isNotEqualTo(id);
      next.complete(Outcome.success());
    }
    assertThat(rotator.fallbackListBuilds()).isEqualTo(built);

    // it is reset: the list is rebuilt once, and the key serves again
    rotator.reset(id);
    boolean served = false;
    for (int j = 0; j < 5_000 && !served; j++) {
      KeyLease next = rotator.acquire(request);
      served = next.key().id().equals(id);
      next.complete(Outcome.success());
    }
    assertThat(served).as("the reset key is drawn again").isTrue();
    // The list is rebuilt by the first request whose draws over the whole pool all miss; the
    // reset key may be drawn before any did (about once in a few hundred runs): a hundred more
    // requests make that certain, and must not rebuild it again.
    for (int j = 0; j < 100; j++) rotator.acquire(request).complete(Outcome.success());
    assertThat(rotator.fallbackListBuilds()).isEqualTo(built + 1);
    rotator.close();
  }

  @Test
  void aCooledModelGetsAListOfItsOwnAndOtherModelsKeepTheSharedOne() {
    FakeClock clock = FakeClock.standard();
    GeminiKeyRotator rotator = rotatorWithDisabled(1_000, 0, clock, new MemoryKeyStateStore());
    RequestContext cooled = RequestContext.forModel("gemini-2.5-pro");
    // 19 of the 20 projects (95% of the keys) cool for gemini-2.5-pro
    java.util.Set<String> cooling = new java.util.HashSet<>();
    while (cooling.size() < 19) {
      KeyLease lease = rotator.acquire(cooled);
      String project = lease.key().project();
      if (!project.equals("p19") && cooling.add(project)) {
        lease.complete(Outcome.rateLimited(Duration.ofMinutes(1), QuotaScope.PER_MINUTE));
      } else {
        lease.complete(Outcome.success());
      }
    }
    long before = rotator.fallbackListBuilds();
    for (int j = 0; j < 1_000; j++) {
      KeyLease lease = rotator.acquire(cooled);
      assertThat(lease.key().project()).isEqualTo("p19");
      lease.complete(Outcome.success());
    }
    Random random = new Random(7);
    for (int j = 0; j < 1_000; j++) {
      rotator.acquire(RequestContext.forModel("made-up-" + random.nextInt()))
          .complete(Outcome.success());
    }
    // the pro list and the shared one it was filtered from; nothing for the made-up names
    assertThat(rotator.fallbackListBuilds() - before).isLessThanOrEqualTo(2);
    rotator.close();
  }

  private static GeminiKeyRotator rotatorWithDisabled(int n, int percent, FakeClock clock,
      MemoryKeyStateStore store) {
    List<ApiKey> keys = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      keys.add(ApiKey.builder(String.format("AIzaSyTEST-lists-%028d", i)).id("k" + i)
          .project("p" + i % 20).build());
    }
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().keys(keys).clock(clock)
        .store(store, true).build();
    List<ApiKey> shuffled = new ArrayList<>(keys);
    Collections.shuffle(shuffled, new Random(14));
    for (int i = 0; i < n * percent / 100; i++) rotator.disable(shuffled.get(i).id());
    return rotator;
  }
}
