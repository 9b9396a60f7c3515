package dev.geminirotator.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.config.ConfigYaml;
import dev.geminirotator.config.FieldDoc;
import dev.geminirotator.config.RotatorSections;
import dev.geminirotator.config.Secret;
import dev.geminirotator.core.config.RotatorConfig;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * {@code --print-config} (issue 17): the printed configuration is YAML, every section field by
 * field; loading it (with the masked secrets put back) gives the same effective configuration;
 * and no secret appears in it, nor in any section's {@code toString()}.
 */
class PrintConfigRoundTripTest {

  private static final String KEY_1 = "AIzaSyRoundTrip-first-key-000000001";
  private static final String KEY_2 = "AIzaSyRoundTrip-second-key-00000002";
  private static final String KEY_3 = "AIzaSyRoundTrip-env-key-0000000003";
  private static final String SALT = "round-trip-salt-0123456789";
  private static final String REDIS_PASSWORD = "RedisPassword-4711-round-trip";
  private static final String STORAGE = "redis://:" + REDIS_PASSWORD + "@cache.example:6380/2";
  private static final String METRICS_TOKEN = "metrics-token-round-trip-1234";
  private static final String KEYSTORE_PASSWORD = "keystore-password-round-trip";
  private static final String TOKEN_1 = "access-token-round-trip-00001";
  private static final String TOKEN_2 = "access-token-round-trip-00002";
  private static final String ADMIN_TOKEN = "admin-token-round-trip-0123456789";
  private static final List<String> SECRETS = List.of(KEY_1, KEY_2, KEY_3, SALT, REDIS_PASSWORD,
      METRICS_TOKEN, KEYSTORE_PASSWORD, TOKEN_1, TOKEN_2, ADMIN_TOKEN);

  @TempDir
  Path dir;

  /** Every section away from its defaults, secrets in every place one can be. */
  private StandaloneConfig everythingSet() throws Exception {
    Path keystore = Files.writeString(dir.resolve("proxy.p12"), "not read at load");
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, """
        keys:
          - secret: %s
            id: team-a
            weight: 3
            project: project-1
            labels: {team: a, tier: "1"}
            rpm: 60
            rpd: 1000
          - %s
          - env: ROUND_TRIP_KEYS
            weight: 2
        strategy: weighted
        health: {alpha: 0.25, threshold: 0.4, recovered-score: 0.8, cooldown-base: 45s,
                 cooldown-max: 20m, jitter: 0.05}
        cooldown: {minimum: 2s, maximum: 2h, backoff-base: 1.5s, backoff-max: 90s, jitter: 0.3,
                   daily-reset-zone: Europe/Berlin}
        storm: {window: 20s, fraction: 0.6, min-keys: 4}
        attempts: {max-attempts: 5, backoff-base: 250ms, backoff-max: 4s, jitter: 0.1,
                   retry-upstream-errors: false, max-discovery-attempts: 2}
        affinity: {enabled: false, max-pins: 5000, max-not-found: 3, not-found-for: 30s,
                   renew-every: 10m}
        breaker: {enabled: true, failure-rate-threshold: 60, minimum-calls: 30,
                  sliding-window-size: 60, wait-in-open: 45s, permitted-calls-in-half-open: 4,
                  per-model: true, max-model-breakers: 12}
        storage: "%s"
        key-id-salt: %s
        server:
          host: 0.0.0.0
          port: 5123
          max-request-size: 8MB
          idle-timeout: 2m
          drain-timeout: 10s
          header-timeout: 0s
          max-connections: 100
          body-budget: 64MB
          body-timeout: 30s
          body-min-rate: 128KB
          transport: nio
          allow-public-without-tokens: false
          trusted-proxies: [10.0.0.0/8, 192.168.1.1]
          management-port: 5124
          metrics-token: %s
          tls: {keystore: proxy.p12, keystore-password: %s, keystore-type: JKS}
        upstream: {base-url: "http://127.0.0.1:9/gemini", connect-timeout: 3s,
                   request-timeout: 0s, idle-timeout: 1m, max-connections: 64}
        access: {tokens: [%s, %s]}
        admin: {token: %s}
        rate-limit: {requests-per-minute: 120}
        cors: {enabled: true, allowed-origins: [https://a.example, https://b.example]}
        logging: {level: debug, json: false}
        """.formatted(KEY_1, KEY_2, STORAGE, SALT, METRICS_TOKEN, KEYSTORE_PASSWORD, TOKEN_1,
        TOKEN_2, ADMIN_TOKEN));
    assertThat(keystore).isReadable();
    return StandaloneConfig.load(file, Map.of("ROUND_TRIP_KEYS", KEY_3),
        StandaloneConfig.Overrides.NONE);
  }

  @Test
  void printedConfigIsYamlThatLoadsBackToTheSameConfiguration() throws Exception {
    StandaloneConfig original = everythingSet();
    String printed = original.toMaskedYaml();

    Map<String, Object> tree = parse(printed);
    // The masked secrets go back where they were; everything else is loaded as printed.
    List<Map<String, Object>> keys = list(tree.get("keys"));
    assertThat(keys).hasSize(3);
    List<String> keySecrets = List.of(KEY_1, KEY_2, KEY_3);
    for (int i = 0; i < keys.size(); i++) {
      assertThat(keys.get(i).get("secret")).isEqualTo(ApiKey.mask(keySecrets.get(i)));
      keys.get(i).put("secret", keySecrets.get(i));
    }
    assertThat(tree.get("key-id-salt")).isEqualTo(Secret.MASK);
    tree.put("key-id-salt", SALT);
    assertThat(tree.get("storage")).isEqualTo("redis://:****@cache.example:6380/2");
    tree.put("storage", STORAGE);
    Map<String, Object> server = map(tree.get("server"));
    assertThat(server.get("metrics-token")).isEqualTo(Secret.MASK);
    server.put("metrics-token", METRICS_TOKEN);
    Map<String, Object> tls = map(server.get("tls"));
    assertThat(tls.get("keystore-password")).isEqualTo(Secret.MASK);
    tls.put("keystore-password", KEYSTORE_PASSWORD);
    Map<String, Object> access = map(tree.get("access"));
    assertThat(access.get("tokens")).isEqualTo(List.of(Secret.MASK, Secret.MASK));
    access.put("tokens", List.of(TOKEN_1, TOKEN_2));
    Map<String, Object> admin = map(tree.get("admin"));
    assertThat(admin.get("token")).isEqualTo(Secret.MASK);
    admin.put("token", ADMIN_TOKEN);

    Path reprinted = Files.writeString(dir.resolve("printed.yaml"), ConfigYaml.dump(tree));
    StandaloneConfig reloaded = StandaloneConfig.load(reprinted, Map.of(),
        StandaloneConfig.Overrides.NONE);

    assertThat(reloaded.server()).isEqualTo(original.server());
    assertThat(reloaded.upstream()).isEqualTo(original.upstream());
    assertThat(reloaded.access()).isEqualTo(original.access());
    assertThat(reloaded.admin()).isEqualTo(original.admin());
    assertThat(reloaded.rateLimit()).isEqualTo(original.rateLimit());
    assertThat(reloaded.cors()).isEqualTo(original.cors());
    assertThat(reloaded.logging()).isEqualTo(original.logging());
    assertSameRotator(reloaded.rotator(), original.rotator());
    assertThat(reloaded.toMaskedYaml()).isEqualTo(printed);
  }

  @Test
  void printedConfigWritesEveryDocumentedFieldAndNothingElse() throws Exception {
    Set<String> documented = new TreeSet<>();
    List<FieldDoc> fields = new ArrayList<>(RotatorSections.fields());
    fields.addAll(StandaloneConfig.fields());
    for (FieldDoc f : fields) {
      if (!f.path().startsWith("keys")) documented.add(f.path());
    }
    Set<String> printed = new TreeSet<>();
    Map<String, Object> tree = parse(everythingSet().toMaskedYaml());
    tree.remove("keys");
    leaves("", tree, printed);

    assertThat(printed).isEqualTo(documented);
    // The sections that used to be Java toString() comments are maps of fields now.
    for (String section : List.of("health", "cooldown", "storm", "attempts", "affinity",
        "breaker")) {
      assertThat(tree.get(section)).as(section).isInstanceOf(Map.class);
    }
  }

  @Test
  void printedConfigAndEverySectionsToStringMaskEverySecret() throws Exception {
    StandaloneConfig config = everythingSet();
    List<String> shown = List.of(config.toMaskedYaml(), config.toString(),
        config.server().toString(), config.server().tls().toString(),
        config.access().toString(), config.admin().toString(), config.rotator().toString());
    for (String text : shown) {
      for (String secret : SECRETS) {
        assertThat(text).as("a printed configuration").doesNotContain(secret);
      }
    }
    assertThat(config.toMaskedYaml()).doesNotContain("Policy{").doesNotContain("\n# ");
  }

  private static void assertSameRotator(RotatorConfig actual, RotatorConfig expected) {
    assertThat(actual.toString()).isEqualTo(expected.toString());
    assertThat(actual.keys()).hasSameSizeAs(expected.keys());
    for (int i = 0; i < expected.keys().size(); i++) {
      ApiKey a = actual.keys().get(i);
      ApiKey e = expected.keys().get(i);
      assertThat(a.id()).isEqualTo(e.id());
      assertThat(a.secret()).isEqualTo(e.secret());
      assertThat(a.weight()).isEqualTo(e.weight());
      assertThat(a.project()).isEqualTo(e.project());
      assertThat(a.labels()).isEqualTo(e.labels());
      assertThat(a.requestsPerMinute()).isEqualTo(e.requestsPerMinute());
      assertThat(a.requestsPerDay()).isEqualTo(e.requestsPerDay());
    }
    assertThat(actual.keyIdSalt()).isEqualTo(expected.keyIdSalt());
    assertThat(actual.storage()).isEqualTo(expected.storage());
  }

  private static Map<String, Object> parse(String yaml) {
    Object tree = new Load(LoadSettings.builder().build()).loadFromString(yaml);
    assertThat(tree).as("the printed configuration is a YAML map").isInstanceOf(Map.class);
    return map(tree);
  }

  private static void leaves(String prefix, Map<String, Object> node, Set<String> out) {
    for (Map.Entry<String, Object> e : node.entrySet()) {
      String path = prefix.isEmpty() ? e.getKey() : prefix + "." + e.getKey();
      if (e.getValue() instanceof Map) {
        leaves(path, map(e.getValue()), out);
      } else {
        out.add(path);
      }
    }
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o) {
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  private static List<Map<String, Object>> list(Object o) {
    return (List<Map<String, Object>>) o;
  }
}
