package dev.geminirotator.config;

import dev.geminirotator.core.config.RotatorConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** {@code key-id-salt}: the salt of ids derived from secrets, set once for every instance. */
class KeyIdSaltConfigTest {

  private static final String SECRET = "AIzaSyTEST-salted-id-0123456789abcdef";
  private static final String SALT = "a-salt-shared-by-every-proxy-0042";

  private static RotatorConfig load(String yaml) {
    return ConfigLoader.builder().env(Map.of()).build().loadString(yaml, null);
  }

  @Test
  void aConfiguredSaltDerivesTheIdsOfKeysWithoutOneAndIsNeverShown() {
    RotatorConfig config = load("keys: [\"" + SECRET + "\", {id: named, secret: AIzaSyTEST-named-0000000000000}]\n"
        + "key-id-salt: \"" + SALT + "\"\n");
    String expected = ApiKey.builder(SECRET).idSalt(SALT).build().id();
    assertThat(config.keys().get(0).id()).isEqualTo(expected)
        .isNotEqualTo(ApiKey.of(SECRET).id());
    assertThat(config.keys().get(1).id()).isEqualTo("named");
    assertThat(config.toString()).contains("key-id-salt=****").doesNotContain(SALT);
    try (GeminiKeyRotator one = config.newRotator(); GeminiKeyRotator two = config.newRotator()) {
      // two instances, each on a private memory store, agree through the configured salt
      assertThat(one.snapshot().stream().map(KeySnapshot::id))
          .containsExactly(expected, "named");
      assertThat(two.snapshot(expected)).isPresent();
      assertThat(one.poolKey(ApiKey.of(SECRET)).id()).isEqualTo(expected);
    }
  }

  @Test
  void aShortSaltIsRefusedWithAMessageNamingTheFieldButNotTheValue() {
    ConfigException e = catchThrowableOfType(ConfigException.class,
        () -> load("keys: [\"" + SECRET + "\"]\nkey-id-salt: \"short-salt\"\n"));
    assertThat(e.errors()).containsExactly(
        "key-id-salt must be at least 16 characters but was 10; use a random string");
    assertThat(e.getMessage()).doesNotContain("short-salt");
  }

  @Test
  void withoutASaltAMemoryStoreRotatorUsesThisProcesssRandomOne() {
    try (GeminiKeyRotator rotator = GeminiKeyRotator.builder().secrets(SECRET).build()) {
      assertThat(rotator.snapshot().get(0).id()).isEqualTo(ApiKey.of(SECRET).id())
          .isNotEqualTo(ApiKey.builder(SECRET).idSalt(SALT).build().id());
    }
  }
}
