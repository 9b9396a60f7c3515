package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.event.KeyAdded;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.FakeClock;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/**
 * Adding keys in bulk (issue 14 item 7): a batch is one membership change, so adding thousands of
 * keys, and thousands more, costs time linear in the pool and the batch (the figures are in
 * benchmarks/, {@code BulkAddKeys}; tests do not time anything).
 */
class BulkAddTest {

  private final FakeClock clock = FakeClock.standard();

  private static List<ApiKey> batch(String prefix, int n) {
    List<ApiKey> keys = new ArrayList<>(n);
    for (int i = 0; i < n; i++) {
      keys.add(ApiKey.builder(String.format("AIzaSyTEST-bulk-%s-%08d-000000", prefix, i))
          .id(prefix + i).build());
    }
    return keys;
  }

  private static Set<String> ids(GeminiKeyRotator rotator) {
    Set<String> ids = new HashSet<>();
    for (KeySnapshot k : rotator.snapshot()) ids.add(k.id());
    return ids;
  }

  @Test
  void twoBatchesOfTenThousandKeysAreAllInThePoolAndServe() {
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().secrets("AIzaSyTEST-configured-000001")
        .clock(clock).build();
    rotator.addKeys(batch("a", 10_000));
    rotator.addKeys(batch("b", 10_000));

    Set<String> ids = ids(rotator);
    assertThat(ids).hasSize(20_001).contains("a0", "a9999", "b0", "b9999");
    Set<String> served = new HashSet<>();
    for (int i = 0; i < 20_001; i++) {
      KeyLease lease = rotator.acquire(RequestContext.forModel("gemini-2.5-flash"));
      served.add(lease.key().id());
      lease.complete(Outcome.success());
    }
    assertThat(served).as("round-robin reaches every key once per turn").isEqualTo(ids);
    rotator.close();
  }

  @Test
  void aBatchBecomesVisibleAtOnceNotKeyByKey() {
    // The mechanism of the fix: one membership change per batch, not one per key (which rebuilt
    // the whole pool per key). Whoever hears of the first added key already sees the whole batch.
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().secrets("AIzaSyTEST-configured-000001")
        .clock(clock).build();
    List<Boolean> lastKeyInPoolAtEachEvent = new CopyOnWriteArrayList<>();
    rotator.addListener(new RotatorListener() {
      @Override
      public void onKeyAdded(KeyAdded event) {
        lastKeyInPoolAtEachEvent.add(rotator.snapshot("a499").isPresent());
      }
    });
    rotator.addKeys(batch("a", 500));

    assertThat(lastKeyInPoolAtEachEvent).hasSize(500).containsOnly(true);
    assertThat(rotator.snapshot()).hasSize(501);
    rotator.close();
  }

  @Test
  void aBatchReplacesKeysLikeAddKeyAndTheLaterOfTwoWithOneIdWins() {
    MemoryKeyStateStore store = new MemoryKeyStateStore();
    GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .key(ApiKey.builder("AIzaSyTEST-kept-secret-000001").id("kept").build())
        .clock(clock).store(store).build();
    rotator.disable("kept");

    rotator.addKeys(List.of(
        ApiKey.builder("AIzaSyTEST-kept-secret-000001").id("kept").weight(3).build(),
        ApiKey.builder("AIzaSyTEST-twice-first-000001").id("twice").build(),
        ApiKey.builder("AIzaSyTEST-twice-second-00001").id("twice").weight(2).build()));

    KeySnapshot kept = rotator.snapshot("kept").orElseThrow();
    assertThat(kept.weight()).isEqualTo(3);
    assertThat(kept.state()).as("same secret: keeps its state").isEqualTo(KeyState.DISABLED);
    assertThat(rotator.snapshot()).extracting(KeySnapshot::id).containsExactly("kept", "twice");
    assertThat(rotator.snapshot("twice").orElseThrow().weight()).isEqualTo(2);
    assertThat(store.load().addedKeys()).extracting(ApiKey::id)
        .containsExactlyInAnyOrder("kept", "twice");
    assertThat(store.load().addedKeys()).filteredOn(k -> k.id().equals("twice"))
        .extracting(ApiKey::weight).containsExactly(2);
    rotator.close();
  }

  @Test
  void aRotatorStartingFromAStoreWithThousandsOfAddedKeysHasThemAll() {
    MemoryKeyStateStore store = new MemoryKeyStateStore();
    GeminiKeyRotator first = GeminiKeyRotator.builder().secrets("AIzaSyTEST-configured-000001")
        .clock(clock).store(store).build();
    first.addKeys(batch("a", 5_000));
    first.close();

    GeminiKeyRotator second = GeminiKeyRotator.builder()
        .secrets("AIzaSyTEST-configured-000001").clock(clock).store(store).build();
    assertThat(ids(second)).hasSize(5_001).contains("a0", "a4999");
    second.close();
  }
}
