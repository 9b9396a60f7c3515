package dev.geminirotator.config;

import dev.geminirotator.core.config.RotatorConfig;
import dev.geminirotator.core.affinity.AffinityPolicy;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.guard.BreakerPolicy;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.health.HealthPolicy;
import dev.geminirotator.core.rotation.CooldownPolicy;
import dev.geminirotator.core.rotation.StormPolicy;
import dev.geminirotator.core.rotation.Strategy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZoneId;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalInt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ConfigLoaderTest {

  static final String KEY_A = "AIzaSyA-aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
  static final String KEY_B = "AIzaSyB-bbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";
  static final String KEY_C = "AIzaSyC-cccccccccccccccccccccccccccccc";
  static final String KEY_D = "AIzaSyD-dddddddddddddddddddddddddddddd";

  @TempDir
  Path dir;

  static ConfigLoader loader(String... pairs) {
    Map<String, String> env = new HashMap<>();
    for (int i = 0; i < pairs.length; i += 2) env.put(pairs[i], pairs[i + 1]);
    return ConfigLoader.builder().env(env).build();
  }

  static List<String> errors(Runnable load) {
    ConfigException e = catchThrowableOfType(ConfigException.class, load::run);
    assertThat(e).as("expected a ConfigException").isNotNull();
    return e.errors();
  }

  static List<String> ids(RotatorConfig config) {
    return config.keys().stream().map(ApiKey::id).toList();
  }

  static List<String> secrets(RotatorConfig config) {
    return config.keys().stream().map(ApiKey::secret).toList();
  }

  @Test
  void fullExampleLoadsEverySection() throws Exception {
    Files.writeString(dir.resolve("keys.txt"), KEY_D + "\n");
    String yaml = """
        keys:
          - %s
          - secret: ${GEMINI_KEY_B}
            id: team-b
            weight: 3
            project: proj-b
            labels: {tier: paid}
            rpm: 60
            rpd: 1000
          - env: GEMINI_POOL_KEYS
            project: proj-c
          - file: keys.txt
            weight: 2
        strategy: weighted
        health:
          alpha: 0.2
          threshold: 0.4
          recovered-score: 0.8
          cooldown-base: 20s
          cooldown-max: 15m
          jitter: 0.1
        cooldown:
          minimum: 2s
          maximum: 26h
          backoff-base: 5s
          backoff-max: 4m
          jitter: 0.3
          daily-reset-zone: UTC
        storm:
          window: 30s
          fraction: 0.6
          min-keys: 4
        attempts:
          max-attempts: 6
          backoff-base: 100ms
          backoff-max: 1.5s
          jitter: 0.5
          retry-upstream-errors: false
          max-discovery-attempts: 3
        affinity:
          enabled: false
          max-pins: 5000
          max-not-found: 200
          not-found-for: 1m
          renew-every: 10m
        breaker:
          enabled: false
          failure-rate-threshold: 70
          minimum-calls: 10
          sliding-window-size: 40
          wait-in-open: 1m
          permitted-calls-in-half-open: 5
          per-model: true
        storage: "memory:"
        """.formatted(KEY_A);

    RotatorConfig config = loader("GEMINI_KEY_B", KEY_B, "GEMINI_POOL_KEYS", KEY_C)
        .loadString(yaml, dir);

    assertThat(secrets(config)).containsExactly(KEY_A, KEY_B, KEY_C, KEY_D);
    ApiKey b = config.keys().get(1);
    assertThat(b.id()).isEqualTo("team-b");
    assertThat(b.weight()).isEqualTo(3);
    assertThat(b.labels()).isEqualTo(Map.of("tier", "paid", "project", "proj-b"));
    assertThat(b.requestsPerMinute()).isEqualTo(OptionalInt.of(60));
    assertThat(b.requestsPerDay()).isEqualTo(OptionalInt.of(1000));
    assertThat(config.keys().get(2).project()).isEqualTo("proj-c");
    assertThat(config.keys().get(3).weight()).isEqualTo(2);
    assertThat(config.keys().get(0).weight()).isEqualTo(1);

    assertThat(config.strategy()).isEqualTo(Strategy.WEIGHTED);
    HealthPolicy h = config.health();
    assertThat(List.of(h.alpha(), h.threshold(), h.recoveredScore(), h.jitter()))
        .containsExactly(0.2, 0.4, 0.8, 0.1);
    assertThat(h.cooldownBase()).isEqualTo(Duration.ofSeconds(20));
    assertThat(h.cooldownMax()).isEqualTo(Duration.ofMinutes(15));
    CooldownPolicy c = config.cooldown();
    assertThat(List.of(c.minimum(), c.maximum(), c.backoffBase(), c.backoffMax())).containsExactly(
        Duration.ofSeconds(2), Duration.ofHours(26), Duration.ofSeconds(5), Duration.ofMinutes(4));
    assertThat(c.jitter()).isEqualTo(0.3);
    assertThat(c.dailyResetZone()).isEqualTo(ZoneId.of("UTC"));
    StormPolicy s = config.storm();
    assertThat(s.window()).isEqualTo(Duration.ofSeconds(30));
    assertThat(s.fraction()).isEqualTo(0.6);
    assertThat(s.minKeys()).isEqualTo(4);
    AttemptPolicy a = config.attempts();
    assertThat(a.maxAttempts()).isEqualTo(6);
    assertThat(a.backoffBase()).isEqualTo(Duration.ofMillis(100));
    assertThat(a.backoffMax()).isEqualTo(Duration.ofMillis(1500));
    assertThat(a.jitter()).isEqualTo(0.5);
    assertThat(a.retryUpstreamErrors()).isFalse();
    assertThat(a.maxDiscoveryAttempts()).isEqualTo(3);
    AffinityPolicy af = config.affinity();
    assertThat(af.enabled()).isFalse();
    assertThat(af.maxPins()).isEqualTo(5000);
    assertThat(af.maxNotFound()).isEqualTo(200);
    assertThat(af.notFoundFor()).isEqualTo(Duration.ofMinutes(1));
    assertThat(af.renewEvery()).isEqualTo(Duration.ofMinutes(10));
    BreakerPolicy br = config.breaker();
    assertThat(br.enabled()).isFalse();
    assertThat(br.failureRateThreshold()).isEqualTo(70.0);
    assertThat(br.minimumCalls()).isEqualTo(10);
    assertThat(br.slidingWindowSize()).isEqualTo(40);
    assertThat(br.waitInOpen()).isEqualTo(Duration.ofMinutes(1));
    assertThat(br.permittedCallsInHalfOpen()).isEqualTo(5);
    assertThat(br.perModel()).isTrue();
    assertThat(config.storage()).isEqualTo("memory:");
  }

  @Test
  void absentSectionsTakeTheDocumentedDefaults() {
    RotatorConfig config = loader().loadString("keys: [" + KEY_A + "]", dir);

    assertThat(config.strategy()).isEqualTo(RotatorConfig.DEFAULT_STRATEGY);
    assertThat(config.storage()).isEqualTo(RotatorConfig.DEFAULT_STORAGE);
    assertThat(config.health().toString()).isEqualTo(HealthPolicy.defaults().toString());
    assertThat(config.cooldown().toString()).isEqualTo(CooldownPolicy.defaults().toString());
    assertThat(config.storm().toString()).isEqualTo(StormPolicy.defaults().toString());
    assertThat(config.attempts().toString()).isEqualTo(AttemptPolicy.defaults().toString());
    assertThat(config.breaker().toString()).isEqualTo(BreakerPolicy.defaults().toString());
    assertThat(config.affinity()).isEqualTo(AffinityPolicy.defaults());
    assertThat(config.affinity().enabled()).isTrue();
    assertThat(config.attempts().maxAttempts()).isEqualTo(4);
    assertThat(config.attempts().maxDiscoveryAttempts()).isEqualTo(8);
    assertThat(config.breaker().failureRateThreshold()).isEqualTo(50.0);
  }

  @Test
  void aFieldWithNoValueTakesItsDefault() {
    RotatorConfig config = loader().loadString("""
        keys: [%s]
        health:
          threshold:
        storm: ~
        """.formatted(KEY_A), dir);

    assertThat(config.health().threshold()).isEqualTo(HealthPolicy.DEFAULT_THRESHOLD);
    assertThat(config.storm().window()).isEqualTo(StormPolicy.DEFAULT_WINDOW);
  }

  // ---------------------------------------------------------------------------------------------
  // Placeholders

  @Test
  void placeholderIsReplacedByTheVariable() {
    RotatorConfig config = loader("PROJECT", "proj-env", "GEMINI_KEY_A", KEY_A)
        .loadString("""
            keys:
              - secret: ${GEMINI_KEY_A}
                project: ${PROJECT}
            """, dir);

    assertThat(config.keys().get(0).secret()).isEqualTo(KEY_A);
    assertThat(config.keys().get(0).project()).isEqualTo("proj-env");
  }

  @Test
  void placeholderDefaultIsUsedOnlyWhenTheVariableIsUnset() {
    String yaml = """
        keys:
          - secret: %s
            labels: {region: "${REGION:us-east}", url: "https://${HOST}:${PORT:443}/v1"}
        """.formatted(KEY_A);

    RotatorConfig unset = loader("HOST", "h").loadString(yaml, dir);
    RotatorConfig set = loader("HOST", "h", "REGION", "eu-west", "PORT", "8443")
        .loadString(yaml, dir);

    assertThat(unset.keys().get(0).labels())
        .isEqualTo(Map.of("region", "us-east", "url", "https://h:443/v1"));
    assertThat(set.keys().get(0).labels())
        .isEqualTo(Map.of("region", "eu-west", "url", "https://h:8443/v1"));
  }

  @Test
  void missingPlaceholderVariableIsAnErrorNamingPathAndVariable() {
    List<String> errors = errors(() -> loader().loadString("""
        keys:
          - secret: ${GEMINI_KEY_A}
          - secret: %s
            project: ${PROJECT}
        """.formatted(KEY_B), dir));

    assertThat(errors).containsExactly(
        "keys[0].secret: environment variable GEMINI_KEY_A is not set",
        "keys[1].project: environment variable PROJECT is not set");
  }

  @Test
  void doubleDollarEscapesALiteralPlaceholder() {
    RotatorConfig config = loader("AMOUNT", "7").loadString("""
        keys:
          - secret: %s
            labels: {note: "price $${AMOUNT} is $$5, really ${AMOUNT}"}
        """.formatted(KEY_A), dir);

    assertThat(config.keys().get(0).labels().get("note"))
        .isEqualTo("price ${AMOUNT} is $$5, really 7");
  }

  @Test
  void malformedPlaceholdersAreErrors() {
    List<String> errors = errors(() -> loader().loadString("""
        keys:
          - secret: %s
            labels: {a: "${OOPS", b: "${not valid}"}
        """.formatted(KEY_A), dir));

    assertThat(errors).containsExactly(
        "keys[0].labels.a: unterminated placeholder in '${OOPS'; close it with } or write $${ for"
            + " a literal ${",
        "keys[0].labels.b: placeholder ${not valid} does not name an environment variable;"
            + " write ${NAME} or ${NAME:default}");
  }

  // ---------------------------------------------------------------------------------------------
  // Environment overrides

  @Test
  void environmentOverrideBeatsTheFileForNestedFields() {
    RotatorConfig config = loader(
        "GEMINI_ROTATOR_HEALTH_THRESHOLD", "0.6",
        "GEMINI_ROTATOR_COOLDOWN_BACKOFF_BASE", "30s",
        "GEMINI_ROTATOR_BREAKER_PER_MODEL", "TRUE",
        "GEMINI_ROTATOR_STRATEGY", "power_of_two")
        .loadString("""
            keys: [%s]
            strategy: weighted
            health:
              threshold: 0.3
              alpha: 0.2
            """.formatted(KEY_A), dir);

    assertThat(config.health().threshold()).isEqualTo(0.6);
    assertThat(config.health().alpha()).isEqualTo(0.2);
    assertThat(config.cooldown().backoffBase()).isEqualTo(Duration.ofSeconds(30));
    assertThat(config.breaker().perModel()).isTrue();
    assertThat(config.strategy()).isEqualTo(Strategy.POWER_OF_TWO);
  }

  @Test
  void blankEnvironmentOverrideCountsAsUnset() {
    RotatorConfig config = loader("GEMINI_ROTATOR_HEALTH_THRESHOLD", "  ")
        .loadString("keys: [" + KEY_A + "]\nhealth: {threshold: 0.3}", dir);

    assertThat(config.health().threshold()).isEqualTo(0.3);
  }

  @Test
  void badEnvironmentOverrideNamesTheVariable() {
    List<String> errors = errors(() -> loader(
        "GEMINI_ROTATOR_HEALTH_THRESHOLD", "1.5",
        "GEMINI_ROTATOR_STORM_WINDOW", "soon")
        .loadString("keys: [" + KEY_A + "]\nhealth: {threshold: 0.3}", dir));

    assertThat(errors).containsExactly(
        "health.threshold must be >= 0.0 and <= 1.0 but was 1.5"
            + " (from GEMINI_ROTATOR_HEALTH_THRESHOLD)",
        "storm.window is not a duration: use a number with ms, s, m, h or d (250ms, 45.8s, 5m)"
            + " or ISO-8601 (PT30S) but was 'soon' (from GEMINI_ROTATOR_STORM_WINDOW)");
  }

  @Test
  void environmentValuesAreTakenLiterally() {
    RotatorConfig config = loader(ConfigLoader.KEYS_ENV, "AIzaSy${NOT_A_PLACEHOLDER}xxxxxxxx")
        .fromEnvironment();

    assertThat(secrets(config)).containsExactly("AIzaSy${NOT_A_PLACEHOLDER}xxxxxxxx");
  }

  // ---------------------------------------------------------------------------------------------
  // Keys

  @Test
  void geminiApiKeysReplacesTheFileKeys() {
    RotatorConfig config = loader(ConfigLoader.KEYS_ENV, " " + KEY_C + " ,, " + KEY_D + ",")
        .loadString("""
            keys:
              - %s
              - secret: ${UNSET_VARIABLE_IS_NOT_READ}
            """.formatted(KEY_A), dir);

    assertThat(secrets(config)).containsExactly(KEY_C, KEY_D);
  }

  @Test
  void fromEnvironmentNeedsNoFile() {
    RotatorConfig config = loader(ConfigLoader.KEYS_ENV, KEY_A + "," + KEY_B,
        "GEMINI_ROTATOR_ATTEMPTS_MAX_ATTEMPTS", "7").fromEnvironment();

    assertThat(secrets(config)).containsExactly(KEY_A, KEY_B);
    assertThat(config.attempts().maxAttempts()).isEqualTo(7);
  }

  @Test
  void keysFileIgnoresBlankLinesAndCommentsAndResolvesAgainstTheConfigDirectory()
      throws Exception {
    Path conf = Files.createDirectories(dir.resolve("conf"));
    Files.createDirectories(conf.resolve("secrets"));
    Files.writeString(conf.resolve("secrets/keys.txt"), "\uFEFF# pool A\n"
        + KEY_A + "\n"
        + "\n"
        + "   " + KEY_B + "   # the second one\n"
        + "\t# indented comment\n"
        + KEY_C + "\r\n");
    Path config = conf.resolve("rotator.yaml");
    Files.writeString(config, """
        keys:
          - file: secrets/keys.txt
            weight: 2
            project: proj-f
        """);

    RotatorConfig loaded = loader().load(config);

    assertThat(secrets(loaded)).containsExactly(KEY_A, KEY_B, KEY_C);
    assertThat(loaded.keys()).allSatisfy(k -> {
      assertThat(k.weight()).isEqualTo(2);
      assertThat(k.project()).isEqualTo("proj-f");
    });
  }

  @Test
  void keysFileMayBeAbsolute() throws Exception {
    Path keys = Files.writeString(dir.resolve("abs.txt"), KEY_A + "\n");

    RotatorConfig config = loader().loadString("keys: [{file: \"" + keys + "\"}]", null);

    assertThat(secrets(config)).containsExactly(KEY_A);
  }

  @Test
  void missingKeysFileIsAnError() {
    Path missing = dir.resolve("missing.txt");

    List<String> errors = errors(() -> loader().loadString("keys: [{file: missing.txt}]", dir));

    assertThat(errors).containsExactly(
        "keys[0].file: cannot read " + missing + " (no such file)");
  }

  @Test
  void envEntryReadsACommaSeparatedVariableWithSharedAttributes() {
    RotatorConfig config = loader("POOL", KEY_A + ", " + KEY_B)
        .loadString("keys: [{env: POOL, weight: 5, rpm: 10, labels: {team: x}}]", dir);

    assertThat(secrets(config)).containsExactly(KEY_A, KEY_B);
    assertThat(config.keys()).allSatisfy(k -> {
      assertThat(k.weight()).isEqualTo(5);
      assertThat(k.requestsPerMinute()).isEqualTo(OptionalInt.of(10));
      assertThat(k.labels()).isEqualTo(Map.of("team", "x"));
    });
  }

  @Test
  void derivedIdsAreStableAndExplicitIdsKept() {
    RotatorConfig config = loader().loadString(
        "keys: [" + KEY_A + ", {secret: " + KEY_B + ", id: bee}]", dir);

    assertThat(ids(config)).containsExactly(ApiKey.of(KEY_A).id(), "bee");
  }

  @Test
  void duplicateSecretsAndIdsNameThePositions() throws Exception {
    Files.writeString(dir.resolve("keys.txt"), "# header\n" + KEY_A + "\n");
    List<String> errors = errors(() -> loader("POOL", KEY_B + "," + KEY_A).loadString("""
        keys:
          - %s
          - secret: %s
            id: same
          - secret: %s
            id: same
          - %s
          - env: POOL
          - file: keys.txt
        """.formatted(KEY_A, KEY_B, KEY_C, KEY_A), dir));

    assertThat(errors).containsExactly(
        "keys[2] duplicates keys[1] (same id 'same'; give each key its own id)",
        "keys[3] duplicates keys[0] (same secret)",
        "keys[4] (POOL item 1) duplicates keys[1] (same secret)",
        "keys[4] (POOL item 2) duplicates keys[0] (same secret)",
        "keys[5] (keys.txt line 2) duplicates keys[0] (same secret)");
  }

  @Test
  void duplicatesInGeminiApiKeysNameTheVariable() {
    List<String> errors = errors(() -> loader(ConfigLoader.KEYS_ENV, KEY_A + "," + KEY_B + ","
        + KEY_A).fromEnvironment());

    assertThat(errors).containsExactly(
        "keys[2] duplicates keys[0] (same secret) (from GEMINI_API_KEYS)");
  }

  @Test
  void noKeysAtAllIsAnError() {
    List<String> errors = errors(() -> loader().loadString("strategy: weighted", dir));

    assertThat(errors).containsExactly(
        "no keys configured: set GEMINI_API_KEYS or add keys to the config file");
  }

  @Test
  void emptyFileMeansAllDefaults() throws Exception {
    Path empty = Files.writeString(dir.resolve("empty.yaml"), "");
    Path comments = Files.writeString(dir.resolve("comments.yaml"), "# nothing here\n\n");
    ConfigLoader withKeys = loader(ConfigLoader.KEYS_ENV, KEY_A);

    RotatorConfig fromEmpty = withKeys.load(empty);
    RotatorConfig fromComments = withKeys.load(comments);

    assertThat(fromEmpty.toString()).isEqualTo(fromComments.toString());
    assertThat(secrets(fromEmpty)).containsExactly(KEY_A);
    assertThat(fromEmpty.strategy()).isEqualTo(RotatorConfig.DEFAULT_STRATEGY);
    assertThat(errors(() -> loader().load(empty))).containsExactly(
        "no keys configured: set GEMINI_API_KEYS or add keys to the config file");
  }

  // ---------------------------------------------------------------------------------------------
  // YAML problems

  @Test
  void duplicateYamlKeysAreRejectedWithTheirPosition() {
    ConfigException e = catchThrowableOfType(ConfigException.class, () -> loader().loadString("""
        keys: [%s]
        health:
          threshold: 0.4
          threshold: 0.6
        """.formatted(KEY_A), dir));

    assertThat(e.errors()).containsExactly(
        "duplicate key 'threshold' at line 4, column 3: a key may appear only once in a map");
  }

  @Test
  void malformedYamlSaysLineAndColumn() throws Exception {
    Path file = Files.writeString(dir.resolve("bad.yaml"), "keys: [a, b\nstrategy: weighted\n");

    ConfigException e = catchThrowableOfType(ConfigException.class, () -> loader().load(file));

    assertThat(e.errors()).containsExactly("malformed YAML at line 2, column 9: expected ',' or"
        + " ']', but got : (while parsing a flow sequence started at line 1, column 7)");
    assertThat(e.source()).isEqualTo(file.toString());
    assertThat(e.getMessage()).isEqualTo("invalid configuration in " + file + " (1 error):\n"
        + "  - malformed YAML at line 2, column 9: expected ',' or ']', but got : (while parsing a"
        + " flow sequence started at line 1, column 7)");
  }

  @Test
  void unquotedColonAtTheEndOfAValueIsAYamlError() {
    List<String> errors = errors(() -> loader().loadString("storage: memory:\n", dir));

    assertThat(errors).containsExactly(
        "malformed YAML at line 1, column 16: mapping values are not allowed here");
  }

  @Test
  void topLevelMustBeAMap() {
    assertThat(errors(() -> loader().loadString("- a\n- b\n", dir))).containsExactly(
        "the top level must be a map of sections (keys, strategy, health, ...) but was a list");
    assertThat(errors(() -> loader().loadString("just text", dir))).containsExactly(
        "the top level must be a map of sections (keys, strategy, health, ...) but was a single"
            + " value");
  }

  @Test
  void moreThanOneDocumentIsAnError() {
    List<String> errors = errors(() -> loader().loadString("keys: [a]\n---\nkeys: [b]\n", dir));

    assertThat(errors).hasSize(1);
    assertThat(errors.get(0)).startsWith("malformed YAML at line 2, column 1: ");
  }

  @Test
  void unreadableFileIsAnError() {
    Path missing = dir.resolve("nope.yaml");

    ConfigException e = catchThrowableOfType(ConfigException.class, () -> loader().load(missing));

    assertThat(e.getMessage()).isEqualTo("invalid configuration in " + missing
        + " (1 error):\n  - cannot read the config file (no such file)");
  }

  @Test
  void valuesAreTextSoLeadingZerosAndYesSurvive() {
    RotatorConfig config = loader().loadString("""
        keys:
          - secret: %s
            project: 0123
            labels: {enabled: yes, ratio: 1.50}
        """.formatted(KEY_A), dir);

    assertThat(config.keys().get(0).project()).isEqualTo("0123");
    assertThat(config.keys().get(0).labels()).containsEntry("enabled", "yes")
        .containsEntry("ratio", "1.50");
  }

  @Test
  void explicitYamlTagsAreAccepted() {
    RotatorConfig config = loader().loadString(
        "keys: [" + KEY_A + "]\nstorm: {min-keys: !!int 5, fraction: !!float 0.5}", dir);

    assertThat(config.storm().minKeys()).isEqualTo(5);
    assertThat(config.storm().fraction()).isEqualTo(0.5);
  }

  @Test
  void severalErrorsAreReportedTogether() {
    ConfigException e = catchThrowableOfType(ConfigException.class, () -> loader().loadString("""
        keys:
          - %s
          - secret: %s
            weight: 0
        strategy: fastest
        helth: {}
        health:
          threshold: 1.5
        storm:
          window: 10 parsecs
        """.formatted(KEY_A, KEY_B), dir));

    List<String> expected = List.of(
        "keys[1].weight must be >= 1 and <= 1000 but was 0",
        "strategy must be one of round-robin, weighted, power-of-two but was 'fastest'",
        "health.threshold must be >= 0.0 and <= 1.0 but was 1.5",
        "storm.window is not a duration: use a number with ms, s, m, h or d (250ms, 45.8s, 5m)"
            + " or ISO-8601 (PT30S) but was '10 parsecs'",
        "unknown field 'helth' at the top level (did you mean 'health'?)");
    assertThat(e.errors()).containsExactlyElementsOf(expected);
    assertThat(e.getMessage()).isEqualTo("invalid configuration (5 errors):\n  - "
        + String.join("\n  - ", expected));
  }

  // ---------------------------------------------------------------------------------------------
  // Extra sections

  @Test
  void callerReadsItsOwnSectionsBeforeFinishing() {
    ConfigLoader loader = loader("GEMINI_ROTATOR_SERVER_PORT", "9090");
    ConfigNode root = loader.root("""
        keys: [%s]
        server:
          host: 0.0.0.0
          port: 8080
        """.formatted(KEY_A), dir);

    RotatorConfig rotator = loader.readRotator(root);
    ConfigNode server = root.child("server");
    String host = server.string("host", "127.0.0.1");
    int port = server.integer("port", 80);
    root.finish();

    assertThat(secrets(rotator)).containsExactly(KEY_A);
    assertThat(host).isEqualTo("0.0.0.0");
    assertThat(port).isEqualTo(9090);
  }

  @Test
  void extraSectionNobodyReadsIsAnUnknownField() {
    ConfigLoader loader = loader();
    ConfigNode root = loader.root("keys: [" + KEY_A + "]\nserver: {port: 8080}", dir);
    loader.readRotator(root);

    assertThatThrownBy(root::finish).isInstanceOfSatisfying(ConfigException.class, e ->
        assertThat(e.errors()).containsExactly("unknown field 'server' at the top level (known"
            + " fields: keys, strategy, health, cooldown, storm, attempts, affinity, breaker,"
            + " storage, key-id-salt)"));
  }

  @Test
  void errorsOfTheCallersSectionsAreReportedWithTheRotators() {
    ConfigLoader loader = loader();
    ConfigNode root = loader.root("keys: []\nserver: {port: http}", dir);
    loader.readRotator(root);
    root.child("server").integer("port", 80);

    assertThatThrownBy(root::finish).isInstanceOfSatisfying(ConfigException.class, e ->
        assertThat(e.errors()).containsExactly(
            "no keys configured: set GEMINI_API_KEYS or add keys to the config file",
            "server.port must be an integer but was 'http'"));
  }
}
