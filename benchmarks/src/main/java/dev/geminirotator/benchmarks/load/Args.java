package dev.geminirotator.benchmarks.load;

import java.util.HashMap;
import java.util.Map;

/**
 * {@code --name value} command-line options with defaults; unknown names are an error. Shared by
 * the load tools and the engine baselines ({@code ..benchmarks.engines}). Not thread-safe.
 */
public final class Args {

  private final Map<String, String> values = new HashMap<>();

  /** Parses {@code argv}, accepting only the option names in {@code known}. */
  public Args(String[] argv, String... known) {
    for (int i = 0; i < argv.length; i++) {
      String name = argv[i];
      if (!name.startsWith("--") || i + 1 >= argv.length) {
        throw new IllegalArgumentException("expected --name value but got: " + name);
      }
      boolean ok = false;
      for (String k : known) ok |= k.equals(name.substring(2));
      if (!ok) {
        throw new IllegalArgumentException("unknown option " + name + "; known: "
            + String.join(", ", known));
      }
      values.put(name.substring(2), argv[++i]);
    }
  }

  /** The option's value, else {@code dflt}; a missing option without default is an error. */
  public String string(String name, String dflt) {
    String v = values.get(name);
    if (v == null && dflt == null) throw new IllegalArgumentException("--" + name + " is required");
    return v != null ? v : dflt;
  }

  /** The option's value as a whole number, else {@code dflt}. */
  public long number(String name, long dflt) {
    String v = values.get(name);
    try {
      return v != null ? Long.parseLong(v) : dflt;
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("--" + name + " must be a whole number but was " + v);
    }
  }
}
