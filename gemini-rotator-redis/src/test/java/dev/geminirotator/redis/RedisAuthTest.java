package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.KeyStateStores;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.redis.RedisServerExtension;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/** A server that requires a password (requirepass) and knows an ACL user. */
class RedisAuthTest {

  private static final String PASSWORD = "s3cr3t-Pa55word";
  private static final String ALICE_PASSWORD = "alice-Pa55word";

  @RegisterExtension
  static final RedisServerExtension redis = new RedisServerExtension("--requirepass", PASSWORD,
      "--user", "alice", "on", ">" + ALICE_PASSWORD, "~*", "&*", "+@all");

  @Test
  void thePasswordInTheUriOpensTheStoreAndDescribeMasksIt() {
    try (KeyStateStore store = KeyStateStores.open(
        "redis://:" + PASSWORD + "@127.0.0.1:" + redis.port() + "/3")) {
      assertThat(store).isInstanceOf(RedisKeyStateStore.class);
      assertThat(store.isAvailable()).isTrue();
      assertThat(store.describe()).isEqualTo("redis://:****@127.0.0.1:" + redis.port() + "/3")
          .doesNotContain(PASSWORD);
      assertThat(store.toString()).doesNotContain(PASSWORD);
      assertThat(((RedisKeyStateStore) store).options().toString()).doesNotContain(PASSWORD);
      store.apply(new StateChange.KeyStatus("a", KeyState.INVALID, null, "x", Instant.now()));
      Eventually.until("written",
          () -> store.load().statuses().containsKey("a"));
    }
  }

  @Test
  void anAclUserAndPasswordFromTheUriWork() {
    try (KeyStateStore store = KeyStateStores.open(
        "redis://alice:" + ALICE_PASSWORD + "@127.0.0.1:" + redis.port())) {
      assertThat(store.isAvailable()).isTrue();
      assertThat(store.describe()).startsWith("redis://alice:****@");
      assertThat(StoreCalls.countNow(store, "client:a", Duration.ofMinutes(1))).isEqualTo(1);
    }
  }

  @Test
  void aWrongPasswordFailsAtStartWithAClearMessageThatHidesIt() {
    String wrong = "not-the-Pa55word";
    assertThatThrownBy(() -> KeyStateStores.open(
        "redis://:" + wrong + "@127.0.0.1:" + redis.port()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("authentication failed")
        .hasMessageContaining("redis://:****@127.0.0.1:" + redis.port())
        .hasMessageNotContaining(wrong)
        .satisfies(e -> assertThat(String.valueOf(e.getCause())).doesNotContain(wrong));
  }

  @Test
  void aMissingPasswordFailsAtStartToo() {
    assertThatThrownBy(() -> KeyStateStores.open("redis://127.0.0.1:" + redis.port()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("authentication failed")
        .hasMessageContaining("check the user and password");
  }

  @Test
  void aWrongPasswordInAClusterUriFailsAtStartAsOnOneServer() {
    String wrong = "not-the-Pa55word";
    assertThatThrownBy(() -> KeyStateStores.open(
        "redis-cluster://:" + wrong + "@127.0.0.1:" + redis.port()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("authentication failed")
        .hasMessageContaining("redis-cluster://:****@127.0.0.1:" + redis.port())
        .hasMessageNotContaining(wrong)
        .satisfies(e -> assertThat(String.valueOf(e.getCause())).doesNotContain(wrong));
  }

  @Test
  void aClusterUriOnAServerThatIsNoClusterFailsAtStartSayingSo() {
    assertThatThrownBy(() -> KeyStateStores.open(
        "redis-cluster://:" + PASSWORD + "@127.0.0.1:" + redis.port()))
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("could not be opened")
        .hasMessageContaining("cluster support disabled")
        .hasMessageNotContaining(PASSWORD);
  }
}
