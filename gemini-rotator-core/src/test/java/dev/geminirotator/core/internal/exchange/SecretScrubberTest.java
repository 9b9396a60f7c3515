package dev.geminirotator.core.internal.exchange;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Allocations;
import dev.geminirotator.testsupport.RealLookingKeys;
import dev.geminirotator.testsupport.SecretScanner;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * Every pool secret in a body, plain or percent-encoded, whole or split across chunks, reaches a
 * client as its key's id, with a hundred thousand keys as with one.
 */
class SecretScrubberTest {

  private static final ApiKey ONE = ApiKey.of("k1", RealLookingKeys.key(1));
  private static final ApiKey TWO = ApiKey.of("k2", RealLookingKeys.key(2));
  private static final ApiKey THREE = ApiKey.of("k3", RealLookingKeys.key(3));

  private static String suspended(String secret) {
    return RealLookingKeys.consumerSuspended(secret);
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String encodeAll(String text) {
    StringBuilder sb = new StringBuilder();
    for (byte b : utf8(text)) sb.append(String.format("%%%02X", b));
    return sb.toString();
  }

  @Test
  void everyPoolSecretInABodyBecomesItsKeysId() {
    SecretScrubber scrubber = SecretScrubber.of(List.of(ONE, TWO, THREE));
    String body = suspended(TWO.secret()) + " also " + THREE.secret() + "," + ONE.secret();

    String scrubbed = new String(scrubber.scrub(utf8(body)), StandardCharsets.UTF_8);

    assertThat(SecretScanner.of(ONE.secret(), TWO.secret(), THREE.secret()).findings(scrubbed))
        .isEmpty();
    assertThat(scrubbed).contains("Consumer 'api_key:k2' has been suspended")
        .endsWith(" also k3,k1").contains("CONSUMER_SUSPENDED");
  }

  @Test
  void bodyWithoutASecretIsReturnedAsTheSameArray() {
    SecretScrubber scrubber = SecretScrubber.of(List.of(ONE, TWO));
    byte[] body = utf8(suspended("AIzaSyD-EXAMPLE-ONLY-000000000000000") + " ünïcödé");
    assertThat(scrubber.scrub(body)).isSameAs(body);
    String text = "plain";
    assertThat(scrubber.scrub(text)).isSameAs(text);
    assertThat(SecretScrubber.none().scrub(body)).isSameAs(body);
  }

  @Test
  void headerValueWithoutASecretIsReturnedWithoutAllocating() throws Exception {
    SecretScrubber scrubber = SecretScrubber.of(List.of(ONE, TWO, THREE));
    String contentType = "application/json; charset=UTF-8";
    String date = "Mon, 07 Dec 2026 22:17:17 GMT";
    double bytes = Allocations.bytesPerRun(20_000, 20_000, () -> {
      if (scrubber.scrub(contentType) != contentType || scrubber.scrub(date) != date) {
        throw new AssertionError("a value without a secret came back changed");
      }
    });
    assertThat(bytes).as("bytes allocated per two header values").isLessThan(1.0);
  }

  @Test
  void textsTheQuickCheckCannotClearAreStillScannedInFull() {
    SecretScrubber scrubber = SecretScrubber.of(List.of(ONE, TWO));
    // right at the shortest secret's length, surrounded by characters no secret holds
    assertThat(scrubber.scrub("url=" + ONE.secret() + ";")).isEqualTo("url=k1;");
    assertThat(scrubber.scrub(ONE.secret())).isEqualTo("k1");
    // a run of secret characters as long as a secret that is none: unchanged, the same instance
    String lookalike = "AIza" + "x".repeat(35);
    assertThat(scrubber.scrub(lookalike)).isSameAs(lookalike);
    // percent-encoded and non-ASCII texts skip the quick check
    assertThat(scrubber.scrub("k=" + encodeAll(TWO.secret()))).isEqualTo("k=k2");
    assertThat(scrubber.scrub("é " + TWO.secret())).isEqualTo("é k2");
  }

  @Test
  void percentEncodedSecretInAnyCaseIsFound() {
    SecretScrubber scrubber = SecretScrubber.of(List.of(ONE));
    String half = ONE.secret().substring(0, 10) + encodeAll(ONE.secret().substring(10, 20))
        .toLowerCase() + ONE.secret().substring(20);
    String body = "u=" + encodeAll(ONE.secret()) + "&v=" + half + "&w=%zz%4";
    assertThat(scrubber.scrub(body)).isEqualTo("u=k1&v=k1&w=%zz%4");
  }

  @Test
  void secretsOfDifferentLengthsAndNonAsciiSecretsAreFound() {
    ApiKey shortKey = ApiKey.of("short", "sk-0123456789");
    ApiKey unicode = ApiKey.of("uni", "clé-secrète-ünïcödé-42");
    ApiKey withPercent = ApiKey.of("pct", "abc%41def-ghijklmnop");
    SecretScrubber scrubber = SecretScrubber.of(List.of(ONE, shortKey, unicode, withPercent));
    String body = "[" + shortKey.secret() + "|" + unicode.secret() + "|" + ONE.secret() + "|"
        + withPercent.secret() + "|abcAdef-ghijklmnop]";
    assertThat(scrubber.scrub(body)).isEqualTo("[short|uni|k1|pct|pct]");
  }

  @Test
  void aSecretSplitAtEveryPositionAcrossThreeChunksIsFound() {
    SecretScrubber scrubber = SecretScrubber.of(List.of(ONE, TWO));
    for (String form : List.of(ONE.secret(), encodeAll(ONE.secret()))) {
      String body = "head-" + form + "-middle-" + TWO.secret() + form + "-tail";
      String expected = "head-k1-middle-k2k1-tail";
      byte[] bytes = utf8(body);
      for (int split = 0; split <= bytes.length; split++) {
        for (int second = split; second <= bytes.length; second += 5) {
          SecretScrubber.Stream stream = scrubber.stream();
          ByteArrayOutputStream out = new ByteArrayOutputStream();
          out.writeBytes(stream.next(Arrays.copyOfRange(bytes, 0, split), false));
          assertThat(stream.held()).isLessThanOrEqualTo(scrubber.maxHeldBytes());
          out.writeBytes(stream.next(Arrays.copyOfRange(bytes, split, second), false));
          assertThat(stream.held()).isLessThanOrEqualTo(scrubber.maxHeldBytes());
          out.writeBytes(stream.next(Arrays.copyOfRange(bytes, second, bytes.length), true));
          assertThat(out.toString(StandardCharsets.UTF_8))
              .as("split at %d and %d", split, second).isEqualTo(expected);
        }
      }
    }
  }

  @Test
  void aStreamHoldsBackNoMoreThanOneSecretLengthOfALongBody() {
    SecretScrubber scrubber = SecretScrubber.of(List.of(ONE));
    SecretScrubber.Stream stream = scrubber.stream();
    byte[] chunk = new byte[8192];
    Arrays.fill(chunk, (byte) 'a');
    long sent = 0;
    for (int i = 0; i < 100; i++) {
      sent += stream.next(chunk, false).length;
      assertThat(stream.held()).isLessThanOrEqualTo(scrubber.maxHeldBytes());
    }
    sent += stream.next(new byte[0], true).length;
    assertThat(sent).isEqualTo(100L * 8192);
    assertThat(scrubber.maxHeldBytes()).isEqualTo(3 * 38 + 2);
  }

  @Test
  void aCutBodyLeaksNoPrefixOfASecretItsCutThrough() {
    SecretScrubber scrubber = SecretScrubber.of(List.of(ONE));
    byte[] cut = utf8("{\"message\": \"Consumer 'api_key:" + ONE.secret().substring(0, 30));
    String kept = new String(scrubber.scrubTruncated(cut), StandardCharsets.UTF_8);
    assertThat(SecretScanner.of(ONE.secret()).findings(kept)).isEmpty();
    assertThat(kept).startsWith("{\"message\": ");
  }

  /**
   * A secret replaced by an id, plus the tail held back, can come to exactly the length of the
   * cut body (an id as long as the secret, the secret ending at the cut; or a longer id with the
   * secret just before it): the body still has to be the scrubbed one.
   */
  @Test
  void aCutBodyIsScrubbedWhateverTheLengthOfTheKeysId() {
    String secret = ONE.secret();
    for (int idLength = 1; idLength <= 128; idLength++) {
      ApiKey key = ApiKey.of("i".repeat(idLength), secret);
      SecretScrubber scrubber = SecretScrubber.of(List.of(key));
      for (int after = 0; after <= 2 * secret.length(); after++) {
        byte[] cut = utf8("{\"message\": \"Consumer 'api_key:" + secret + "' has been"
            + " suspended. Padding follows.".repeat(3).substring(0, Math.min(after, 90)));
        String kept = new String(scrubber.scrubTruncated(cut), StandardCharsets.UTF_8);
        assertThat(kept).as("id of %d, %d bytes after the key", idLength, after)
            .doesNotContain(secret.substring(0, 12));
      }
    }
  }

  @Test
  void theAttemptsKeyIsFoundEvenWhenItLeftThePool() {
    SecretScrubber pool = SecretScrubber.of(List.of(ONE));
    assertThat(pool.including(ONE)).isSameAs(pool);
    SecretScrubber withThree = pool.including(THREE);
    assertThat(withThree.scrub(ONE.secret() + " " + THREE.secret())).isEqualTo("k1 k3");
    assertThat(withThree.toString()).doesNotContain(ONE.secret()).doesNotContain(THREE.secret());
  }

  @Test
  void noOtherCodeCanReplaceThePoolsScrubber() {
    try (GeminiKeyRotator rotator = GeminiKeyRotator.builder().key(ONE).build()) {
      assertThatThrownBy(() -> SecretScrubber.installPoolScrubbers(
          g -> SecretScrubber.of(List.of())))
          .isInstanceOf(IllegalStateException.class);
      assertThat(SecretScrubber.ofPool(rotator).scrub(ONE.secret())).isEqualTo("k1");
    }
  }

  @Test
  void rotatorsScrubberFollowsKeysAddedAndRemovedAtRuntime() {
    try (GeminiKeyRotator rotator = GeminiKeyRotator.builder().key(ONE).build()) {
      SecretScrubber first = SecretScrubber.ofPool(rotator);
      assertThat(SecretScrubber.ofPool(rotator)).as("shared until the pool changes")
          .isSameAs(first);
      assertThat(first.scrub(TWO.secret())).isEqualTo(TWO.secret());

      rotator.addKey(TWO);
      assertThat(SecretScrubber.ofPool(rotator).scrub(ONE.secret() + TWO.secret()))
          .isEqualTo("k1k2");

      rotator.removeKey("k1");
      assertThat(SecretScrubber.ofPool(rotator).scrub(ONE.secret())).isEqualTo(ONE.secret());
      assertThat(SecretScrubber.forAttempt(rotator, ONE).scrub(ONE.secret() + TWO.secret()))
          .as("the attempt's own key, removed meanwhile").isEqualTo("k1k2");
    }
  }

  @Test
  void aHundredThousandKeyPoolFindsEachOfItsKeys() {
    List<ApiKey> keys = new ArrayList<>();
    for (int i = 0; i < 100_000; i++) keys.add(ApiKey.of("key-" + i, RealLookingKeys.key(i)));
    SecretScrubber scrubber = SecretScrubber.of(keys);
    StringBuilder body = new StringBuilder();
    for (int i = 0; i < 100_000; i += 9_973) {
      body.append("x").append(keys.get(i).secret());
    }
    String scrubbed = scrubber.scrub(body.toString());
    StringBuilder expected = new StringBuilder();
    for (int i = 0; i < 100_000; i += 9_973) expected.append("xkey-").append(i);
    assertThat(scrubbed).isEqualTo(expected.toString());
  }
}
