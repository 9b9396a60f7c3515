package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.genai.Client;
import com.google.genai.types.BatchJob;
import com.google.genai.types.BatchJobSource;
import com.google.genai.types.CachedContent;
import com.google.genai.types.Content;
import com.google.genai.types.CreateBatchJobConfig;
import com.google.genai.types.CreateCachedContentConfig;
import com.google.genai.types.CreateFileSearchStoreConfig;
import com.google.genai.types.File;
import com.google.genai.types.FileSearchStore;
import com.google.genai.types.GenerateContentConfig;
import com.google.genai.types.GenerateContentResponse;
import com.google.genai.types.InlinedRequest;
import com.google.genai.types.Part;
import com.google.genai.types.UploadFileConfig;
import dev.geminirotator.core.internal.affinity.ResourceAffinity;
import dev.geminirotator.core.internal.exchange.GeminiRequests;
import dev.geminirotator.testsupport.redis.RedisServer;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.FakeGemini;
import dev.geminirotator.testsupport.GenAiResourceScenarios;
import dev.geminirotator.testsupport.SdkTraffic;
import dev.geminirotator.testsupport.SecretScanner;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;

/**
 * Issue 16: two proxies on one real redis-server route alike. Each of the four resource families
 * (files, context caches, batches, file search stores) is created through the first proxy and
 * then used, fetched and deleted through the second, with the official SDK, 6 keys in 3 projects
 * and a fake Gemini that enforces project ownership. The second proxy learns each owner from the
 * pin the first kept in Redis: no request reaches a project that cannot see what it names (a
 * wrong guess would be a 403 or 404 in the fake's log), and no pool key reaches either SDK.
 */
class TwoProxiesSharedPinsTest {

  private static final String MODEL = GenAiResourceScenarios.MODEL;
  private static RedisServer redis;

  private FakeGemini fake;
  private Harness first;
  private Harness second;
  private Client creator;
  private Client user;
  private final SdkTraffic traffic = new SdkTraffic();

  @BeforeAll
  static void startRedis() {
    redis = RedisServer.startOnFreePort();
  }

  @AfterAll
  static void stopRedis() {
    redis.close();
  }

  @BeforeEach
  void start() throws Exception {
    fake = FakeGemini.of(3, 2);
    StringBuilder yaml = new StringBuilder(fake.keysYaml());
    yaml.append(Harness.defaultYaml().substring(Harness.defaultYaml().indexOf("server:")))
        .append("storage: \"").append(redis.uri()).append("\"\n");
    first = new Harness(yaml.toString(), Map.of());
    second = new Harness(yaml.toString(), Map.of());
    fake.install(first.upstream); // one Gemini behind both proxies
    fake.install(second.upstream);
    creator = GenAiResourceScenarios.throughProxy(first.proxy.uri().toString(), Harness.TOKEN,
        traffic);
    user = GenAiResourceScenarios.throughProxy(second.proxy.uri().toString(), Harness.TOKEN,
        traffic);
  }

  @AfterEach
  void stop() {
    creator.close();
    user.close();
    first.close();
    second.close();
  }

  @Test
  void resourcesCreatedThroughOneProxyAreUsedFetchedAndDeletedThroughTheOther() throws Exception {
    StringBuilder seen = new StringBuilder();
    for (int round = 1; round <= 3; round++) {
      // Files: uploaded through the first, then get, generate with it, delete through the second.
      File file = creator.files.upload(("notes " + round).getBytes(StandardCharsets.UTF_8),
          UploadFileConfig.builder().mimeType("text/plain").build());
      String fileName = file.name().orElseThrow();
      seen.append(file.toJson());
      awaitSharedPin(fileName);
      assertThat(user.files.get(fileName, null).name()).contains(fileName);
      assertThat(answered(user.models.generateContent(MODEL, Content.fromParts(
          Part.fromUri(file.uri().orElseThrow(), "text/plain"), Part.fromText("Summarize.")),
          null))).isTrue();
      user.files.delete(fileName, null);
      assertThat(fake.owner(fileName)).as("deleted through the second proxy").isEmpty();

      // Context caches.
      CachedContent cache = creator.caches.create(MODEL, CreateCachedContentConfig.builder()
          .contents(Content.fromParts(Part.fromText("A long document " + round)))
          .ttl(Duration.ofMinutes(5)).build());
      String cacheName = cache.name().orElseThrow();
      seen.append(cache.toJson());
      awaitSharedPin(cacheName);
      assertThat(answered(user.models.generateContent(MODEL, "What does it say?",
          GenerateContentConfig.builder().cachedContent(cacheName).build()))).isTrue();
      assertThat(user.caches.get(cacheName, null).name()).contains(cacheName);
      user.caches.delete(cacheName, null);
      assertThat(fake.owner(cacheName)).isEmpty();

      // Batches.
      BatchJob batch = creator.batches.create(MODEL, BatchJobSource.builder()
          .inlinedRequests(InlinedRequest.builder()
              .contents(Content.fromParts(Part.fromText("Say hi " + round))).build())
          .build(), CreateBatchJobConfig.builder().build());
      String batchName = batch.name().orElseThrow();
      seen.append(batch.toJson());
      awaitSharedPin(batchName);
      assertThat(user.batches.get(batchName, null).name()).contains(batchName);
      user.batches.delete(batchName, null);
      assertThat(fake.owner(batchName)).isEmpty();

      // File search stores.
      FileSearchStore store = creator.fileSearchStores.create(
          CreateFileSearchStoreConfig.builder().displayName("store " + round).build());
      String storeName = store.name().orElseThrow();
      seen.append(store.toJson());
      awaitSharedPin(storeName);
      assertThat(user.fileSearchStores.get(storeName, null).name()).contains(storeName);
      user.fileSearchStores.delete(storeName, null);
      assertThat(fake.owner(storeName)).isEmpty();
    }

    assertThat(fake.served()).as("no request went to a project that cannot see what it names")
        .allSatisfy(s -> assertThat(s.status()).as(s.toString()).isEqualTo(200));
    assertThat(fake.served()).as("both proxies served").hasSizeGreaterThan(40);
    seen.append(traffic.text());
    assertThat(SecretScanner.of(fake.secrets()).findings(seen)).isEmpty();
  }

  /**
   * Waits until the first proxy's pin for {@code name} is in Redis: pins are written behind the
   * answer (never on the request path), so a client that turns to the other proxy within those
   * milliseconds makes it discover the resource instead (a 404 from a wrong project, no key
   * blamed), which this test's "every answer 200" would count as a failure.
   */
  private static void awaitSharedPin(String name) {
    String key = "gemini_rotator:value:"
        + ResourceAffinity.storeName(GeminiRequests.resource(name));
    try (RedisClient client = RedisClient.create("redis://127.0.0.1:" + redis.port())) {
      Eventually.until("the pin of " + name + " reaches Redis", () -> client.exists(key));
    }
  }

  private static boolean answered(GenerateContentResponse response) {
    return response.candidates().isPresent() && !response.candidates().get().isEmpty();
  }
}
