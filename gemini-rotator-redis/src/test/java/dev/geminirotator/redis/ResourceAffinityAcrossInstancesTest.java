package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.affinity.Placement;
import dev.geminirotator.core.internal.affinity.ResourceAffinity;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequest.Route;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two {@link ResourceAffinity} instances on one real redis-server route alike: what one learns
 * from a creating answer, the other places by; what one deletes, the store no longer holds.
 */
class ResourceAffinityAcrossInstancesTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private static final ApiKey KEY_OF_P2 = ApiKey.builder("AIzaSy-secret-k3").id("k3")
      .project("p2").build();

  private final List<RedisKeyStateStore> stores = new ArrayList<>();
  private final List<ExecutorService> executors = new ArrayList<>();

  @AfterEach
  void close() throws InterruptedException {
    for (ExecutorService e : executors) {
      e.shutdown();
      assertThat(e.awaitTermination(30, TimeUnit.SECONDS)).isTrue();
    }
    stores.forEach(RedisKeyStateStore::close);
  }

  private ResourceAffinity instance() {
    RedisKeyStateStore store = RedisKeyStateStore.open(RedisStoreOptions.builder()
        .host("127.0.0.1").port(redis.port()).build());
    stores.add(store);
    ExecutorService writeBehind = Executors.newSingleThreadExecutor();
    executors.add(writeBehind);
    return ResourceAffinity.builder().store(store, writeBehind).build();
  }

  private static GeminiRequest request(String method, List<ResourceRef> named,
      ResourceKind creates, ResourceRef deletes) {
    return new GeminiRequest(method, "v1beta", Route.RESOURCE, null, RequestContext.ANY_MODEL,
        named, creates, deletes);
  }

  private static byte[] json(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static String redisKey(ResourceRef ref) {
    return "gemini_rotator:value:" + ResourceAffinity.storeName(ref);
  }

  @Test
  void aCacheCreatedThroughOneInstanceIsPlacedInItsProjectByAnother() {
    ResourceAffinity one = instance();
    ResourceAffinity two = instance();
    ResourceRef cache = new ResourceRef(ResourceKind.CACHED_CONTENT, "cachedContents/c1");
    Instant expires = Instant.now().plus(Duration.ofMinutes(10)).truncatedTo(ChronoUnit.SECONDS);

    one.served(request("POST", List.of(), ResourceKind.CACHED_CONTENT, null), KEY_OF_P2, 200,
        name -> null, json("{\"name\": \"cachedContents/c1\", \"expireTime\": \"" + expires
            + "\"}"));
    Eventually.until("the pin reaches Redis", () -> redis.client().exists(redisKey(cache)));

    GeminiRequest get = request("GET", List.of(cache), null, null);
    assertThat(two.mayBlock(get)).isTrue();
    Placement placed = two.place(get);

    assertThat(placed).isEqualTo(new Placement.Pinned("p2", cache));
    assertThat(placed.narrow(RequestContext.anyModel()).project()).isEqualTo("p2");
    assertThat(redis.client().pttl(redisKey(cache)))
        .as("kept in Redis until the cache's expireTime")
        .isBetween(Duration.ofMinutes(8).toMillis(), Duration.ofMinutes(10).toMillis());
    assertThat(two.mayBlock(get)).as("the other instance has it locally now").isFalse();
  }

  @Test
  void aStoreDeletedThroughOneInstanceIsNoLongerHeldByRedis() {
    ResourceAffinity one = instance();
    ResourceAffinity two = instance();
    ResourceRef fss = new ResourceRef(ResourceKind.FILE_SEARCH_STORE, "fileSearchStores/s1");
    one.served(request("POST", List.of(), ResourceKind.FILE_SEARCH_STORE, null), KEY_OF_P2, 200,
        name -> null, json("{\"name\": \"fileSearchStores/s1\"}"));
    Eventually.until("the pin reaches Redis", () -> redis.client().exists(redisKey(fss)));
    assertThat(two.place(request("GET", List.of(fss), null, null)))
        .isEqualTo(new Placement.Pinned("p2", fss));

    two.served(request("DELETE", List.of(fss), null, fss), KEY_OF_P2, 200, name -> null, null);

    Eventually.until("the pin leaves Redis", () -> !redis.client().exists(redisKey(fss)));
    ResourceAffinity third = instance();
    assertThat(third.place(request("GET", List.of(fss), null, null)))
        .isEqualTo(new Placement.Discover(fss));
  }
}
