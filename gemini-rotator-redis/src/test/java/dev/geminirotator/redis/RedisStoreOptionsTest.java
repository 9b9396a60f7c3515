package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.KeyStateStores;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

class RedisStoreOptionsTest {

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension();

  @Test
  void defaultsApplyWhenTheUriNamesOnlyAHost() {
    RedisStoreOptions o = RedisStoreOptions.fromUri("redis://cache.internal");
    assertThat(o.host()).isEqualTo("cache.internal");
    assertThat(o.port()).isEqualTo(6379);
    assertThat(o.database()).isZero();
    assertThat(o.tls()).isFalse();
    assertThat(o.user()).isNull();
    assertThat(o.password()).isNull();
    assertThat(o.prefix()).isEqualTo("gemini_rotator:");
    assertThat(o.poolSize()).isEqualTo(RedisStoreOptions.DEFAULT_POOL_SIZE);
    assertThat(o.timeout()).isEqualTo(Duration.ofSeconds(2));
    assertThat(o.connectTimeout()).isEqualTo(o.timeout());
    assertThat(o.describe()).isEqualTo("redis://cache.internal:6379/0");
  }

  @Test
  void credentialsDatabaseAndOptionsComeFromTheUri() {
    RedisStoreOptions o = RedisStoreOptions.fromUri("rediss://bob:p%40ss+w%3Ard@10.0.0.5:6380/4"
        + "?prefix=team-a:&pool=16&timeout=500ms&connectTimeout=3s&queue=100&batch=32"
        + "&linger=0ms&retry=1m");
    assertThat(o.tls()).isTrue();
    assertThat(o.user()).isEqualTo("bob");
    assertThat(o.password()).isEqualTo("p@ss+w:rd");
    assertThat(o.port()).isEqualTo(6380);
    assertThat(o.database()).isEqualTo(4);
    assertThat(o.prefix()).isEqualTo("team-a:");
    assertThat(o.poolSize()).isEqualTo(16);
    assertThat(o.timeout()).isEqualTo(Duration.ofMillis(500));
    assertThat(o.connectTimeout()).isEqualTo(Duration.ofSeconds(3));
    assertThat(o.queueCapacity()).isEqualTo(100);
    assertThat(o.batchSize()).isEqualTo(32);
    assertThat(o.linger()).isZero();
    assertThat(o.retryInterval()).isEqualTo(Duration.ofMinutes(1));
    assertThat(o.describe()).isEqualTo("rediss://bob:****@10.0.0.5:6380/4?prefix=team-a:");
    assertThat(o.toString()).doesNotContain("p@ss");
    assertThat(RedisStoreOptions.fromUri("redis://onlypassword@h").password())
        .isEqualTo("onlypassword");
    assertThat(RedisStoreOptions.fromUri("redis://[::1]:7000").host()).isEqualTo("::1");
  }

  @Test
  void unknownOptionsAreNamedInTheError() {
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis://h?pool=2&poolSize=3&ttl=1s"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("unknown Redis store options poolSize, ttl; known options: batch,"
            + " connectTimeout, linger, pool, prefix, queue, retry, timeout, truststore,"
            + " truststorePassword, truststoreType");
  }

  @Test
  void badValuesSayWhatIsWrongAndNeverShowThePassword() {
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis://:pw-secret@h?timeout=2"))
        .hasMessage("timeout must be a duration such as 500ms, 2s or 1m but was '2'")
        .hasMessageNotContaining("pw-secret");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis://h?pool=0"))
        .hasMessage("pool must be 1 to 1024 but was 0");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis://h?pool=x"))
        .hasMessage("pool must be a whole number but was 'x'");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis://h/zero"))
        .hasMessageContaining("the database number");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis://:pw-secret@/0"))
        .hasMessageContaining("no valid host").hasMessageNotContaining("pw-secret");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis://h?prefix=a%20b"))
        .hasMessageContaining("prefix must be");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis://h?pool=1&pool=2"))
        .hasMessage("Redis store option pool is given twice");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("http://h"))
        .hasMessageContaining("redis://");
  }

  @Test
  void serviceLoaderFindsTheStoreForRedisAndRedissUris() {
    try (KeyStateStore store = KeyStateStores.open(redis.uri("/2?prefix=svc:&pool=2"))) {
      assertThat(store).isInstanceOf(RedisKeyStateStore.class);
      assertThat(store.isAvailable()).isTrue();
      assertThat(store.describe()).isEqualTo(redis.uri("/2?prefix=svc:"));
    }
    // TLS against a plain-text server: the store opens degraded, never failing a request
    try (KeyStateStore tls = KeyStateStores.open("rediss://127.0.0.1:" + redis.port()
        + "?timeout=500ms")) {
      assertThat(((RedisKeyStateStore) tls).options().tls()).isTrue();
      assertThat(tls.isAvailable()).isFalse();
    }
    assertThatThrownBy(() -> KeyStateStores.open(redis.uri("?nope=1")))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("nope");
  }
}
