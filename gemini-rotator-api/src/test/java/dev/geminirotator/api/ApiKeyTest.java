package dev.geminirotator.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ApiKeyTest {

  private static final String SECRET = "AIzaSyA-very-secret-key-material-9x9Qw";

  @Test
  void toStringShowsIdAndMaskNeverTheSecret() {
    ApiKey key = ApiKey.builder(SECRET).id("team-a").weight(3).project("proj-1")
        .requestsPerMinute(10).requestsPerDay(500).build();
    assertThat(key.toString()).isEqualTo(
        "ApiKey{id=team-a, secret=AIza…x9Qw"
            + ", weight=3, labels={project=proj-1}, rpm=10, rpd=500}");
    assertThat(key.toString()).doesNotContain(SECRET).doesNotContain("very-secret");
  }

  @Test
  void shortSecretsAreMaskedCompletely() {
    assertThat(ApiKey.mask("k1")).isEqualTo("****");
    assertThat(ApiKey.mask("fifteen-chars-x")).isEqualTo("****");
    assertThat(ApiKey.of("k1").toString()).doesNotContain("k1,").contains("secret=****");
  }

  @Test
  void derivedIdIsStableAndDoesNotContainTheSecret() {
    ApiKey one = ApiKey.of(SECRET);
    ApiKey two = ApiKey.of(SECRET);
    assertThat(one.id()).isEqualTo(two.id()).matches("key-[0-9a-f]{12}").doesNotContain("AIza");
    assertThat(ApiKey.of(SECRET + "x").id()).isNotEqualTo(one.id());
  }

  @Test
  void projectDefaultsToAPrivateOneNamedAfterTheKey() {
    assertThat(ApiKey.of("a", SECRET).project()).isEqualTo("key:a");
    assertThat(ApiKey.builder(SECRET).id("a").project("p").build().project()).isEqualTo("p");
  }

  @Test
  void buildersRejectBadValuesWithMessagesNamingTheField() {
    assertThatThrownBy(() -> ApiKey.builder(SECRET).weight(0))
        .hasMessage("weight must be >= 1 and <= 1000 but was 0");
    assertThatThrownBy(() -> ApiKey.builder(SECRET).requestsPerMinute(0))
        .hasMessage("rpm must be >= 1 but was 0");
    assertThatThrownBy(() -> ApiKey.builder(SECRET).requestsPerDay(-5))
        .hasMessage("rpd must be >= 1 but was -5");
    assertThatThrownBy(() -> ApiKey.builder(SECRET).id("has space"))
        .hasMessage("id must be 1-128 characters of letters, digits and . _ : @ - but was 'has space'");
    assertThatThrownBy(() -> ApiKey.builder(" ")).hasMessage("secret must not be blank");
    assertThatThrownBy(() -> ApiKey.builder("abc def"))
        .hasMessage("secret must not contain whitespace or control characters (at index 3)");
    assertThatThrownBy(() -> ApiKey.builder(SECRET).id(SECRET))
        .hasMessage("id must not be the secret itself");
    assertThatThrownBy(() -> ApiKey.builder(SECRET).project(" "))
        .hasMessage("project must not be blank");
  }

  @Test
  void labelsAreImmutableAndEqualityIsById() {
    ApiKey key = ApiKey.builder(SECRET).id("x").labels(Map.of("team", "a")).build();
    assertThatThrownBy(() -> key.labels().put("b", "c")).isInstanceOf(UnsupportedOperationException.class);
    assertThat(key).isEqualTo(ApiKey.builder("other-secret-0000000").id("x").build());
    assertThat(key.toBuilder().weight(7).build().weight()).isEqualTo(7);
  }

  @Test
  void aDerivedIdIsNotTheUnsaltedSha256PrefixThatWouldConfirmAGuessedKey() throws Exception {
    // the old derivation: anyone holding a guessed key could compute it and compare with /metrics
    byte[] digest = MessageDigest.getInstance("SHA-256")
        .digest(SECRET.getBytes(StandardCharsets.UTF_8));
    String unsalted = "key-" + HexFormat.of().formatHex(digest, 0, 6);
    assertThat(ApiKey.of(SECRET).id()).matches("key-[0-9a-f]{12}").isNotEqualTo(unsalted);
    assertThat(ApiKey.builder(SECRET).idSalt("s1").build().id()).isNotEqualTo(unsalted);
  }

  @Test
  void aSaltGivesOneIdPerSecretAndAnotherSaltAnother() {
    ApiKey one = ApiKey.builder(SECRET).idSalt("salt-one").build();
    assertThat(ApiKey.builder(SECRET).idSalt("salt-one").build().id()).isEqualTo(one.id());
    assertThat(ApiKey.builder(SECRET).idSalt("salt-two").build().id()).isNotEqualTo(one.id());
    assertThat(ApiKey.of(SECRET).withIdSalt("salt-one").id()).isEqualTo(one.id());
    assertThat(one.hasDerivedId()).isTrue();
    // the salt travels with the key, and is never shown
    assertThat(one.toBuilder().weight(2).build().id()).isEqualTo(one.id());
    assertThat(one.toString()).doesNotContain("salt-one");
    assertThatThrownBy(() -> ApiKey.builder(SECRET).idSalt(" "))
        .hasMessage("idSalt must not be blank");
  }

  @Test
  void anExplicitIdStaysAsGivenWhateverTheSalt() {
    ApiKey key = ApiKey.builder(SECRET).id("team-a").build();
    assertThat(key.hasDerivedId()).isFalse();
    assertThat(key.withIdSalt("any-salt")).isSameAs(key);
    assertThat(ApiKey.builder(SECRET).idSalt("x").id("team-a").build().id()).isEqualTo("team-a");
  }

  @Test
  void twoProcessesWithoutASharedSaltDeriveDifferentIds() throws Exception {
    assertThat(idInAnotherProcess()).matches("key-[0-9a-f]{12}")
        .isNotEqualTo(idInAnotherProcess()).isNotEqualTo(ApiKey.of(SECRET).id());
  }

  /** Runs {@link PrintDerivedId} in a fresh JVM and returns what it prints. */
  private static String idInAnotherProcess() throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process p = new ProcessBuilder(java.toString(), "-cp", System.getProperty("java.class.path"),
        PrintDerivedId.class.getName(), SECRET).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    assertThat(p.waitFor(60, TimeUnit.SECONDS)).isTrue();
    assertThat(p.exitValue()).as(out).isZero();
    return out;
  }

  /** Prints the id this process derives for the secret in its first argument. */
  static final class PrintDerivedId {
    public static void main(String[] args) {
      System.out.println(ApiKey.of(args[0]).id());
    }
  }
}
