package dev.geminirotator.config;

import dev.geminirotator.core.config.RotatorConfig;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * {@link RotatorSections#fields()} is what the README reference is generated from; it must not
 * drift.
 */
class FieldsTest {

  static final String KEY = "AIzaSyF-ffffffffffffffffffffffffffffff";

  @Test
  void listsEveryFieldWithTypeDefaultAndEnvironmentName() {
    assertThat(RotatorSections.fields()).containsExactly(
        new FieldDoc("keys", "list", null, "GEMINI_API_KEYS"),
        new FieldDoc("keys[].secret", "secret", null, null),
        new FieldDoc("keys[].env", "string", null, null),
        new FieldDoc("keys[].file", "string", null, null),
        new FieldDoc("keys[].id", "string", null, null),
        new FieldDoc("keys[].weight", "integer", "1", null),
        new FieldDoc("keys[].project", "string", null, null),
        new FieldDoc("keys[].labels", "map of strings", null, null),
        new FieldDoc("keys[].rpm", "integer", null, null),
        new FieldDoc("keys[].rpd", "integer", null, null),
        new FieldDoc("strategy", "one of round-robin, weighted, power-of-two", "round-robin",
            "GEMINI_ROTATOR_STRATEGY"),
        new FieldDoc("health.alpha", "decimal", "0.1", "GEMINI_ROTATOR_HEALTH_ALPHA"),
        new FieldDoc("health.threshold", "decimal", "0.5", "GEMINI_ROTATOR_HEALTH_THRESHOLD"),
        new FieldDoc("health.recovered-score", "decimal", "0.75",
            "GEMINI_ROTATOR_HEALTH_RECOVERED_SCORE"),
        new FieldDoc("health.cooldown-base", "duration", "15s",
            "GEMINI_ROTATOR_HEALTH_COOLDOWN_BASE"),
        new FieldDoc("health.cooldown-max", "duration", "10m",
            "GEMINI_ROTATOR_HEALTH_COOLDOWN_MAX"),
        new FieldDoc("health.jitter", "decimal", "0.2", "GEMINI_ROTATOR_HEALTH_JITTER"),
        new FieldDoc("cooldown.minimum", "duration", "1s", "GEMINI_ROTATOR_COOLDOWN_MINIMUM"),
        new FieldDoc("cooldown.maximum", "duration", "25h", "GEMINI_ROTATOR_COOLDOWN_MAXIMUM"),
        new FieldDoc("cooldown.backoff-base", "duration", "10s",
            "GEMINI_ROTATOR_COOLDOWN_BACKOFF_BASE"),
        new FieldDoc("cooldown.backoff-max", "duration", "5m",
            "GEMINI_ROTATOR_COOLDOWN_BACKOFF_MAX"),
        new FieldDoc("cooldown.jitter", "decimal", "0.2", "GEMINI_ROTATOR_COOLDOWN_JITTER"),
        new FieldDoc("cooldown.daily-reset-zone", "time zone", "America/Los_Angeles",
            "GEMINI_ROTATOR_COOLDOWN_DAILY_RESET_ZONE"),
        new FieldDoc("storm.window", "duration", "10s", "GEMINI_ROTATOR_STORM_WINDOW"),
        new FieldDoc("storm.fraction", "decimal", "0.8", "GEMINI_ROTATOR_STORM_FRACTION"),
        new FieldDoc("storm.min-keys", "integer", "3", "GEMINI_ROTATOR_STORM_MIN_KEYS"),
        new FieldDoc("attempts.max-attempts", "integer", "4",
            "GEMINI_ROTATOR_ATTEMPTS_MAX_ATTEMPTS"),
        new FieldDoc("attempts.backoff-base", "duration", "200ms",
            "GEMINI_ROTATOR_ATTEMPTS_BACKOFF_BASE"),
        new FieldDoc("attempts.backoff-max", "duration", "2s",
            "GEMINI_ROTATOR_ATTEMPTS_BACKOFF_MAX"),
        new FieldDoc("attempts.jitter", "decimal", "0.2", "GEMINI_ROTATOR_ATTEMPTS_JITTER"),
        new FieldDoc("attempts.retry-upstream-errors", "boolean", "true",
            "GEMINI_ROTATOR_ATTEMPTS_RETRY_UPSTREAM_ERRORS"),
        new FieldDoc("attempts.max-discovery-attempts", "integer", "8",
            "GEMINI_ROTATOR_ATTEMPTS_MAX_DISCOVERY_ATTEMPTS"),
        new FieldDoc("affinity.enabled", "boolean", "true", "GEMINI_ROTATOR_AFFINITY_ENABLED"),
        new FieldDoc("affinity.max-pins", "integer", "100000", "GEMINI_ROTATOR_AFFINITY_MAX_PINS"),
        new FieldDoc("affinity.max-not-found", "integer", "10000",
            "GEMINI_ROTATOR_AFFINITY_MAX_NOT_FOUND"),
        new FieldDoc("affinity.not-found-for", "duration", "30s",
            "GEMINI_ROTATOR_AFFINITY_NOT_FOUND_FOR"),
        new FieldDoc("affinity.renew-every", "duration", "1h",
            "GEMINI_ROTATOR_AFFINITY_RENEW_EVERY"),
        new FieldDoc("breaker.enabled", "boolean", "true", "GEMINI_ROTATOR_BREAKER_ENABLED"),
        new FieldDoc("breaker.failure-rate-threshold", "decimal", "50.0",
            "GEMINI_ROTATOR_BREAKER_FAILURE_RATE_THRESHOLD"),
        new FieldDoc("breaker.minimum-calls", "integer", "20",
            "GEMINI_ROTATOR_BREAKER_MINIMUM_CALLS"),
        new FieldDoc("breaker.sliding-window-size", "integer", "50",
            "GEMINI_ROTATOR_BREAKER_SLIDING_WINDOW_SIZE"),
        new FieldDoc("breaker.wait-in-open", "duration", "10s",
            "GEMINI_ROTATOR_BREAKER_WAIT_IN_OPEN"),
        new FieldDoc("breaker.permitted-calls-in-half-open", "integer", "3",
            "GEMINI_ROTATOR_BREAKER_PERMITTED_CALLS_IN_HALF_OPEN"),
        new FieldDoc("breaker.per-model", "boolean", "false", "GEMINI_ROTATOR_BREAKER_PER_MODEL"),
        new FieldDoc("breaker.max-model-breakers", "integer", "256",
            "GEMINI_ROTATOR_BREAKER_MAX_MODEL_BREAKERS"),
        new FieldDoc("storage", "string", "memory:", "GEMINI_ROTATOR_STORAGE"),
        new FieldDoc("key-id-salt", "secret", null, "GEMINI_ROTATOR_KEY_ID_SALT"));
  }

  @Test
  void everyDocumentedDefaultLoadsFromAFileAtItsDocumentedPath() {
    Map<String, Map<String, String>> sections = new LinkedHashMap<>();
    StringBuilder yaml = new StringBuilder("keys: [" + KEY + "]\n");
    for (FieldDoc f : RotatorSections.fields()) {
      if (f.path().startsWith("keys") || f.defaultValue() == null) continue;
      int dot = f.path().indexOf('.');
      if (dot < 0) {
        yaml.append(f.path()).append(": \"").append(f.defaultValue()).append("\"\n");
      } else {
        sections.computeIfAbsent(f.path().substring(0, dot), s -> new LinkedHashMap<>())
            .put(f.path().substring(dot + 1), f.defaultValue());
      }
    }
    sections.forEach((section, fields) -> {
      yaml.append(section).append(":\n");
      fields.forEach((k, v) -> yaml.append("  ").append(k).append(": \"").append(v).append("\"\n"));
    });

    RotatorConfig loaded = ConfigLoader.builder().env(Map.of()).build()
        .loadString(yaml.toString(), null);

    assertThat(sections.keySet())
        .containsExactly("health", "cooldown", "storm", "attempts", "affinity", "breaker");
    assertThat(loaded.toString())
        .isEqualTo(RotatorConfig.builder().keys(loaded.keys()).build().toString());
  }

  @Test
  void everyDocumentedEnvironmentVariableIsReadByItsField() {
    List<String> missed = new ArrayList<>();
    for (FieldDoc f : RotatorSections.fields()) {
      if (f.env() == null || f.path().equals("keys")) continue;
      Map<String, String> env = Map.of(ConfigLoader.KEYS_ENV, KEY, f.env(), "%%bad%%");
      ConfigException e = catchThrowableOfType(ConfigException.class,
          () -> ConfigLoader.builder().env(env).build().fromEnvironment());
      String suffix = "(from " + f.env() + ")";
      if (e == null || e.errors().size() != 1 || !e.errors().get(0).startsWith(f.path() + " ")
          || !e.errors().get(0).endsWith(suffix)) {
        missed.add(f.path() + " -> " + (e == null ? "no error" : e.errors()));
      }
    }
    assertThat(missed).isEmpty();
  }
}
