package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.KeyStateStores;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
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
            + " connectTimeout, linger, pool, prefix, queue, retry, sentinelPassword,"
            + " sentinelUser, timeout, truststore, truststorePassword, truststoreType");
  }

  @Test
  void aClusterUriListsNodesWithTheSingleNodeOptions() {
    RedisStoreOptions o = RedisStoreOptions.fromUri("redis-cluster://bob:cl%40ster-pw@10.0.0.1:7000,"
        + "node-b,10.0.0.3:7002?prefix=team-a:&pool=4&timeout=1s");
    assertThat(o.mode()).isEqualTo(RedisStoreOptions.Mode.CLUSTER);
    assertThat(o.nodes()).containsExactly(new RedisStoreOptions.Node("10.0.0.1", 7000),
        new RedisStoreOptions.Node("node-b", 6379), new RedisStoreOptions.Node("10.0.0.3", 7002));
    assertThat(o.user()).isEqualTo("bob");
    assertThat(o.password()).isEqualTo("cl@ster-pw");
    assertThat(o.tls()).isFalse();
    assertThat(o.prefix()).isEqualTo("team-a:");
    assertThat(o.poolSize()).isEqualTo(4);
    assertThat(o.timeout()).isEqualTo(Duration.ofSeconds(1));
    assertThat(o.describe())
        .isEqualTo("redis-cluster://bob:****@10.0.0.1:7000,node-b:6379,10.0.0.3:7002"
            + "?prefix=team-a:");
    assertThat(o.toString()).doesNotContain("cl@ster-pw");
    RedisStoreOptions tls = RedisStoreOptions.fromUri("rediss-cluster://[::1]:7000/");
    assertThat(tls.tls()).isTrue();
    assertThat(tls.nodes()).containsExactly(new RedisStoreOptions.Node("::1", 7000));
    assertThat(tls.describe()).isEqualTo("rediss-cluster://[::1]:7000");
  }

  @Test
  void aSentinelUriListsSentinelsAndNamesTheMaster() {
    RedisStoreOptions o = RedisStoreOptions.fromUri("rediss-sentinel://:master-pw@s1,s2:26380/"
        + "mymaster/3?sentinelUser=watcher&sentinelPassword=sentinel-pw&timeout=1s");
    assertThat(o.mode()).isEqualTo(RedisStoreOptions.Mode.SENTINEL);
    assertThat(o.nodes()).containsExactly(new RedisStoreOptions.Node("s1", 26379),
        new RedisStoreOptions.Node("s2", 26380));
    assertThat(o.masterName()).isEqualTo("mymaster");
    assertThat(o.database()).isEqualTo(3);
    assertThat(o.tls()).isTrue();
    assertThat(o.password()).isEqualTo("master-pw");
    assertThat(o.sentinelUser()).isEqualTo("watcher");
    assertThat(o.sentinelPassword()).isEqualTo("sentinel-pw");
    assertThat(o.describe()).isEqualTo("rediss-sentinel://:****@s1:26379,s2:26380/mymaster/3");
    assertThat(o.toString()).doesNotContain("master-pw").doesNotContain("sentinel-pw")
        .contains("sentinelPassword=****");
    assertThat(RedisStoreOptions.fromUri("redis-sentinel://s1/mymaster").database()).isZero();
  }

  @Test
  void badClusterAndSentinelUrisSayWhatIsWrong() {
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis-cluster://:pw-secret@a:7000/2"))
        .hasMessage("a Redis Cluster has database 0 only, so a redis-cluster URI has no path, but"
            + " it was '/2'").hasMessageNotContaining("pw-secret");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis-cluster://a:7000,,b"))
        .hasMessageContaining("the host list has an invalid host ''");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis-cluster://a:7000,b:70000"))
        .hasMessage("the port of 'b:70000' must be 1 to 65535 but was 70000");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis-cluster://a:7000,b:x"))
        .hasMessage("the port of 'b:x' must be a number but was 'x'");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis-cluster://a?prefix=%7Bt%7D:"))
        .hasMessageContaining("prefix must not contain '{' or '}' on a Redis Cluster");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis-sentinel://s1,s2"))
        .hasMessageContaining("the master's name").hasMessageContaining("but was ''");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis-sentinel://s1/m/x"))
        .hasMessageContaining("the database in a redis-sentinel URI is a number");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis://h?sentinelPassword=x"))
        .hasMessage("sentinelUser and sentinelPassword apply to redis-sentinel:// only");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("valkey-cluster://h"))
        .hasMessageContaining("starts with redis-cluster:// or rediss-cluster://");
    assertThatThrownBy(() -> RedisStoreOptions.fromUri("redis-cluster:///"))
        .hasMessageContaining("needs at least one host");
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
