package dev.geminirotator.core.config;

import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.guard.BreakerPolicy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.health.HealthPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.core.rotation.Strategy;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RotatorConfigTest {

  @Test
  void redactHidesEverySecretAStorageUriCanCarry() {
    assertThat(RotatorConfig.redact("redis://user:hunter2@h:6379/0")).isEqualTo(
        "redis://user:****@h:6379/0");
    assertThat(RotatorConfig.redact("redis://:hunter2@h/0")).isEqualTo("redis://:****@h/0");
    assertThat(RotatorConfig.redact("redis://hunter2@h/0")).isEqualTo("redis://****@h/0");
    assertThat(RotatorConfig.redact(
        "rediss://h/0?truststore=/t.p12&truststorePassword=hunter2&token=t0k&timeout=2s"))
        .isEqualTo("rediss://h/0?truststore=/t.p12&truststorePassword=****&token=****&timeout=2s");
    assertThat(RotatorConfig.redact("memory:")).isEqualTo("memory:");
    assertThat(RotatorConfig.redact("redis://h:6379/0")).isEqualTo("redis://h:6379/0");
    // an unescaped '@' in the password, which the multi-host URI parser accepts
    assertThat(RotatorConfig.redact("redis-cluster://u:p@ss@h1:1,h2:2/?prefix=x")).isEqualTo(
        "redis-cluster://u:****@h1:1,h2:2/?prefix=x");
    assertThat(RotatorConfig.redact("redis-sentinel://hun@ter2@s1:26379/mymaster"))
        .isEqualTo("redis-sentinel://****@s1:26379/mymaster");
  }


  static final ApiKey A = ApiKey.builder("AIzaSyA-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa").id("a").build();
  static final ApiKey B = ApiKey.builder("AIzaSyB-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb").id("b").build();

  @Test
  void defaultsAreTheDocumentedConstants() {
    RotatorConfig config = RotatorConfig.defaults();

    assertThat(config.keys()).isEmpty();
    assertThat(config.strategy()).isEqualTo(Strategy.ROUND_ROBIN);
    assertThat(config.storage()).isEqualTo("memory:");
    assertThat(config.health()).isSameAs(HealthPolicy.defaults());
    assertThat(config.attempts().maxAttempts()).isEqualTo(AttemptPolicy.DEFAULT_MAX_ATTEMPTS);
    assertThat(config.breaker().enabled()).isTrue();
  }

  @Test
  void builtConfigDoesNotChangeWhenTheSourceListDoes() {
    List<ApiKey> keys = new ArrayList<>(List.of(A));
    RotatorConfig.Builder builder = RotatorConfig.builder().keys(keys);
    RotatorConfig config = builder.build();

    keys.add(B);
    builder.key(B);

    assertThat(config.keys()).containsExactly(A);
    assertThatThrownBy(() -> config.keys().add(B)).isInstanceOf(UnsupportedOperationException.class);
    assertThat(builder.build().keys()).containsExactly(A, B);
  }

  @Test
  void toBuilderRoundTrips() {
    RotatorConfig config = RotatorConfig.builder().keys(List.of(A, B)).strategy(Strategy.WEIGHTED)
        .attempts(AttemptPolicy.builder().maxAttempts(2).build()).storage("memory:").build();

    assertThat(config.toBuilder().build().toString()).isEqualTo(config.toString());
  }

  @Test
  void duplicateKeysFailInBuild() {
    ApiKey sameIdAsA = ApiKey.builder("AIzaSyC-cccccccccccccccccccccccccccccc").id("a").build();

    assertThatThrownBy(() -> RotatorConfig.builder().keys(List.of(A, B, sameIdAsA, B)).build())
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("keys[2] duplicates keys[0] (same id 'a'; give each key its own id);"
            + " keys[3] duplicates keys[1] (same secret)");
  }

  @Test
  void storageMustBeAUriWithAScheme() {
    assertThatThrownBy(() -> RotatorConfig.builder().storage("  "))
        .hasMessage("storage must be a URI with a scheme, such as memory: or redis://host:6379/0,"
            + " but was '  '");
    assertThat(RotatorConfig.builder().storage(" redis://h:6379/0 ").build().storage())
        .isEqualTo("redis://h:6379/0");
  }

  @Test
  void toStringListsTheFirstTenKeysOnly() {
    RotatorConfig.Builder b = RotatorConfig.builder();
    for (int i = 0; i < 12; i++) {
      b.key(ApiKey.builder("AIzaSy-secret-number-" + i + "-xxxxxxxxxxxx").id("k" + i).build());
    }

    String text = b.build().toString();

    assertThat(text).startsWith("RotatorConfig{keys=12 [ApiKey{id=k0, ")
        .contains("id=k9,").doesNotContain("id=k10").contains(", … 2 more], strategy=round-robin");
  }

  @Test
  void attemptAndBreakerDefaults() {
    AttemptPolicy a = AttemptPolicy.defaults();
    BreakerPolicy b = BreakerPolicy.defaults();

    assertThat(a.toString()).isEqualTo("AttemptPolicy{maxAttempts=4, backoffBase=200ms,"
        + " backoffMax=2s, jitter=0.2, retryUpstreamErrors=true}");
    assertThat(b.toString()).isEqualTo("BreakerPolicy{failureRateThreshold=50.0, minimumCalls=20,"
        + " slidingWindowSize=50, waitInOpen=10s, permittedCallsInHalfOpen=3, perModel=false,"
        + " maxModelBreakers=256, enabled=true}");
    assertThat(a.toBuilder().build().toString()).isEqualTo(a.toString());
    assertThat(b.toBuilder().build().toString()).isEqualTo(b.toString());
  }

  @Test
  void newRotatorUsesTheConfiguredKeysStrategyAndStore() {
    RotatorConfig config = RotatorConfig.builder().keys(List.of(A, B))
        .strategy(Strategy.WEIGHTED).build();

    try (GeminiKeyRotator rotator = config.newRotator()) {
      assertThat(rotator.strategy()).isEqualTo(Strategy.WEIGHTED);
      assertThat(rotator.snapshot()).extracting(s -> s.id()).containsExactly("a", "b");
      assertThat(rotator.store().describe()).isNotBlank();
      KeyLease lease = rotator.acquire(RequestContext.forModel("gemini-2.5-flash"));
      assertThat(List.of("a", "b")).contains(lease.key().id());
    }
  }

  @Test
  void applyToLeavesTheStoreToTheCaller() {
    RotatorConfig config = RotatorConfig.builder().key(A).strategy(Strategy.POWER_OF_TWO).build();

    try (GeminiKeyRotator rotator = config.applyTo(GeminiKeyRotator.builder()).build()) {
      assertThat(rotator.strategy()).isEqualTo(Strategy.POWER_OF_TWO);
      assertThat(rotator.snapshot()).hasSize(1);
    }
  }

  @Test
  void unknownStorageSchemeFailsWhenTheRotatorIsBuilt() {
    RotatorConfig config = RotatorConfig.builder().key(A).storage("nosuch://x").build();

    assertThatThrownBy(config::newRotator)
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("no storage provider for scheme 'nosuch'");
  }
}
