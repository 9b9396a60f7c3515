package dev.geminirotator.api;

import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * One Gemini API key in a pool: a stable {@link #id()}, the {@link #secret()}, a selection weight,
 * free-form labels and optional request quotas.
 *
 * <p>The id never contains the secret. When none is given it is derived from the secret with an
 * HMAC-SHA-256 under a salt ({@code key-1a2b3c4d5e6f}), so that an id shown in metrics or logs
 * confirms nothing about a guessed key. The salt is this process's own random one unless one is
 * given ({@link Builder#idSalt}, {@link #withIdSalt}): a rotator derives ids under the salt its
 * store shares ({@code KeyStateStore.keyIdSalt()}), so instances on one Redis agree on them and
 * they stay stable as long as the store keeps its state. An explicit {@link Builder#id id} is
 * used as given. The label
 * {@value #PROJECT_LABEL} names the Google Cloud project the key belongs to: Gemini quotas are per
 * project and model, so keys of one project share rate-limit cooldowns. A key without the label is
 * its own project.
 *
 * <p>{@link #toString()} shows the id and a {@link #masked() masked} form, never the secret.
 * Instances are immutable and thread-safe.
 */
public final class ApiKey {

  /** The label that names a key's Google Cloud project. */
  public static final String PROJECT_LABEL = "project";
  /** The weight a key gets when none is set. */
  public static final int DEFAULT_WEIGHT = 1;
  /** The largest weight a key may have. */
  public static final int MAX_WEIGHT = 1_000;

  private static final Pattern ID_PATTERN = Pattern.compile("[A-Za-z0-9._:@-]{1,128}");

  private final String id;
  /** The salt a derived id was made with, or null for an explicit id. Never shown. */
  private final String idSalt;
  private final String secret;
  private final int weight;
  private final Map<String, String> labels;
  private final int requestsPerMinute;
  private final int requestsPerDay;

  private ApiKey(Builder builder) {
    this.secret = builder.secret;
    this.idSalt = builder.id != null ? null
        : builder.idSalt != null ? builder.idSalt : ProcessSalt.VALUE;
    this.id = builder.id != null ? builder.id : deriveId(idSalt, builder.secret);
    this.weight = builder.weight;
    this.labels = Map.copyOf(builder.labels);
    this.requestsPerMinute = builder.requestsPerMinute;
    this.requestsPerDay = builder.requestsPerDay;
  }

  /** A key with a derived id, weight 1, no labels and no quotas. */
  public static ApiKey of(String secret) {
    return builder(secret).build();
  }

  /** A key with the given id, weight 1, no labels and no quotas. */
  public static ApiKey of(String id, String secret) {
    return builder(secret).id(id).build();
  }

  /** Starts a builder for a key with this secret. */
  public static Builder builder(String secret) {
    return new Builder(secret);
  }

  /** Returns a builder preloaded with this key's fields (a derived id is derived alike). */
  public Builder toBuilder() {
    Builder b = new Builder(secret).weight(weight).labels(labels);
    if (idSalt == null) b.id(id);
    else b.idSalt(idSalt);
    if (requestsPerMinute > 0) b.requestsPerMinute(requestsPerMinute);
    if (requestsPerDay > 0) b.requestsPerDay(requestsPerDay);
    return b;
  }

  /** The stable, non-secret identifier used in logs, metrics, events and admin output. */
  public String id() {
    return id;
  }

  /** Whether the id was derived from the secret rather than given. */
  public boolean hasDerivedId() {
    return idSalt != null;
  }

  /**
   * This key with its id derived under {@code salt}, when it was derived at all: a key with an
   * explicit id is returned as it is. Rotators call it with the salt their store shares, so that
   * every instance derives the same id for one secret.
   *
   * @throws IllegalArgumentException when the salt is blank
   */
  public ApiKey withIdSalt(String salt) {
    checkSalt(salt);
    if (idSalt == null || idSalt.equals(salt)) return this;
    return toBuilder().idSalt(salt).build();
  }

  /** A new random salt for derived ids: 32 bytes from {@link SecureRandom}, in hex. */
  public static String newIdSalt() {
    byte[] salt = new byte[32];
    new SecureRandom().nextBytes(salt);
    return HexFormat.of().formatHex(salt);
  }

  /** The credential itself. Send it to Gemini; never log it. */
  public String secret() {
    return secret;
  }

  /** Relative share of traffic under weighted selection, 1 to {@value #MAX_WEIGHT}. */
  public int weight() {
    return weight;
  }

  /** Immutable labels, such as {@code project}. */
  public Map<String, String> labels() {
    return labels;
  }

  /**
   * The project whose quota this key draws on: the {@value #PROJECT_LABEL} label, or a private
   * project named after the key id when the label is absent.
   */
  public String project() {
    String project = labels.get(PROJECT_LABEL);
    return project != null ? project : "key:" + id;
  }

  /** Requests per minute this key may be given, if a quota is set. */
  public OptionalInt requestsPerMinute() {
    return requestsPerMinute > 0 ? OptionalInt.of(requestsPerMinute) : OptionalInt.empty();
  }

  /** Requests per day this key may be given, if a quota is set. */
  public OptionalInt requestsPerDay() {
    return requestsPerDay > 0 ? OptionalInt.of(requestsPerDay) : OptionalInt.empty();
  }

  /** The secret with all but its first and last four characters hidden, e.g. {@code AIza…x9Qw}. */
  public String masked() {
    return mask(secret);
  }

  /**
   * Masks any secret for display. Secrets shorter than 16 characters are hidden entirely, so a
   * short test key never leaks through its own mask.
   */
  public static String mask(String secret) {
    if (secret == null || secret.length() < 16) {
      return "****";
    }
    return secret.substring(0, 4) + "…" + secret.substring(secret.length() - 4);
  }

  /** Two keys are equal when they have the same id. */
  @Override
  public boolean equals(Object o) {
    return o instanceof ApiKey && ((ApiKey) o).id.equals(id);
  }

  @Override
  public int hashCode() {
    return id.hashCode();
  }

  /** Id, masked secret, weight and labels; never the secret. */
  @Override
  public String toString() {
    StringBuilder sb = new StringBuilder("ApiKey{id=").append(id)
        .append(", secret=").append(masked())
        .append(", weight=").append(weight);
    if (!labels.isEmpty()) sb.append(", labels=").append(labels);
    if (requestsPerMinute > 0) sb.append(", rpm=").append(requestsPerMinute);
    if (requestsPerDay > 0) sb.append(", rpd=").append(requestsPerDay);
    return sb.append('}').toString();
  }

  /**
   * {@code key-} and the first 48 bits of HMAC-SHA-256(salt, secret) in hex: without the salt, the
   * id tells nothing about the secret, and cannot confirm a guess.
   */
  static String deriveId(String salt, String secret) {
    try {
      javax.crypto.Mac mac = javax.crypto.Mac.getInstance("HmacSHA256");
      mac.init(new javax.crypto.spec.SecretKeySpec(salt.getBytes(StandardCharsets.UTF_8),
          "HmacSHA256"));
      byte[] digest = mac.doFinal(secret.getBytes(StandardCharsets.UTF_8));
      // 48 bits: collisions stay unlikely in pools of millions
      return "key-" + HexFormat.of().formatHex(digest, 0, 6);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("HmacSHA256 is missing from this JDK", e);
    }
  }

  private static void checkSalt(String salt) {
    Objects.requireNonNull(salt, "idSalt");
    if (salt.isBlank()) {
      throw new IllegalArgumentException("idSalt must not be blank");
    }
  }

  /** This process's random salt, made on first use. */
  private static final class ProcessSalt {
    static final String VALUE = newIdSalt();
  }

  /** Builds an {@link ApiKey}; each setter checks its argument. Not thread-safe. */
  public static final class Builder {
    private final String secret;
    private String id;
    private String idSalt;
    private int weight = DEFAULT_WEIGHT;
    private final Map<String, String> labels = new LinkedHashMap<>();
    private int requestsPerMinute;
    private int requestsPerDay;

    private Builder(String secret) {
      Objects.requireNonNull(secret, "secret");
      if (secret.isBlank()) {
        throw new IllegalArgumentException("secret must not be blank");
      }
      for (int i = 0; i < secret.length(); i++) {
        char c = secret.charAt(i);
        if (c <= ' ' || c == 0x7f) {
          throw new IllegalArgumentException(
              "secret must not contain whitespace or control characters (at index " + i + ")");
        }
      }
      this.secret = secret;
    }

    /** Sets the id: 1 to 128 characters of letters, digits and {@code . _ : @ -}. */
    public Builder id(String id) {
      Objects.requireNonNull(id, "id");
      if (!ID_PATTERN.matcher(id).matches()) {
        throw new IllegalArgumentException("id must be 1-128 characters of letters, digits and"
            + " . _ : @ - but was '" + id.replaceAll("[^\\x20-\\x7e]", "?") + "'");
      }
      if (id.equals(secret)) {
        throw new IllegalArgumentException("id must not be the secret itself");
      }
      this.id = id;
      return this;
    }

    /**
     * Sets the salt a derived id is made with (when no {@link #id} is set); without it, this
     * process's own random salt. Instances that share a store must use the same one, which a
     * rotator sees to ({@link ApiKey#withIdSalt}).
     */
    public Builder idSalt(String salt) {
      checkSalt(salt);
      this.idSalt = salt;
      return this;
    }

    /** Sets the weight, 1 to {@value ApiKey#MAX_WEIGHT}. */
    public Builder weight(int weight) {
      if (weight < 1 || weight > MAX_WEIGHT) {
        throw new IllegalArgumentException(
            "weight must be >= 1 and <= " + MAX_WEIGHT + " but was " + weight);
      }
      this.weight = weight;
      return this;
    }

    /** Adds or replaces one label. */
    public Builder label(String name, String value) {
      Objects.requireNonNull(name, "label name");
      Objects.requireNonNull(value, "label value");
      if (name.isBlank()) {
        throw new IllegalArgumentException("labels must not have a blank name");
      }
      labels.put(name, value);
      return this;
    }

    /** Adds or replaces all of these labels. */
    public Builder labels(Map<String, String> labels) {
      labels.forEach(this::label);
      return this;
    }

    /** Sets the {@value ApiKey#PROJECT_LABEL} label. */
    public Builder project(String project) {
      if (project == null || project.isBlank()) {
        throw new IllegalArgumentException("project must not be blank");
      }
      return label(PROJECT_LABEL, project);
    }

    /** Sets a requests-per-minute quota, at least 1. */
    public Builder requestsPerMinute(int rpm) {
      if (rpm < 1) {
        throw new IllegalArgumentException("rpm must be >= 1 but was " + rpm);
      }
      this.requestsPerMinute = rpm;
      return this;
    }

    /** Sets a requests-per-day quota, at least 1. */
    public Builder requestsPerDay(int rpd) {
      if (rpd < 1) {
        throw new IllegalArgumentException("rpd must be >= 1 but was " + rpd);
      }
      this.requestsPerDay = rpd;
      return this;
    }

    /** Builds the key. */
    public ApiKey build() {
      return new ApiKey(this);
    }
  }
}
