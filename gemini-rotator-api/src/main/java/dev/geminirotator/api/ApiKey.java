package dev.geminirotator.api;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalInt;
import java.util.regex.Pattern;

/**
 * One Gemini API key in a pool: a stable {@link #id()}, the {@link #secret()}, a selection weight,
 * free-form labels and optional request quotas.
 *
 * <p>The id never contains the secret. When none is given it is derived from a SHA-256 of the
 * secret ({@code key-1a2b3c4d5e6f}), so it is stable across restarts and instances. The label
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
  private final String secret;
  private final int weight;
  private final Map<String, String> labels;
  private final int requestsPerMinute;
  private final int requestsPerDay;

  private ApiKey(Builder builder) {
    this.secret = builder.secret;
    this.id = builder.id != null ? builder.id : deriveId(builder.secret);
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

  /** Returns a builder preloaded with this key's fields. */
  public Builder toBuilder() {
    Builder b = new Builder(secret).id(id).weight(weight).labels(labels);
    if (requestsPerMinute > 0) b.requestsPerMinute(requestsPerMinute);
    if (requestsPerDay > 0) b.requestsPerDay(requestsPerDay);
    return b;
  }

  /** The stable, non-secret identifier used in logs, metrics, events and admin output. */
  public String id() {
    return id;
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

  static String deriveId(String secret) {
    try {
      byte[] digest = MessageDigest.getInstance("SHA-256")
          .digest(secret.getBytes(StandardCharsets.UTF_8));
      StringBuilder sb = new StringBuilder("key-");
      for (int i = 0; i < 6; i++) { // 48 bits: collisions stay unlikely in pools of millions
        sb.append(Character.forDigit((digest[i] >> 4) & 0xF, 16))
            .append(Character.forDigit(digest[i] & 0xF, 16));
      }
      return sb.toString();
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is missing from this JDK", e);
    }
  }

  /** Builds an {@link ApiKey}; each setter checks its argument. Not thread-safe. */
  public static final class Builder {
    private final String secret;
    private String id;
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

    public ApiKey build() {
      return new ApiKey(this);
    }
  }
}
