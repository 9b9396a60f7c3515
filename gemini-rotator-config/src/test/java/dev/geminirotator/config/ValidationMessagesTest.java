package dev.geminirotator.config;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Every message a bad field produces, exactly: each names the path, the value and the fix. */
class ValidationMessagesTest {

  static final String KEY = "AIzaSyV-vvvvvvvvvvvvvvvvvvvvvvvvvvvvvv";
  static final String OTHER = "AIzaSyW-wwwwwwwwwwwwwwwwwwwwwwwwwwwwww";

  @TempDir
  Path dir;

  /** YAML after a valid {@code keys} section, and the one error it must produce. */
  static Stream<Arguments> sections() {
    return Stream.of(
        Arguments.of("strategy: fastest",
            "strategy must be one of round-robin, weighted, power-of-two but was 'fastest'"),
        Arguments.of("health: {threshold: 1.5}",
            "health.threshold must be >= 0.0 and <= 1.0 but was 1.5"),
        Arguments.of("health: {alpha: high}", "health.alpha must be a number but was 'high'"),
        Arguments.of("health: {recovered-score: -0.1}",
            "health.recovered-score must be >= 0.0 and <= 1.0 but was -0.1"),
        Arguments.of("health: {recovered-score: 0.4}",
            "health.recovered-score (0.4) must be >= threshold (0.5), or a recovered key would"
                + " leave at once"),
        Arguments.of("health: {cooldown-base: 0s}", "health.cooldown-base must be > 0 but was 0s"),
        Arguments.of("health: {cooldown-base: 20m}",
            "health.cooldown-base (20m) must not be greater than cooldown-max (10m)"),
        Arguments.of("health: {jitter: 2}", "health.jitter must be >= 0.0 and <= 1.0 but was 2.0"),
        Arguments.of("cooldown: {minimum: PT-1S}", "cooldown.minimum must be >= 0 but was -1s"),
        Arguments.of("cooldown: {maximum: 0ms}", "cooldown.maximum must be > 0 but was 0s"),
        Arguments.of("cooldown: {backoff-base: 10m}",
            "cooldown.backoff-base (10m) must not be greater than backoff-max (5m)"),
        Arguments.of("cooldown: {daily-reset-zone: Mars/Olympus}",
            "cooldown.daily-reset-zone is not a time zone: use a region id such as"
                + " America/Los_Angeles, or UTC but was 'Mars/Olympus'"),
        Arguments.of("storm: {window: 10 parsecs}",
            "storm.window is not a duration: use a number with ms, s, m, h or d (250ms, 45.8s, 5m)"
                + " or ISO-8601 (PT30S) but was '10 parsecs'"),
        Arguments.of("storm: {window: 10}",
            "storm.window is not a duration: use a number with ms, s, m, h or d (250ms, 45.8s, 5m)"
                + " or ISO-8601 (PT30S) but was '10'"),
        Arguments.of("storm: {fraction: 0}",
            "storm.fraction must be >= 0.01 and <= 1.0 but was 0.0"),
        Arguments.of("storm: {min-keys: 1}", "storm.min-keys must be >= 2 but was 1"),
        Arguments.of("storm: {min-keys: 2.5}", "storm.min-keys must be an integer but was '2.5'"),
        Arguments.of("storm: {min-keys: 99999999999}",
            "storm.min-keys must be an integer but was '99999999999'"),
        Arguments.of("attempts: {max-attempts: 0}",
            "attempts.max-attempts must be >= 1 and <= 20 but was 0"),
        Arguments.of("attempts: {max-attempts: 21}",
            "attempts.max-attempts must be >= 1 and <= 20 but was 21"),
        Arguments.of("attempts: {backoff-base: 5s}",
            "attempts.backoff-base (5s) must not be greater than backoff-max (2s)"),
        Arguments.of("attempts: {backoff-base: 0s}",
            "attempts.backoff-base must be > 0 but was 0s"),
        Arguments.of("attempts: {jitter: 1.01}",
            "attempts.jitter must be >= 0.0 and <= 1.0 but was 1.01"),
        Arguments.of("attempts: {retry-upstream-errors: yes}",
            "attempts.retry-upstream-errors must be true or false but was 'yes'"),
        Arguments.of("attempts: {max-discovery-attempts: 0}",
            "attempts.max-discovery-attempts must be >= 1 and <= 32 but was 0"),
        Arguments.of("attempts: {max-discovery-attempts: many}",
            "attempts.max-discovery-attempts must be an integer but was 'many'"),
        Arguments.of("affinity: {enabled: maybe}",
            "affinity.enabled must be true or false but was 'maybe'"),
        Arguments.of("affinity: {max-pins: 0}",
            "affinity.max-pins must be >= 1 and <= 10000000 but was 0"),
        Arguments.of("affinity: {max-not-found: 1000001}",
            "affinity.max-not-found must be >= 1 and <= 1000000 but was 1000001"),
        Arguments.of("affinity: {not-found-for: 0s}",
            "affinity.not-found-for must be > 0 but was 0s"),
        Arguments.of("affinity: {not-found-for: 2h}",
            "affinity.not-found-for must be <= 1h but was 2h"),
        Arguments.of("affinity: {renew-every: PT-1S}",
            "affinity.renew-every must be > 0 but was -1s"),
        Arguments.of("breaker: {enabled: on}", "breaker.enabled must be true or false but was 'on'"),
        Arguments.of("breaker: {failure-rate-threshold: 0}",
            "breaker.failure-rate-threshold must be >= 1.0 and <= 100.0 but was 0.0"),
        Arguments.of("breaker: {failure-rate-threshold: 100.5}",
            "breaker.failure-rate-threshold must be >= 1.0 and <= 100.0 but was 100.5"),
        Arguments.of("breaker: {minimum-calls: 0}",
            "breaker.minimum-calls must be >= 1 but was 0"),
        Arguments.of("breaker: {sliding-window-size: 0}",
            "breaker.sliding-window-size must be >= 1 and <= 100000 but was 0"),
        Arguments.of("breaker: {sliding-window-size: 100001}",
            "breaker.sliding-window-size must be >= 1 and <= 100000 but was 100001"),
        Arguments.of("breaker: {minimum-calls: 60}",
            "breaker.minimum-calls (60) must not be greater than sliding-window-size (50), or the"
                + " breaker could never open"),
        Arguments.of("breaker: {wait-in-open: 0s}", "breaker.wait-in-open must be >= 1ms but was 0s"),
        Arguments.of("breaker: {permitted-calls-in-half-open: 0}",
            "breaker.permitted-calls-in-half-open must be >= 1 but was 0"),
        Arguments.of("storage: localhost",
            "storage must be a URI with a scheme, such as memory: or redis://host:6379/0, but was"
                + " 'localhost'"),
        Arguments.of("health: fine", "health must be a map of fields but was a single value"),
        Arguments.of("health: [a]", "health must be a map of fields but was a list"),
        Arguments.of("health: {threshold: [0.5]}",
            "health.threshold must be a single value but was a list"),
        Arguments.of("health: {threshhold: 0.5}",
            "unknown field 'threshhold' at health (did you mean 'threshold'?)"),
        Arguments.of("cooldown: {backoffBase: 5s}",
            "unknown field 'backoffBase' at cooldown (did you mean 'backoff-base'?)"),
        Arguments.of("breaker: {per_model: true}",
            "unknown field 'per_model' at breaker (did you mean 'per-model'?)"),
        Arguments.of("storm: {colour: red}",
            "unknown field 'colour' at storm (known fields: window, fraction, min-keys)"),
        Arguments.of("stratgy: weighted",
            "unknown field 'stratgy' at the top level (did you mean 'strategy'?)"));
  }

  @ParameterizedTest
  @MethodSource("sections")
  void sectionErrorMessage(String yaml, String expected) {
    assertThat(errors("keys: [" + KEY + "]\n" + yaml)).containsExactly(expected);
  }

  /** A {@code keys} section, and the one error it must produce. */
  static Stream<Arguments> keyEntries() {
    return Stream.of(
        Arguments.of("[" + KEY + ", {secret: " + OTHER + ", weight: 0}]",
            "keys[1].weight must be >= 1 and <= 1000 but was 0"),
        Arguments.of("[{secret: " + KEY + ", weight: 1001}]",
            "keys[0].weight must be >= 1 and <= 1000 but was 1001"),
        Arguments.of("[{secret: " + KEY + ", weight: heavy}]",
            "keys[0].weight must be an integer but was 'heavy'"),
        Arguments.of("[{secret: " + KEY + ", rpm: 0}]", "keys[0].rpm must be >= 1 but was 0"),
        Arguments.of("[{secret: " + KEY + ", rpd: -5}]", "keys[0].rpd must be >= 1 but was -5"),
        Arguments.of("[{secret: " + KEY + ", id: has space}]",
            "keys[0].id must be 1-128 characters of letters, digits and . _ : @ - but was"
                + " 'has space'"),
        Arguments.of("[{secret: " + KEY + ", project: ''}]", "keys[0].project must not be blank"),
        Arguments.of("[{secret: " + KEY + ", labels: [a]}]",
            "keys[0].labels must be a map but was a list"),
        Arguments.of("[{secret: " + KEY + ", labels: {'': x}}]",
            "keys[0].labels must not have a blank name"),
        Arguments.of("[{secret: " + KEY + ", wieght: 2}]",
            "unknown field 'wieght' at keys[0] (did you mean 'weight'?)"),
        Arguments.of("[\"" + KEY + " x\"]",
            "keys[0].secret must not contain whitespace or control characters (at index "
                + KEY.length() + ")"),
        Arguments.of("[{secret: \"a\\tb\"}]",
            "keys[0].secret must not contain whitespace or control characters (at index 1)"),
        Arguments.of("[{secret: ''}]", "keys[0].secret must not be blank"),
        Arguments.of("[{weight: 2}]", "keys[0] needs one of secret, env or file"),
        Arguments.of("[{secret: " + KEY + ", env: POOL}]",
            "keys[0] must have only one of secret, env or file"),
        Arguments.of("[{env: POOL}]", "keys[0].env: environment variable POOL is not set"),
        Arguments.of("[{env: SET_POOL, id: x}]",
            "keys[0].id is only allowed with secret: keys read from env or file get ids derived"
                + " from their secrets"),
        Arguments.of("[~]",
            "keys[0] is empty; write a secret, or a map with secret, env or file"),
        Arguments.of("[[a]]",
            "keys[0] must be a secret or a map with secret, env or file but was a list"),
        Arguments.of("{a: b}", "keys must be a list but was a map"),
        Arguments.of("some-secret", "keys must be a list but was a single value"),
        Arguments.of("[{secret: " + KEY + ", id: a}, {secret: " + OTHER + ", id: a}]",
            "keys[1] duplicates keys[0] (same id 'a'; give each key its own id)"),
        Arguments.of("[" + KEY + ", " + KEY + "]", "keys[1] duplicates keys[0] (same secret)"),
        Arguments.of("[]", "no keys configured: set GEMINI_API_KEYS or add keys to the config"
            + " file"));
  }

  @ParameterizedTest
  @MethodSource("keyEntries")
  void keyErrorMessage(String keys, String expected) {
    assertThat(errors("keys: " + keys)).containsExactly(expected);
  }

  @Test
  void badLineInAKeysFileNamesFileAndLine() throws Exception {
    java.nio.file.Files.writeString(dir.resolve("k.txt"), "# one\n" + KEY + "\nab\u0001cdefgh\n");

    assertThat(errors("keys: [{file: k.txt}]")).containsExactly(
        "keys[0] (k.txt line 3): secret must not contain whitespace or control characters"
            + " (at index 2)");
  }

  @Test
  void badItemInAnEnvEntryNamesTheVariableAndItem() {
    List<String> errors = errors(Map.of("POOL", KEY + ",ab\u0001cdefgh"), "keys: [{env: POOL}]");

    assertThat(errors).containsExactly(
        "keys[0] (POOL item 2): secret must not contain whitespace or control characters"
            + " (at index 2)");
  }

  @Test
  void badSecretInGeminiApiKeysNamesTheVariable() {
    List<String> errors = errors(Map.of(ConfigLoader.KEYS_ENV, KEY + ",ab\u0001cdefgh"), "");

    assertThat(errors).containsExactly(
        "keys[1].secret must not contain whitespace or control characters (at index 2)"
            + " (from GEMINI_API_KEYS)");
  }

  private List<String> errors(String yaml) {
    return errors(Map.of("SET_POOL", OTHER), yaml);
  }

  private List<String> errors(Map<String, String> env, String yaml) {
    ConfigException e = catchThrowableOfType(ConfigException.class,
        () -> ConfigLoader.builder().env(env).build().loadString(yaml, dir));
    assertThat(e).as("expected %s to fail", yaml).isNotNull();
    return e.errors();
  }
}
