package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * {@code values()} (put, get, remove): one instance's value is another's, expires
 * in Redis, and is gone for every instance once one removes it.
 */
class SharedValuesTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  private final List<RedisKeyStateStore> stores = new ArrayList<>();

  @AfterEach
  void close() {
    stores.forEach(RedisKeyStateStore::close);
  }

  private RedisKeyStateStore store() {
    RedisKeyStateStore store = RedisKeyStateStore.open(RedisStoreOptions.builder()
        .host("127.0.0.1").port(redis.port()).build());
    stores.add(store);
    return store;
  }

  @Test
  void aValueKeptByOneInstanceIsReadByAnotherAndExpires() {
    RedisKeyStateStore one = store();
    RedisKeyStateStore two = store();

    StoreCalls.values(one).put("file:files/abc", "project-one", Duration.ofHours(48));

    assertThat(StoreCalls.values(two).get("file:files/abc")).isEqualTo("project-one");
    assertThat(StoreCalls.values(two).get("file:files/other")).isNull();
    String key = "gemini_rotator:value:file:files/abc";
    assertThat(redis.client().pttl(key)).isBetween(Duration.ofHours(47).toMillis(),
        Duration.ofHours(48).toMillis());

    StoreCalls.values(one).put("upload:u1", "k1", Duration.ofMillis(1));
    Eventually.until("expired", () -> StoreCalls.values(two).get("upload:u1") == null);
  }

  @Test
  void aValueRemovedByOneInstanceIsGoneFromRedisForEveryInstance() {
    RedisKeyStateStore one = store();
    RedisKeyStateStore two = store();
    StoreCalls.values(one).put("pin:file:files/abc", "project-one", Duration.ofHours(48));
    assertThat(StoreCalls.values(two).get("pin:file:files/abc")).isEqualTo("project-one");

    StoreCalls.values(two).remove("pin:file:files/abc");

    assertThat(redis.client().exists("gemini_rotator:value:pin:file:files/abc")).isFalse();
    assertThat(StoreCalls.values(one).get("pin:file:files/abc")).isNull();
    StoreCalls.values(two).remove("pin:file:files/never-kept"); // nothing to remove: no error
  }
}
