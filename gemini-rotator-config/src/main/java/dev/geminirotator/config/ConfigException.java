package dev.geminirotator.config;

import java.util.List;
import java.util.Objects;

/**
 * A configuration that cannot be used, with every problem found rather than only the first. Each
 * error names the field path, the bad value (never a secret) and what would be accepted, e.g.
 * {@code "health.threshold must be >= 0.0 and <= 1.0 but was 1.5"}. Immutable.
 */
public final class ConfigException extends RuntimeException {

  private static final long serialVersionUID = 1L;

  private final String source;
  private final List<String> errors;

  /**
   * @param source where the configuration came from, e.g. a file name, or {@code null}
   * @param errors the problems, at least one
   */
  public ConfigException(String source, List<String> errors) {
    super(message(source, errors));
    this.source = source;
    this.errors = List.copyOf(errors);
  }

  /** A single problem in the named source. */
  public ConfigException(String source, String error) {
    this(source, List.of(error));
  }

  /** Where the configuration came from (a file name, {@code environment}), or {@code null}. */
  public String source() {
    return source;
  }

  /** Every problem found, in the order the fields were read. */
  public List<String> errors() {
    return errors;
  }

  private static String message(String source, List<String> errors) {
    Objects.requireNonNull(errors, "errors");
    if (errors.isEmpty()) {
      throw new IllegalArgumentException("a ConfigException needs at least one error");
    }
    String where = source == null ? "" : " in " + source;
    String count = errors.size() == 1 ? "1 error" : errors.size() + " errors";
    return "invalid configuration" + where + " (" + count + "):\n  - "
        + String.join("\n  - ", errors);
  }
}
