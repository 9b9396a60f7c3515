package dev.geminirotator.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.core.rotation.Strategy;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ConfigNodeTest {

  private static Map<String, Object> map(Object... pairs) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < pairs.length; i += 2) m.put((String) pairs[i], pairs[i + 1]);
    return m;
  }

  private static List<String> finishErrors(ConfigNode root) {
    try {
      root.finish();
      return List.of();
    } catch (ConfigException e) {
      return e.errors();
    }
  }

  @Test
  void envNameDerivesFromThePath() {
    assertThat(ConfigNode.envName("health.threshold")).isEqualTo("GEMINI_ROTATOR_HEALTH_THRESHOLD");
    assertThat(ConfigNode.envName("cooldown.backoff-base"))
        .isEqualTo("GEMINI_ROTATOR_COOLDOWN_BACKOFF_BASE");
    assertThat(ConfigNode.envName("storage")).isEqualTo("GEMINI_ROTATOR_STORAGE");
  }

  @Test
  void precedenceIsDefaultThenFileThenEnvironment() {
    ConfigNode root = ConfigNode.of(map("a", map("x", "1", "y", "2")),
        Map.of("GEMINI_ROTATOR_A_Y", "3", "GEMINI_ROTATOR_A_Z", "4"));
    ConfigNode a = root.child("a");

    assertThat(a.integer("w", 0)).isZero();
    assertThat(a.integer("x", 0)).isEqualTo(1);
    assertThat(a.integer("y", 0)).isEqualTo(3);
    assertThat(a.integer("z", 0)).isEqualTo(4);
    assertThat(finishErrors(root)).isEmpty();
  }

  @Test
  void overridesReachSectionsAbsentFromTheFile() {
    ConfigNode root = ConfigNode.of(null, Map.of("GEMINI_ROTATOR_SERVER_TLS_ENABLED", "true"));

    assertThat(root.child("server").child("tls").bool("enabled", false)).isTrue();
  }

  @Test
  void gettersParseEachType() {
    ConfigNode root = ConfigNode.of(map(
        "s", "text", "i", "-7", "d", ".5", "b", "FALSE", "t", "45.8s", "iso", "PT2M",
        "e", "Power_Of_Two", "l", List.of("a", "b"), "lc", "a, b,,c", "m", map("k", "v")),
        Map.of());

    assertThat(root.string("s", null)).isEqualTo("text");
    assertThat(root.integer("i", 0)).isEqualTo(-7);
    assertThat(root.decimal("d", 0.0)).isEqualTo(0.5);
    assertThat(root.bool("b", true)).isFalse();
    assertThat(root.duration("t", null)).isEqualTo(Duration.ofMillis(45_800));
    assertThat(root.duration("iso", null)).isEqualTo(Duration.ofMinutes(2));
    assertThat(root.enumValue("e", Strategy.class, null)).isEqualTo(Strategy.POWER_OF_TWO);
    assertThat(root.stringList("l", List.of())).containsExactly("a", "b");
    assertThat(root.stringList("lc", List.of())).containsExactly("a", "b", "c");
    assertThat(root.stringMap("m")).isEqualTo(Map.of("k", "v"));
    assertThat(finishErrors(root)).isEmpty();
  }

  @Test
  void listAndMapOverridesAreCommaSeparated() {
    ConfigNode root = ConfigNode.of(map("origins", List.of("a")), Map.of(
        "GEMINI_ROTATOR_ORIGINS", "x, y", "GEMINI_ROTATOR_TAGS", "a=1, b = 2"));

    assertThat(root.stringList("origins", List.of())).containsExactly("x", "y");
    assertThat(root.stringMap("tags")).containsExactly(Map.entry("a", "1"), Map.entry("b", "2"));
    assertThat(finishErrors(root)).isEmpty();
  }

  @Test
  void badValueReturnsTheDefaultAndIsReportedAtFinish() {
    ConfigNode root = ConfigNode.of(map("port", "http", "mode", "fast"), Map.of());

    assertThat(root.integer("port", 80)).isEqualTo(80);
    assertThat(root.enumValue("mode", Strategy.class, Strategy.WEIGHTED))
        .isEqualTo(Strategy.WEIGHTED);
    assertThat(finishErrors(root)).containsExactly(
        "port must be an integer but was 'http'",
        "mode must be one of round-robin, weighted, power-of-two but was 'fast'");
  }

  @Test
  void setterErrorsArePrefixedWithTheParentPath() {
    ConfigNode root = ConfigNode.of(map("keys", List.of(map("weight", "0"))), Map.of());
    ConfigNode entry = root.list("keys").get(0);

    entry.integer("weight", 1, w -> {
      if (w < 1) throw new IllegalArgumentException("weight must be >= 1 but was " + w);
    });
    entry.check(() -> {
      throw new IllegalArgumentException("labels must not have a blank name");
    });

    assertThat(finishErrors(root)).containsExactly(
        "keys[0].weight must be >= 1 but was 0",
        "keys[0].labels must not have a blank name");
  }

  @Test
  void buildIsSkippedWhenAFieldOfTheSectionFailed() {
    ConfigNode root = ConfigNode.of(map("s", map("n", "x")), Map.of());
    ConfigNode s = root.child("s");
    s.integer("n", 1);

    String built = s.build(() -> "built", "fallback");

    assertThat(built).isEqualTo("fallback");
    assertThat(finishErrors(root)).containsExactly("s.n must be an integer but was 'x'");
  }

  @Test
  void unknownFieldsAreFoundAtEveryDepthWithSuggestions() {
    ConfigNode root = ConfigNode.of(map(
        "helth", map(),
        "health", map("threshold", "0.5", "treshold", "0.4"),
        "keys", List.of(map("secret", "abc", "wieght", "2"))), Map.of());

    root.child("health").decimal("threshold", 0.5);
    ConfigNode entry = root.list("keys").get(0);
    entry.secret("secret");
    entry.integer("weight", 1);

    assertThat(finishErrors(root)).containsExactly(
        "unknown field 'helth' at the top level (did you mean 'health'?)",
        "unknown field 'treshold' at health (did you mean 'threshold'?)",
        "unknown field 'wieght' at keys[0] (did you mean 'weight'?)");
  }

  @Test
  void fieldsOfAnUnknownSectionAreNotReportedSeparately() {
    ConfigNode root = ConfigNode.of(map("extra", map("a", "1", "b", "2")), Map.of());
    root.string("known", null);

    assertThat(finishErrors(root)).containsExactly(
        "unknown field 'extra' at the top level (known fields: known)");
  }

  @Test
  void closestNameIgnoresCaseDashesAndUnderscores() {
    Set<String> known = Set.of("backoff-base", "backoff-max", "jitter");

    assertThat(ConfigNode.closest("BACKOFF_BASE", known)).isEqualTo("backoff-base");
    assertThat(ConfigNode.closest("backofmax", known)).isEqualTo("backoff-max");
    assertThat(ConfigNode.closest("jiter", known)).isEqualTo("jitter");
    assertThat(ConfigNode.closest("colour", known)).isNull();
  }

  @Test
  void hasAndNamesDoNotConsume() {
    ConfigNode root = ConfigNode.of(map("alpha", "1", "beta", null),
        Map.of("GEMINI_ROTATOR_GAMMA", "x"));

    assertThat(root.names()).containsExactly("alpha", "beta");
    assertThat(root.has("alpha")).isTrue();
    assertThat(root.has("beta")).isFalse();
    assertThat(root.has("gamma")).isTrue();
    root.string("alpha", null);

    assertThat(finishErrors(root)).containsExactly(
        "unknown field 'beta' at the top level (known fields: alpha, gamma)");
  }

  @Test
  void describeRecordsEachGetterWithDefaultAndEnvironmentName() {
    ConfigNode d = ConfigNode.describe();
    ConfigNode server = d.child("server");
    server.integer("port", 8080);
    server.duration("idle-timeout", Duration.ofSeconds(30));
    server.secret("token");
    server.stringList("origins", List.of("a", "b"));
    ConfigNode entry = d.list("clients").get(0);
    entry.string("name", null);
    d.enumValue("strategy", Strategy.class, Strategy.ROUND_ROBIN);

    assertThat(d.fields()).containsExactly(
        new FieldDoc("server.port", "integer", "8080", "GEMINI_ROTATOR_SERVER_PORT"),
        new FieldDoc("server.idle-timeout", "duration", "30s",
            "GEMINI_ROTATOR_SERVER_IDLE_TIMEOUT"),
        new FieldDoc("server.token", "secret", null, "GEMINI_ROTATOR_SERVER_TOKEN"),
        new FieldDoc("server.origins", "list of strings", "a,b", "GEMINI_ROTATOR_SERVER_ORIGINS"),
        new FieldDoc("clients", "list", null, "GEMINI_ROTATOR_CLIENTS"),
        new FieldDoc("clients[].name", "string", null, null),
        new FieldDoc("strategy", "one of round-robin, weighted, power-of-two", "round-robin",
            "GEMINI_ROTATOR_STRATEGY"));
    d.finish();
  }

  @Test
  void onlyTheRootFinishes() {
    ConfigNode root = ConfigNode.of(null, Map.of());

    assertThatThrownBy(() -> root.child("a").finish())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("finish() belongs to the root node, not a");
  }

  @Test
  void nonMapTreeIsAnError() {
    assertThat(finishErrors(ConfigNode.of(List.of("a"), Map.of()))).containsExactly(
        "the top level must be a map of fields but was a list");
  }

  @Test
  void nonStringScalarsFromOtherParsersAreReadAsText() {
    ConfigNode root = ConfigNode.of(map("n", 5, "b", true, "d", 0.25), Map.of());

    assertThat(root.integer("n", 0)).isEqualTo(5);
    assertThat(root.bool("b", false)).isTrue();
    assertThat(root.decimal("d", 0.0)).isEqualTo(0.25);
  }
}
