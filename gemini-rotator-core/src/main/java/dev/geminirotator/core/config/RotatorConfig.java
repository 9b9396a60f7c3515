package dev.geminirotator.core.config;

import dev.geminirotator.core.affinity.AffinityPolicy;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.guard.BreakerPolicy;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.KeyStateStores;
import dev.geminirotator.core.health.HealthPolicy;
import dev.geminirotator.core.rotation.CooldownPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.core.rotation.StormPolicy;
import dev.geminirotator.core.rotation.Strategy;
import java.net.URI;
import java.net.URISyntaxException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.regex.Pattern;

/**
 * Everything a rotator is built from: the keys, the selection strategy, the health, cooldown and
 * storm policies, the attempt and breaker settings, and the URI of the store that holds state.
 *
 * <p>Build one in code with {@link #builder()}, or load one from YAML with the
 * {@code gemini-rotator-config} module's {@code ConfigLoader} (its {@code RotatorSections.fields()}
 * lists every field with its YAML path, default and environment override). Every section starts
 * from its documented defaults ({@link #DEFAULT_STRATEGY}, {@link #DEFAULT_STORAGE},
 * {@link HealthPolicy#defaults()}, ...). {@link #toString()} shows key ids and masked secrets
 * only, and hides any password in the storage URI.
 *
 * <p>Immutable and thread-safe.
 */
public final class RotatorConfig {

  /** The selection strategy when none is set. */
  public static final Strategy DEFAULT_STRATEGY = Strategy.ROUND_ROBIN;
  /** The store when none is set: state private to the process. */
  public static final String DEFAULT_STORAGE = "memory:";

  private static final RotatorConfig DEFAULTS = builder().build();
  // up to the last '@' of the authority: a password may hold an unescaped '@' that a lenient
  // parser (the multi-host Redis URIs) still accepts
  private static final Pattern URI_PASSWORD = Pattern.compile("(//[^/@:?#]*:)[^/?#]*@");
  /** User info without a colon: Redis reads {@code redis://secret@host} as a password. */
  private static final Pattern URI_USER_ONLY = Pattern.compile("//[^:/?#]+@");
  private static final Pattern QUERY_SECRET = Pattern.compile(
      "(?i)([?&](?:[^=&#]*password[^=&#]*|pass|pwd|token|secret|key)=)[^&#]*");
  private static final int KEYS_SHOWN = 10;
  /** The shortest {@code key-id-salt} accepted. */
  public static final int MIN_KEY_ID_SALT = 16;
  /** {@code memory:}: a scheme alone, valid as a storage URI though not as a java.net.URI. */
  private static final Pattern SCHEME_ONLY = Pattern.compile("[A-Za-z][A-Za-z0-9+.-]*:");

  private final List<ApiKey> keys;
  private final Strategy strategy;
  private final HealthPolicy health;
  private final CooldownPolicy cooldown;
  private final StormPolicy storm;
  private final AttemptPolicy attempts;
  private final AffinityPolicy affinity;
  private final BreakerPolicy breaker;
  private final String storage;
  private final String keyIdSalt;

  private RotatorConfig(Builder b) {
    this.keyIdSalt = b.keyIdSalt;
    List<ApiKey> keys = new ArrayList<>(b.keys.size());
    for (ApiKey key : b.keys) keys.add(keyIdSalt == null ? key : key.withIdSalt(keyIdSalt));
    this.keys = List.copyOf(keys);
    this.strategy = b.strategy;
    this.health = b.health;
    this.cooldown = b.cooldown;
    this.storm = b.storm;
    this.attempts = b.attempts;
    this.affinity = b.affinity;
    this.breaker = b.breaker;
    this.storage = b.storage;
  }

  /** The defaults, with no keys. */
  public static RotatorConfig defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  public Builder toBuilder() {
    return new Builder().keys(keys).strategy(strategy).health(health).cooldown(cooldown)
        .storm(storm).attempts(attempts).affinity(affinity).breaker(breaker).storage(storage)
        .keyIdSaltOrNone(keyIdSalt);
  }

  /** The keys, in order; ids and secrets are unique. */
  public List<ApiKey> keys() {
    return keys;
  }

  public Strategy strategy() {
    return strategy;
  }

  public HealthPolicy health() {
    return health;
  }

  public CooldownPolicy cooldown() {
    return cooldown;
  }

  public StormPolicy storm() {
    return storm;
  }

  public AttemptPolicy attempts() {
    return attempts;
  }

  /** Resource affinity: whether it is on, and its bounds. */
  public AffinityPolicy affinity() {
    return affinity;
  }

  public BreakerPolicy breaker() {
    return breaker;
  }

  /** The URI of the state store, e.g. {@code memory:} or {@code redis://host:6379/0}. */
  public String storage() {
    return storage;
  }

  /**
   * The configured salt of ids derived from key secrets ({@code key-id-salt}), or {@code null}:
   * rotators then use their store's ({@link KeyStateStore#keyIdSalt()}), else their process's.
   * A secret: never log or show it.
   */
  public String keyIdSalt() {
    return keyIdSalt;
  }

  /**
   * Sets this configuration's keys, strategy and health, cooldown and storm policies on a rotator
   * builder. The store is not set: pass one to the builder, or use {@link #newRotator()} to open
   * the one {@link #storage()} names. Attempt and breaker settings belong to the layers that run
   * requests, not to the rotator.
   */
  public GeminiKeyRotator.Builder applyTo(GeminiKeyRotator.Builder builder) {
    if (keyIdSalt != null) builder.keyIdSalt(keyIdSalt);
    return builder.keys(keys).strategy(strategy).health(health).cooldowns(cooldown).storm(storm);
  }

  /**
   * Opens the store {@link #storage()} names and builds a rotator that owns it (closing the
   * rotator closes the store).
   *
   * @throws IllegalArgumentException when no provider on the class path handles the storage
   *     URI's scheme
   */
  public GeminiKeyRotator newRotator() {
    return newRotator(b -> { });
  }

  /**
   * As {@link #newRotator()}, letting the caller set more on the builder first, such as a clock or
   * listeners. If the customizer or the build fails, the store is closed again.
   */
  public GeminiKeyRotator newRotator(Consumer<GeminiKeyRotator.Builder> customizer) {
    Objects.requireNonNull(customizer, "customizer");
    KeyStateStore store = KeyStateStores.open(storage);
    try {
      GeminiKeyRotator.Builder b = applyTo(GeminiKeyRotator.builder());
      customizer.accept(b);
      return b.store(store, true).build();
    } catch (RuntimeException | Error e) {
      try {
        store.close();
      } catch (RuntimeException suppressed) {
        e.addSuppressed(suppressed);
      }
      throw e;
    }
  }

  /**
   * Ids and masked secrets of the first ten keys, the policies, and the storage URI without any
   * password. Never a secret.
   */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("RotatorConfig{keys=").append(keys.size()).append(" [");
    for (int i = 0; i < Math.min(KEYS_SHOWN, keys.size()); i++) {
      sb.append(i == 0 ? "" : ", ").append(keys.get(i));
    }
    if (keys.size() > KEYS_SHOWN) sb.append(", … ").append(keys.size() - KEYS_SHOWN).append(" more");
    return sb.append(']').append(", strategy=")
        .append(strategy.name().toLowerCase(Locale.ROOT).replace('_', '-'))
        .append(", health=").append(health)
        .append(", cooldown=").append(cooldown)
        .append(", storm=").append(storm)
        .append(", attempts=").append(attempts)
        .append(", affinity=").append(affinity)
        .append(", breaker=").append(breaker)
        .append(", storage=").append(redact(storage))
        .append(keyIdSalt == null ? "" : ", key-id-salt=****")
        .append('}').toString();
  }

  /**
   * A storage URI with every secret it may carry replaced by {@code ****}: the password or lone
   * user info before {@code @}, and query parameters named like a password, token, secret or key
   * ({@code truststorePassword} included). For logs, errors and printed configuration.
   */
  public static String redact(String uri) {
    if (uri == null) return "";
    String s = URI_PASSWORD.matcher(uri).replaceAll("$1****@");
    s = URI_USER_ONLY.matcher(s).replaceAll("//****@");
    return QUERY_SECRET.matcher(s).replaceAll("$1****");
  }

  /** A value as shown in a message: control characters replaced, long values cut. */
  private static String printable(String s) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length() && sb.length() < 80; i++) {
      char c = s.charAt(i);
      sb.append(c < ' ' || c == 0x7f ? '?' : c);
    }
    if (s.length() > 80) sb.append('…');
    return sb.toString();
  }

  /**
   * For each key, {@code null} or why it repeats an earlier one:
   * {@code "keys[3] duplicates keys[0] (same secret)"}. Never shows a secret. {@link Builder#build()}
   * checks the same; a loader calls this first to name each key by where it came from.
   *
   * @param origins how to name each key's position, aligned with {@code keys}
   */
  public static List<String> duplicates(List<ApiKey> keys, List<String> origins) {
    Map<String, Integer> bySecret = new HashMap<>();
    Map<String, Integer> byId = new HashMap<>();
    List<String> out = new ArrayList<>(keys.size());
    for (int i = 0; i < keys.size(); i++) {
      ApiKey key = keys.get(i);
      Integer sameSecret = bySecret.putIfAbsent(key.secret(), i);
      if (sameSecret != null) {
        out.add(origins.get(i) + " duplicates " + origins.get(sameSecret) + " (same secret)");
        continue;
      }
      Integer sameId = byId.putIfAbsent(key.id(), i);
      if (sameId != null) {
        bySecret.remove(key.secret());
        out.add(origins.get(i) + " duplicates " + origins.get(sameId) + " (same id '" + key.id()
            + "'; give each key its own id)");
        continue;
      }
      out.add(null);
    }
    return out;
  }

  /** Builds a {@link RotatorConfig} from the defaults. Not thread-safe. */
  public static final class Builder {
    private final List<ApiKey> keys = new ArrayList<>();
    private Strategy strategy = DEFAULT_STRATEGY;
    private HealthPolicy health = HealthPolicy.defaults();
    private CooldownPolicy cooldown = CooldownPolicy.defaults();
    private StormPolicy storm = StormPolicy.defaults();
    private AttemptPolicy attempts = AttemptPolicy.defaults();
    private AffinityPolicy affinity = AffinityPolicy.defaults();
    private BreakerPolicy breaker = BreakerPolicy.defaults();
    private String storage = DEFAULT_STORAGE;
    private String keyIdSalt;

    private Builder() {
    }

    /**
     * The salt of ids derived from key secrets, the same on every instance of a pool: without it,
     * a rotator uses its store's ({@link KeyStateStore#keyIdSalt()}: shared through Redis), else
     * its process's own random one. Set it when instances may start while Redis is unreachable,
     * or for ids that survive a Redis that loses its data. At least 16 characters; keep it as
     * secret as the keys (with it, an id confirms a guessed key). Explicit ids are unaffected.
     */
    public Builder keyIdSalt(String salt) {
      Objects.requireNonNull(salt, "key-id-salt");
      if (salt.strip().length() < MIN_KEY_ID_SALT) {
        throw new IllegalArgumentException("key-id-salt must be at least " + MIN_KEY_ID_SALT
            + " characters but was " + salt.strip().length() + "; use a random string");
      }
      this.keyIdSalt = salt.strip();
      return this;
    }

    private Builder keyIdSaltOrNone(String salt) {
      this.keyIdSalt = salt;
      return this;
    }

    /** Adds a key. */
    public Builder key(ApiKey key) {
      keys.add(Objects.requireNonNull(key, "key"));
      return this;
    }

    /** Replaces the keys. */
    public Builder keys(Collection<ApiKey> keys) {
      Objects.requireNonNull(keys, "keys");
      List<ApiKey> copy = new ArrayList<>(keys.size());
      for (ApiKey key : keys) copy.add(Objects.requireNonNull(key, "keys must not contain null"));
      this.keys.clear();
      this.keys.addAll(copy);
      return this;
    }

    public Builder strategy(Strategy strategy) {
      this.strategy = Objects.requireNonNull(strategy, "strategy");
      return this;
    }

    public Builder health(HealthPolicy health) {
      this.health = Objects.requireNonNull(health, "health");
      return this;
    }

    public Builder cooldown(CooldownPolicy cooldown) {
      this.cooldown = Objects.requireNonNull(cooldown, "cooldown");
      return this;
    }

    public Builder storm(StormPolicy storm) {
      this.storm = Objects.requireNonNull(storm, "storm");
      return this;
    }

    public Builder attempts(AttemptPolicy attempts) {
      this.attempts = Objects.requireNonNull(attempts, "attempts");
      return this;
    }

    public Builder affinity(AffinityPolicy affinity) {
      this.affinity = Objects.requireNonNull(affinity, "affinity");
      return this;
    }

    public Builder breaker(BreakerPolicy breaker) {
      this.breaker = Objects.requireNonNull(breaker, "breaker");
      return this;
    }

    /**
     * The URI of the state store: {@code memory:} (the default), {@code redis://host:6379/0}, or
     * any scheme a {@link dev.geminirotator.api.spi.KeyStateStoreProvider} on the class path
     * handles. Only the syntax is checked here; the provider is looked up when a rotator is built.
     */
    public Builder storage(String uri) {
      Objects.requireNonNull(uri, "storage");
      String trimmed = uri.trim();
      boolean valid = SCHEME_ONLY.matcher(trimmed).matches();
      if (!valid) {
        try {
          valid = new URI(trimmed).getScheme() != null;
        } catch (URISyntaxException e) {
          valid = false;
        }
      }
      if (!valid) {
        throw new IllegalArgumentException("storage must be a URI with a scheme, such as memory:"
            + " or redis://host:6379/0, but was '" + printable(redact(uri)) + "'");
      }
      this.storage = trimmed;
      return this;
    }

    /**
     * @throws IllegalArgumentException when two keys share an id or a secret, naming their
     *     positions (never the secret)
     */
    public RotatorConfig build() {
      List<String> origins = new ArrayList<>(keys.size());
      for (int i = 0; i < keys.size(); i++) origins.add("keys[" + i + "]");
      List<String> problems = new ArrayList<>();
      for (String problem : duplicates(keys, origins)) {
        if (problem != null) problems.add(problem);
      }
      if (!problems.isEmpty()) {
        throw new IllegalArgumentException(String.join("; ", problems));
      }
      return new RotatorConfig(this);
    }
  }
}
