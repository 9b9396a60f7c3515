package dev.geminirotator.config;

import dev.geminirotator.core.affinity.AffinityPolicy;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.config.RotatorConfig;
import dev.geminirotator.core.health.HealthPolicy;
import dev.geminirotator.core.rotation.CooldownPolicy;
import dev.geminirotator.core.rotation.StormPolicy;
import dev.geminirotator.core.rotation.Strategy;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.DateTimeException;
import java.time.ZoneId;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The YAML binding of core's {@link RotatorConfig}: reads its sections from a {@link ConfigNode}
 * (through {@link ConfigLoader#readRotator}) and lists its fields ({@link #fields()}), from the one
 * place that knows the YAML names, so loading and the documentation cannot drift apart. Stateless
 * and thread-safe.
 */
public final class RotatorSections {

  private static final String KEYS_ENV = ConfigLoader.KEYS_ENV;
  /** Stands in for a secret while a key entry's shared attributes are validated once. */
  private static final String PROBE_SECRET = "config-probe-not-a-key";

  private RotatorSections() {
  }

  /**
   * Every field a configuration file may set for the rotator, with its path, type, default and
   * environment override, read from the same code that loads a file.
   */
  public static List<FieldDoc> fields() {
    ConfigNode describing = ConfigNode.describe();
    read(describing);
    return describing.fields();
  }

  /**
   * A configuration as the tree of a YAML file that {@link ConfigLoader} reads back to the same
   * configuration, secrets masked: every key with its id and {@link ApiKey#masked()} secret (so a
   * reader can tell the keys apart, and a file cannot be rebuilt from it), every policy section
   * field by field, the storage URI {@link RotatorConfig#redact redacted}, and {@code key-id-salt}
   * as {@value Secret#MASK} when set. Write it with {@link ConfigYaml#dump}.
   */
  public static Map<String, Object> toYaml(RotatorConfig c) {
    Map<String, Object> out = new LinkedHashMap<>();
    List<Object> keys = new ArrayList<>();
    for (ApiKey k : c.keys()) {
      Map<String, Object> key = new LinkedHashMap<>();
      key.put("id", k.id());
      key.put("secret", k.masked());
      key.put("weight", k.weight());
      Map<String, String> labels = new LinkedHashMap<>(k.labels());
      String project = labels.remove(ApiKey.PROJECT_LABEL);
      if (project != null) key.put("project", project);
      if (!labels.isEmpty()) key.put("labels", labels);
      k.requestsPerMinute().ifPresent(rpm -> key.put("rpm", rpm));
      k.requestsPerDay().ifPresent(rpd -> key.put("rpd", rpd));
      keys.add(key);
    }
    out.put("keys", keys);
    out.put("strategy", ConfigYaml.value(c.strategy()));

    HealthPolicy h = c.health();
    out.put("health", fields("alpha", h.alpha(), "threshold", h.threshold(),
        "recovered-score", h.recoveredScore(), "cooldown-base", h.cooldownBase(),
        "cooldown-max", h.cooldownMax(), "jitter", h.jitter()));
    CooldownPolicy cd = c.cooldown();
    out.put("cooldown", fields("minimum", cd.minimum(), "maximum", cd.maximum(),
        "backoff-base", cd.backoffBase(), "backoff-max", cd.backoffMax(), "jitter", cd.jitter(),
        "daily-reset-zone", cd.dailyResetZone().getId()));
    StormPolicy st = c.storm();
    out.put("storm", fields("window", st.window(), "fraction", st.fraction(),
        "min-keys", st.minKeys()));
    AttemptPolicy a = c.attempts();
    out.put("attempts", fields("max-attempts", a.maxAttempts(), "backoff-base", a.backoffBase(),
        "backoff-max", a.backoffMax(), "jitter", a.jitter(),
        "retry-upstream-errors", a.retryUpstreamErrors(),
        "max-discovery-attempts", a.maxDiscoveryAttempts()));
    AffinityPolicy af = c.affinity();
    out.put("affinity", fields("enabled", af.enabled(), "max-pins", af.maxPins(),
        "max-not-found", af.maxNotFound(), "not-found-for", af.notFoundFor(),
        "renew-every", af.renewEvery()));
    BreakerPolicy b = c.breaker();
    out.put("breaker", fields("enabled", b.enabled(),
        "failure-rate-threshold", b.failureRateThreshold(), "minimum-calls", b.minimumCalls(),
        "sliding-window-size", b.slidingWindowSize(), "wait-in-open", b.waitInOpen(),
        "permitted-calls-in-half-open", b.permittedCallsInHalfOpen(), "per-model", b.perModel(),
        "max-model-breakers", b.maxModelBreakers()));
    out.put("storage", RotatorConfig.redact(c.storage()));
    out.put("key-id-salt", c.keyIdSalt() == null ? null : Secret.MASK);
    return out;
  }

  /** A section's fields from alternating names and values, each written as a file would. */
  private static Map<String, Object> fields(Object... namesAndValues) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (int i = 0; i < namesAndValues.length; i += 2) {
      out.put((String) namesAndValues[i], ConfigYaml.value(namesAndValues[i + 1]));
    }
    return out;
  }

  static RotatorConfig read(ConfigNode root) {
    RotatorConfig.Builder b = RotatorConfig.builder();
    List<ApiKey> keys = keys(root);
    root.enumValue("strategy", Strategy.class, RotatorConfig.DEFAULT_STRATEGY, b::strategy);
    b.health(health(root.child("health")));
    b.cooldown(cooldown(root.child("cooldown")));
    b.storm(storm(root.child("storm")));
    b.attempts(attempts(root.child("attempts")));
    b.affinity(affinity(root.child("affinity")));
    b.breaker(breaker(root.child("breaker")));
    root.string("storage", RotatorConfig.DEFAULT_STORAGE, b::storage);
    root.secret("key-id-salt", b::keyIdSalt);
    b.keys(keys);
    return root.build(b::build, RotatorConfig.defaults());
  }

  // -----------------------------------------------------------------------------------------------
  // Keys

  private static List<ApiKey> keys(ConfigNode root) {
    int errorsBefore = root.errorTotal();
    Keys keys = new Keys();
    for (ConfigNode entry : root.list("keys", KEYS_ENV)) {
      if (entry.isScalar()) {
        String secret = entry.asSecret();
        if (secret != null) {
          keys.add(entry, entry.path(), entry.build(() -> ApiKey.builder(secret).build(), null));
        }
      } else if (entry.isMap()) {
        mapEntry(entry, keys);
      } else if (!entry.isPresent()) {
        entry.error(entry.path() + " is empty; write a secret, or a map with secret, env or file");
      } else {
        entry.error(entry.path() + " must be a secret or a map with secret, env or file but was"
            + " a list");
      }
    }
    List<String> duplicates = RotatorConfig.duplicates(keys.keys, keys.origins);
    List<ApiKey> unique = new ArrayList<>();
    for (int i = 0; i < keys.keys.size(); i++) {
      if (duplicates.get(i) != null) {
        keys.reporters.get(i).error(duplicates.get(i));
      } else {
        unique.add(keys.keys.get(i));
      }
    }
    if (unique.isEmpty() && root.errorTotal() == errorsBefore) {
      root.error("no keys configured: set " + KEYS_ENV + " or add keys to the config file");
    }
    return unique;
  }

  /** {@code {secret: ...}}, {@code {env: VAR}} or {@code {file: path}}, with shared attributes. */
  private static void mapEntry(ConfigNode e, Keys keys) {
    boolean hasSecret = e.has("secret");
    boolean hasEnv = e.has("env");
    boolean hasFile = e.has("file");
    String secret = e.secret("secret");
    String var = e.string("env", null);
    String file = e.string("file", null);
    String id = e.string("id", null);

    ApiKey.Builder probe = ApiKey.builder(PROBE_SECRET);
    e.integer("weight", ApiKey.DEFAULT_WEIGHT, probe::weight);
    String project = e.string("project", null);
    Map<String, String> labels = e.stringMap("labels");
    Integer rpm = e.integer("rpm", null);
    Integer rpd = e.integer("rpd", null);
    e.check(() -> probe.labels(labels));
    if (project != null) e.check(() -> probe.project(project));
    if (rpm != null) e.check(() -> probe.requestsPerMinute(rpm));
    if (rpd != null) e.check(() -> probe.requestsPerDay(rpd));
    ApiKey shared = probe.build();

    int sources = (hasSecret ? 1 : 0) + (hasEnv ? 1 : 0) + (hasFile ? 1 : 0);
    if (sources == 0) {
      e.error(e.path() + " needs one of secret, env or file");
      return;
    }
    if (sources > 1) {
      e.error(e.path() + " must have only one of secret, env or file");
      return;
    }
    if (id != null && !hasSecret) {
      e.error(e.path() + ".id is only allowed with secret: keys read from env or file get ids"
          + " derived from their secrets");
      return;
    }
    if (hasSecret) {
      if (secret != null) {
        keys.add(e, e.path(), e.build(() -> withShared(ApiKey.builder(secret), shared, id), null));
      }
    } else if (hasEnv) {
      if (var == null) return;
      String value = e.environment(var);
      if (value == null) {
        e.error(e.path() + ".env: environment variable " + var + " is not set");
        return;
      }
      String[] items = value.split(",");
      int n = 0;
      for (String item : items) {
        String s = item.trim();
        if (s.isEmpty()) continue;
        n++;
        e.registerSecret(s);
        keys.add(e, e.path() + " (" + var + " item " + n + ")", s, shared);
      }
    } else if (file != null) {
      fileEntry(e, file, shared, keys);
    }
  }

  private static void fileEntry(ConfigNode e, String file, ApiKey shared, Keys keys) {
    Path path = e.baseDir().resolve(file).normalize();
    List<String> lines;
    try {
      lines = Files.readAllLines(path, StandardCharsets.UTF_8);
    } catch (IOException ex) {
      e.error(e.path() + ".file: cannot read " + path + " (" + describe(ex) + ")");
      return;
    }
    Path name = path.getFileName();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (i == 0 && line.startsWith("\uFEFF")) line = line.substring(1);
      String s = withoutComment(line).trim();
      if (s.isEmpty()) continue;
      e.registerSecret(s);
      keys.add(e, e.path() + " (" + name + " line " + (i + 1) + ")", s, shared);
    }
  }

  /** A line without a {@code #} comment: a whole-line one, or one after whitespace. */
  private static String withoutComment(String line) {
    String t = line.trim();
    if (t.startsWith("#")) return "";
    for (int i = 1; i < t.length(); i++) {
      if (t.charAt(i) == '#' && Character.isWhitespace(t.charAt(i - 1))) return t.substring(0, i);
    }
    return t;
  }

  private static String describe(IOException e) {
    if (e instanceof NoSuchFileException) return "no such file";
    if (e instanceof AccessDeniedException) return "permission denied";
    if (e instanceof CharacterCodingException) return "not UTF-8 text";
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }

  private static ApiKey withShared(ApiKey.Builder b, ApiKey shared, String id) {
    b.weight(shared.weight()).labels(shared.labels());
    shared.requestsPerMinute().ifPresent(b::requestsPerMinute);
    shared.requestsPerDay().ifPresent(b::requestsPerDay);
    if (id != null) b.id(id);
    return b.build();
  }

  /** The keys read so far, where each came from, and the node that reports about it. */
  private static final class Keys {
    final List<ApiKey> keys = new ArrayList<>();
    final List<String> origins = new ArrayList<>();
    final List<ConfigNode> reporters = new ArrayList<>();

    void add(ConfigNode reporter, String origin, ApiKey key) {
      if (key == null) return;
      keys.add(key);
      origins.add(origin);
      reporters.add(reporter);
    }

    /** A key from an env or file entry; its problems are reported under its origin. */
    void add(ConfigNode reporter, String origin, String secret, ApiKey shared) {
      try {
        add(reporter, origin, withShared(ApiKey.builder(secret), shared, null));
      } catch (IllegalArgumentException ex) {
        reporter.error(origin + ": " + ex.getMessage());
      }
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Policies

  private static HealthPolicy health(ConfigNode n) {
    HealthPolicy.Builder b = HealthPolicy.builder();
    n.decimal("alpha", HealthPolicy.DEFAULT_ALPHA, b::alpha);
    n.decimal("threshold", HealthPolicy.DEFAULT_THRESHOLD, b::threshold);
    n.decimal("recovered-score", HealthPolicy.DEFAULT_RECOVERED_SCORE, b::recoveredScore);
    n.duration("cooldown-base", HealthPolicy.DEFAULT_COOLDOWN_BASE, b::cooldownBase);
    n.duration("cooldown-max", HealthPolicy.DEFAULT_COOLDOWN_MAX, b::cooldownMax);
    n.decimal("jitter", HealthPolicy.DEFAULT_JITTER, b::jitter);
    return n.build(b::build, HealthPolicy.defaults());
  }

  private static CooldownPolicy cooldown(ConfigNode n) {
    CooldownPolicy.Builder b = CooldownPolicy.builder();
    n.duration("minimum", CooldownPolicy.DEFAULT_MINIMUM, b::minimum);
    n.duration("maximum", CooldownPolicy.DEFAULT_MAXIMUM, b::maximum);
    n.duration("backoff-base", CooldownPolicy.DEFAULT_BACKOFF_BASE, b::backoffBase);
    n.duration("backoff-max", CooldownPolicy.DEFAULT_BACKOFF_MAX, b::backoffMax);
    n.decimal("jitter", CooldownPolicy.DEFAULT_JITTER, b::jitter);
    ZoneId zone = n.value("daily-reset-zone", "time zone", CooldownPolicy.DEFAULT_DAILY_RESET_ZONE,
        RotatorSections::zone);
    n.check(() -> b.dailyResetZone(zone));
    return n.build(b::build, CooldownPolicy.defaults());
  }

  private static ZoneId zone(String text) {
    try {
      return ZoneId.of(text.trim());
    } catch (DateTimeException e) {
      throw new IllegalArgumentException(
          "is not a time zone: use a region id such as America/Los_Angeles, or UTC");
    }
  }

  private static StormPolicy storm(ConfigNode n) {
    StormPolicy.Builder b = StormPolicy.builder();
    n.duration("window", StormPolicy.DEFAULT_WINDOW, b::window);
    n.decimal("fraction", StormPolicy.DEFAULT_FRACTION, b::fraction);
    n.integer("min-keys", StormPolicy.DEFAULT_MIN_KEYS, b::minKeys);
    return n.build(b::build, StormPolicy.defaults());
  }

  private static AttemptPolicy attempts(ConfigNode n) {
    AttemptPolicy.Builder b = AttemptPolicy.builder();
    n.integer("max-attempts", AttemptPolicy.DEFAULT_MAX_ATTEMPTS, b::maxAttempts);
    n.duration("backoff-base", AttemptPolicy.DEFAULT_BACKOFF_BASE, b::backoffBase);
    n.duration("backoff-max", AttemptPolicy.DEFAULT_BACKOFF_MAX, b::backoffMax);
    n.decimal("jitter", AttemptPolicy.DEFAULT_JITTER, b::jitter);
    n.bool("retry-upstream-errors", AttemptPolicy.DEFAULT_RETRY_UPSTREAM_ERRORS,
        b::retryUpstreamErrors);
    n.integer("max-discovery-attempts", AttemptPolicy.DEFAULT_MAX_DISCOVERY_ATTEMPTS,
        b::maxDiscoveryAttempts);
    return n.build(b::build, AttemptPolicy.defaults());
  }

  private static AffinityPolicy affinity(ConfigNode n) {
    AffinityPolicy.Builder b = AffinityPolicy.builder();
    n.bool("enabled", AffinityPolicy.DEFAULT_ENABLED, b::enabled);
    n.integer("max-pins", AffinityPolicy.DEFAULT_MAX_PINS, b::maxPins);
    n.integer("max-not-found", AffinityPolicy.DEFAULT_MAX_NOT_FOUND, b::maxNotFound);
    n.duration("not-found-for", AffinityPolicy.DEFAULT_NOT_FOUND_FOR, b::notFoundFor);
    n.duration("renew-every", AffinityPolicy.DEFAULT_RENEW_EVERY, b::renewEvery);
    return n.build(b::build, AffinityPolicy.defaults());
  }

  private static BreakerPolicy breaker(ConfigNode n) {
    BreakerPolicy.Builder b = BreakerPolicy.builder();
    n.bool("enabled", BreakerPolicy.DEFAULT_ENABLED, b::enabled);
    n.decimal("failure-rate-threshold", BreakerPolicy.DEFAULT_FAILURE_RATE_THRESHOLD,
        b::failureRateThreshold);
    n.integer("minimum-calls", BreakerPolicy.DEFAULT_MINIMUM_CALLS, b::minimumCalls);
    n.integer("sliding-window-size", BreakerPolicy.DEFAULT_SLIDING_WINDOW_SIZE,
        b::slidingWindowSize);
    n.duration("wait-in-open", BreakerPolicy.DEFAULT_WAIT_IN_OPEN, b::waitInOpen);
    n.integer("permitted-calls-in-half-open", BreakerPolicy.DEFAULT_PERMITTED_CALLS_IN_HALF_OPEN,
        b::permittedCallsInHalfOpen);
    n.bool("per-model", BreakerPolicy.DEFAULT_PER_MODEL, b::perModel);
    n.integer("max-model-breakers", BreakerPolicy.DEFAULT_MAX_MODEL_BREAKERS, b::maxModelBreakers);
    return n.build(b::build, BreakerPolicy.defaults());
  }
}
