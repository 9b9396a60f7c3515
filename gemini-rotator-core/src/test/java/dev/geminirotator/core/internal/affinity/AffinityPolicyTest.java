package dev.geminirotator.core.internal.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.affinity.AffinityPolicy;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequest.Route;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import dev.geminirotator.testsupport.FakeClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@code ResourceAffinity.of(AffinityPolicy, ...)}: the configuration's affinity section turned
 * into the affinity it describes.
 */
class AffinityPolicyTest {

  private static final ApiKey K1 = ApiKey.builder("AIzaSy-secret-of-k1").id("k1").project("p1")
      .build();
  private final FakeClock clock = FakeClock.standard();
  private final SharedMemoryStore store = new SharedMemoryStore(clock);

  private static GeminiRequest naming(ResourceRef ref) {
    return new GeminiRequest("GET", "v1beta", Route.RESOURCE, null, RequestContext.ANY_MODEL,
        List.of(ref), null, null);
  }

  private static void create(Affinity affinity, String name) {
    affinity.served(new GeminiRequest("POST", "v1beta", Route.RESOURCE, null,
        RequestContext.ANY_MODEL, List.of(), ResourceKind.FILE_SEARCH_STORE, null), K1, 200,
        name1 -> null, ("{\"name\": \"" + name + "\"}").getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void disabledMeansNoAffinity() {
    AffinityPolicy off = AffinityPolicy.builder().enabled(false).build();

    assertThat(ResourceAffinity.of(off, store, clock)).isSameAs(Affinity.NONE);
    assertThat(ResourceAffinity.of(off, store, Runnable::run, clock)).isSameAs(Affinity.NONE);
    assertThat(ResourceAffinity.of(off, clock)).isSameAs(Affinity.NONE);
    assertThat(off).hasToString("AffinityPolicy{disabled}");
  }

  @Test
  void theBoundsReachTheAffinity() {
    List<Runnable> writes = new ArrayList<>();
    Affinity affinity = ResourceAffinity.of(AffinityPolicy.builder().maxPins(2).build(), store,
        writes::add, clock);
    for (int i = 0; i < 3; i++) create(affinity, "fileSearchStores/s" + i);

    assertThat(((ResourceAffinity) affinity).pinCount()).isEqualTo(2);
    Affinity local = ResourceAffinity.of(AffinityPolicy.builder().maxPins(2).build(), clock);
    for (int i = 0; i < 3; i++) create(local, "fileSearchStores/s" + i);
    assertThat(((ResourceAffinity) local).pinCount()).as("in this JVM only, bounded alike")
        .isEqualTo(2);
    assertThat(writes).as("a shared store gets every pin, on the given executor").hasSize(3);
    assertThat(affinity.place(naming(new ResourceRef(ResourceKind.FILE_SEARCH_STORE,
        "fileSearchStores/s2")))).isEqualTo(new Placement.Pinned("p1",
            new ResourceRef(ResourceKind.FILE_SEARCH_STORE, "fileSearchStores/s2")));
  }

  @Test
  void notFoundForReachesTheAffinity() {
    Affinity affinity = ResourceAffinity.of(
        AffinityPolicy.builder().notFoundFor(Duration.ofSeconds(5)).build(), store, Runnable::run,
        clock);
    ResourceRef file = new ResourceRef(ResourceKind.FILE, "files/gone");
    affinity.notFound(naming(file), file);

    assertThat(affinity.place(naming(file))).isInstanceOf(Placement.Unreachable.class);
    clock.advance(Duration.ofSeconds(5));
    assertThat(affinity.place(naming(file))).isInstanceOf(Placement.Discover.class);
  }

  @Test
  void defaultsAreResourceAffinitysAndABuiltPolicyRoundTrips() {
    AffinityPolicy d = AffinityPolicy.defaults();

    assertThat(Map.of("enabled", d.enabled(), "maxPins", d.maxPins(), "maxNotFound",
        d.maxNotFound(), "notFoundFor", d.notFoundFor(), "renewEvery", d.renewEvery()))
        .isEqualTo(Map.of("enabled", true, "maxPins", ResourceAffinity.DEFAULT_MAX_PINS,
            "maxNotFound", ResourceAffinity.DEFAULT_MAX_NOT_FOUND,
            "notFoundFor", ResourceAffinity.DEFAULT_NOT_FOUND_FOR,
            "renewEvery", ResourceAffinity.DEFAULT_RENEW_EVERY));
    AffinityPolicy custom = d.toBuilder().maxPins(7).enabled(false).build();
    assertThat(custom.toBuilder().build()).isEqualTo(custom).isNotEqualTo(d);
  }
}
