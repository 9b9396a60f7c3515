package dev.geminirotator.api;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
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
}
