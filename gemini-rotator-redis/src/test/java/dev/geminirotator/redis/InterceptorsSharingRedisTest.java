package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.internal.affinity.ResourceAffinity;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.FakeGemini;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Two apps, each with its own {@link GeminiKeyInterceptor} over its own rotator on one real
 * redis-server, against a fake Gemini that enforces project ownership (6 keys in 3 projects): a
 * context cache created through one is used, fetched and deleted through the other, every request
 * reaching a key of the cache's project at once. The interceptors use their default affinity,
 * which keeps pins in the rotator's Redis store.
 */
class InterceptorsSharingRedisTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private static final MediaType JSON = MediaType.get("application/json");

  private FakeGemini fake;
  private final List<GeminiKeyRotator> rotators = new ArrayList<>();

  @BeforeEach
  void start() {
    redis.client().flushAll();
    fake = FakeGemini.of(3, 2);
    fake.start();
  }

  @AfterEach
  void stop() {
    rotators.forEach(GeminiKeyRotator::close); // closes the store it opened
    fake.close();
  }

  /** One app: a rotator on the shared Redis, and a client carrying its interceptor. */
  private OkHttpClient app() {
    List<ApiKey> keys = new ArrayList<>();
    for (String id : fake.keyIds()) {
      keys.add(ApiKey.builder(fake.secret(id)).id(id).project(fake.projectOf(id)).build());
    }
    RedisKeyStateStore store = RedisKeyStateStore.open(RedisStoreOptions.builder()
        .host("127.0.0.1").port(redis.port()).build());
    GeminiKeyRotator rotator = GeminiKeyRotator.builder().keys(keys).store(store, true).build();
    rotators.add(rotator);
    return new OkHttpClient.Builder().addInterceptor(GeminiKeyInterceptor.of(rotator)).build();
  }

  private Response call(OkHttpClient client, String method, String path, String json)
      throws IOException {
    Request.Builder b = new Request.Builder().url(fake.baseUrl().resolve(path));
    b.method(method, json == null ? null : RequestBody.create(json, JSON));
    return client.newCall(b.build()).execute();
  }

  @Test
  void aCacheCreatedThroughOneAppIsUsedFetchedAndDeletedThroughTheOther() throws IOException {
    OkHttpClient one = app();
    OkHttpClient two = app();
    // App one moves its rotation on, so the cache is made in another project than app two's next.
    for (int i = 0; i < 2; i++) {
      try (Response r = call(one, "POST", "/v1beta/models/gemini-2.5-flash:generateContent",
          "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}")) {
        assertThat(r.code()).isEqualTo(200);
      }
    }
    String name;
    try (Response created = call(one, "POST", "/v1beta/cachedContents",
        "{\"model\":\"models/gemini-2.5-flash\",\"contents\":[{\"parts\":[{\"text\":"
            + "\"context\"}]}],\"ttl\":\"600s\"}")) {
      assertThat(created.code()).isEqualTo(200);
      String body = created.body().string();
      int at = body.indexOf("cachedContents/");
      name = body.substring(at, body.indexOf('"', at));
    }
    String owner = fake.owner(name).orElseThrow().project();
    assertThat(owner).as("not the project app two's rotation starts with").isNotEqualTo(
        fake.projectOf(fake.keyIds().get(0)));
    String pin = "gemini_rotator:value:"
        + ResourceAffinity.storeName(new ResourceRef(ResourceKind.CACHED_CONTENT, name));
    Eventually.until("the pin reaches Redis", () -> redis.client().exists(pin));
    fake.clearServed();

    try (Response used = call(two, "POST", "/v1beta/models/gemini-2.5-flash:generateContent",
        "{\"cachedContent\":\"" + name + "\",\"contents\":[{\"parts\":[{\"text\":\"q\"}]}]}")) {
      assertThat(used.code()).as("generate with the cache").isEqualTo(200);
    }
    try (Response fetched = call(two, "GET", "/v1beta/" + name, null)) {
      assertThat(fetched.code()).isEqualTo(200);
      assertThat(fetched.body().string()).contains(name);
    }
    try (Response deleted = call(two, "DELETE", "/v1beta/" + name, null)) {
      assertThat(deleted.code()).isEqualTo(200);
      deleted.body().string(); // the answer is learnt from when its body ends, as the SDK reads it
    }

    assertThat(fake.served()).as("three requests, each to the cache's project at once")
        .hasSize(3).allSatisfy(s -> {
          assertThat(s.status()).as(s.toString()).isEqualTo(200);
          assertThat(s.project()).as(s.toString()).isEqualTo(owner);
        });
    assertThat(fake.owner(name)).as("deleted").isEmpty();
    Eventually.until("the pin leaves Redis", () -> !redis.client().exists(pin));
  }
}
