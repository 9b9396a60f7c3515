package dev.geminirotator.config;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.config.RotatorConfig;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.DoubleConsumer;
import java.util.function.Function;
import java.util.function.IntConsumer;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * A path-aware view of one node of a configuration tree (the maps, lists and strings a YAML parser
 * produces), that reads typed fields, applies environment overrides and collects errors.
 *
 * <p><b>Reading.</b> Every getter takes the field's name and a default and returns, in order of
 * precedence: the environment override, the value in the tree, the default. The override's name
 * derives from the field's path: {@code health.threshold} is {@code GEMINI_ROTATOR_HEALTH_THRESHOLD},
 * {@code cooldown.backoff-base} is {@code GEMINI_ROTATOR_COOLDOWN_BACKOFF_BASE} (see
 * {@link #envName}). Fields of list entries have no override. A blank environment value counts as
 * unset. A field that is present with no value ({@code threshold:}) takes its default. String values
 * in the tree have their {@code ${VAR}} and {@code ${VAR:default}} placeholders resolved from the
 * environment when they are read; <code>$${</code> writes a literal <code>${</code>. Values from the
 * environment are taken literally.
 *
 * <p><b>Errors</b> are collected, not thrown: a getter that cannot parse its value records an error
 * naming the field path, the bad value and what is accepted, and returns the default. The
 * {@code check}/{@code build} methods and the getters that take a setter run builder code and turn
 * its {@link IllegalArgumentException} into an error prefixed with this node's path, so a setter's
 * {@code "weight must be >= 1 ..."} becomes {@code "keys[2].weight must be >= 1 ..."}. When a bad
 * value came from the environment, the error names the variable. {@link #finish()} on the root adds
 * an error for each field nobody read (with the closest known name as a suggestion) and throws a
 * {@link ConfigException} with all of them. Secrets read with {@link #secret} or {@link #asSecret}
 * are never shown in an error.
 *
 * <p><b>Describing.</b> A {@link #describe()} root has no values: getters return their defaults and
 * record each field's path, type, default and environment variable, so running a section reader
 * against it lists the fields that reader knows ({@link #fields()}), from the same code and
 * constants that read them. Every root records its fields this way.
 *
 * <p>The public methods are the ones other modules read their own sections with (the standalone
 * proxy's records); the rest (setter-taking getters, {@code check}/{@code build}, decimals, enums,
 * maps, shape queries) serve this module's {@link RotatorSections} and stay package-private.
 *
 * <p>A tree and its nodes are used by one thread while a configuration is read; not thread-safe.
 */
public final class ConfigNode {

  /** The prefix of every environment override. */
  static final String ENV_PREFIX = "GEMINI_ROTATOR_";

  private static final Pattern DECIMAL =
      Pattern.compile("[-+]?(\\d+(\\.\\d*)?|\\.\\d+)([eE][-+]?\\d+)?");
  private static final Pattern INTEGER = Pattern.compile("[-+]?\\d+");
  private static final Pattern VAR_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
  /** Secrets shorter than this are not scrubbed from messages, so they cannot mangle them. */
  private static final int MIN_SCRUBBED_SECRET = 8;

  private final Context ctx;
  private final boolean root;
  private final String path;
  private final Object value;
  private final Map<String, Object> map;
  private final boolean envOverrides;
  private final String envSource;

  private final Set<String> known = new LinkedHashSet<>();
  private final Set<String> consumed = new LinkedHashSet<>();
  private final Map<String, String> envUsed = new HashMap<>();
  private final Map<String, Object> children = new LinkedHashMap<>();
  private int errorCount;

  private ConfigNode(Context ctx, boolean root, String path, Object value, boolean envOverrides,
      String envSource) {
    this.ctx = ctx;
    this.root = root;
    this.path = path;
    this.value = normalize(value);
    this.map = this.value instanceof Map ? castMap(this.value) : null;
    this.envOverrides = envOverrides;
    this.envSource = envSource;
  }

  /**
   * A root over a parsed tree.
   *
   * @param tree a {@code Map} of fields, or {@code null} for an empty configuration; anything else
   *     is recorded as an error
   * @param env the environment to read overrides and placeholders from
   */
  static ConfigNode of(Object tree, Map<String, String> env) {
    return of(tree, env, null, null);
  }

  /**
   * A root over a parsed tree, as {@link #of(Object, Map)}.
   *
   * @param tree a {@code Map} of fields, or {@code null} for an empty configuration
   * @param env the environment to read overrides and placeholders from
   * @param baseDir what relative paths in the configuration resolve against; {@code null} for the
   *     working directory
   * @param source where the tree came from, for error messages (a file name), or {@code null}
   */
  static ConfigNode of(Object tree, Map<String, String> env, Path baseDir, String source) {
    Objects.requireNonNull(env, "env");
    Path dir = baseDir != null ? baseDir : Path.of("").toAbsolutePath();
    Context ctx = new Context(Map.copyOf(env), dir, source, false);
    if (tree != null && !(tree instanceof Map)) {
      ctx.errors.add("the top level must be a map of fields but was " + kind(tree));
      tree = null;
    }
    return new ConfigNode(ctx, true, "", tree, true, null);
  }

  /** A root with no values that records every field read from it; see {@link #fields()}. */
  public static ConfigNode describe() {
    return new ConfigNode(new Context(Map.of(), Path.of("").toAbsolutePath(), null, true), true,
        "", null, true, null);
  }

  /**
   * The environment variable that overrides the field at this path: {@value #ENV_PREFIX} and the
   * path in upper case, with {@code .} and {@code -} turned into {@code _}.
   */
  static String envName(String path) {
    return ENV_PREFIX + path.toUpperCase(Locale.ROOT).replace('.', '_').replace('-', '_');
  }

  /** This node's path, e.g. {@code health} or {@code keys[2]}; empty for the root. */
  public String path() {
    return path;
  }

  /** Whether this node is a {@link #describe()} node. */
  public boolean isDescribing() {
    return ctx.describing;
  }

  /** What relative file paths in the configuration resolve against. */
  public Path baseDir() {
    return ctx.baseDir;
  }

  /** Whether this node has a value (a map, list or string) in the tree or the environment. */
  boolean isPresent() {
    return value != null;
  }

  /** Whether this node is a map of fields. A describing list entry is an empty map. */
  boolean isMap() {
    return map != null;
  }

  /** Whether this node is a single value, such as a string entry of a list. */
  boolean isScalar() {
    return value instanceof String;
  }

  /** Names of the fields present in this map node, in file order; reading none of them. */
  Set<String> names() {
    return map == null ? Set.of() : Collections.unmodifiableSet(map.keySet());
  }

  /**
   * Whether a field has a value in the tree or in its environment override. Declares the name as
   * known to this node (for suggestions) but does not read it.
   */
  boolean has(String name) {
    known.add(name);
    if (ctx.describing) return false;
    if (map != null && map.get(name) != null) return true;
    return envValue(qualify(name)) != null;
  }

  // -----------------------------------------------------------------------------------------------
  // Getters

  /** A string field. */
  public String string(String name, String def) {
    String raw = raw(name, "string", def, false);
    return raw != null ? raw : def;
  }

  /**
   * A secret field, or {@code null} when absent. The value never appears in an error message
   * (any message that would contain it shows {@code ****}).
   */
  public String secret(String name) {
    return raw(name, "secret", null, true);
  }

  /** An integer field. */
  public Integer integer(String name, Integer def) {
    String raw = raw(name, "integer", def, false);
    Integer v = raw == null ? null : parse(name, raw, ConfigNode::parseInteger);
    return v != null ? v : def;
  }

  /** A decimal field, written {@code 0.5}, {@code .5} or {@code 5e-1}. */
  Double decimal(String name, Double def) {
    String raw = raw(name, "decimal", def, false);
    Double v = raw == null ? null : parse(name, raw, ConfigNode::parseDecimal);
    return v != null ? v : def;
  }

  /** A boolean field, {@code true} or {@code false} in any case. */
  public Boolean bool(String name, Boolean def) {
    String raw = raw(name, "boolean", def, false);
    Boolean v = raw == null ? null : parse(name, raw, ConfigNode::parseBoolean);
    return v != null ? v : def;
  }

  /** A duration field: {@code 250ms}, {@code 45.8s}, {@code 5m}, {@code 2h}, {@code 1d} or ISO-8601. */
  public Duration duration(String name, Duration def) {
    String raw = raw(name, "duration", def, false);
    Duration v = raw == null ? null : parse(name, raw, ConfigNode::parseDuration);
    return v != null ? v : def;
  }

  /**
   * An enum field, written in any case with dashes or underscores: {@code round-robin},
   * {@code ROUND_ROBIN}. An error lists the allowed values.
   */
  <E extends Enum<E>> E enumValue(String name, Class<E> type, E def) {
    String raw = raw(name, "one of " + allowed(type), def, false);
    E v = raw == null ? null : parse(name, raw, text -> parseEnum(type, text));
    return v != null ? v : def;
  }

  /**
   * A field of any other type.
   *
   * @param type how the reference documentation names the type, e.g. {@code time zone}
   * @param parser turns the text into a value, or throws an {@link IllegalArgumentException} whose
   *     message continues the field's path, e.g. {@code "is not a time zone: use ..."}; the value
   *     shown is appended
   */
  public <T> T value(String name, String type, T def, Function<String, ? extends T> parser) {
    String raw = raw(name, type, def, false);
    T v = raw == null ? null : parse(name, raw, parser);
    return v != null ? v : def;
  }

  /**
   * A list of strings: a YAML list, or a comma-separated string (which is also how the environment
   * override is written).
   */
  public List<String> stringList(String name, List<String> def) {
    known.add(name);
    String fieldPath = qualify(name);
    String var = envOverrides ? envName(fieldPath) : null;
    ctx.document(fieldPath, "list of strings", def, var);
    if (ctx.describing) return def;
    Object fileValue = take(name);
    String env = var != null ? envValue(fieldPath) : null;
    if (env != null) {
      envUsed.put(name, var);
      return splitList(env);
    }
    if (fileValue == null) return def;
    if (fileValue instanceof Map) {
      report(fieldPath + " must be a list but was a map", null);
      return def;
    }
    if (fileValue instanceof String s) {
      String resolved = resolve(fieldPath, s, false);
      return resolved == null ? def : splitList(resolved);
    }
    List<String> out = new ArrayList<>();
    List<?> items = (List<?>) fileValue;
    for (int i = 0; i < items.size(); i++) {
      Object item = normalize(items.get(i));
      String itemPath = fieldPath + "[" + i + "]";
      if (item == null) continue;
      if (!(item instanceof String s)) {
        report(itemPath + " must be a single value but was " + kind(item), null);
        continue;
      }
      String resolved = resolve(itemPath, s, false);
      if (resolved != null) out.add(resolved);
    }
    return List.copyOf(out);
  }

  /**
   * A map of string values, such as labels. The environment override is written
   * {@code name=value,name=value}.
   */
  Map<String, String> stringMap(String name) {
    known.add(name);
    String fieldPath = qualify(name);
    String var = envOverrides ? envName(fieldPath) : null;
    ctx.document(fieldPath, "map of strings", null, var);
    if (ctx.describing) return Map.of();
    Object fileValue = take(name);
    String env = var != null ? envValue(fieldPath) : null;
    Map<String, String> out = new LinkedHashMap<>();
    if (env != null) {
      envUsed.put(name, var);
      for (String pair : splitList(env)) {
        int eq = pair.indexOf('=');
        if (eq <= 0) {
          report(fieldPath + " must be written name=value,name=value but had '" + printable(pair)
              + "'", var);
          continue;
        }
        out.put(pair.substring(0, eq).trim(), pair.substring(eq + 1).trim());
      }
      return Collections.unmodifiableMap(out);
    }
    if (fileValue == null) return Map.of();
    if (!(fileValue instanceof Map)) {
      report(fieldPath + " must be a map but was " + kind(fileValue), null);
      return Map.of();
    }
    for (Map.Entry<String, Object> e : castMap(normalize(fileValue)).entrySet()) {
      String itemPath = fieldPath + "." + e.getKey();
      Object item = e.getValue();
      if (item == null) {
        out.put(e.getKey(), "");
      } else if (!(item instanceof String s)) {
        report(itemPath + " must be a single value but was " + kind(item), null);
      } else {
        String resolved = resolve(itemPath, s, false);
        if (resolved != null) out.put(e.getKey(), resolved);
      }
    }
    return Collections.unmodifiableMap(out);
  }

  /**
   * The map node of a section such as {@code health}. An absent section is an empty node whose
   * fields still read their environment overrides.
   */
  public ConfigNode child(String name) {
    known.add(name);
    Object cached = children.get(name);
    if (cached instanceof ConfigNode node) return node;
    String childPath = qualify(name);
    Object v = ctx.describing ? Map.of() : take(name);
    if (v != null && !(v instanceof Map)) {
      report(childPath + " must be a map of fields but was " + kind(v), null);
      v = null;
    }
    ConfigNode node = new ConfigNode(ctx, false, childPath, v, envOverrides, null);
    children.put(name, node);
    return node;
  }

  /** The entries of a list field, each a node with path {@code name[i]}. */
  List<ConfigNode> list(String name) {
    return list(name, envOverrides ? envName(qualify(name)) : null);
  }

  /**
   * The entries of a list field, overridden by a comma-separated environment variable with a
   * name of the caller's choosing ({@code null} for none). Entries from the environment are string
   * nodes; errors about them name the variable.
   */
  @SuppressWarnings("unchecked")
  public List<ConfigNode> list(String name, String envVar) {
    known.add(name);
    Object cached = children.get(name);
    if (cached instanceof List) return (List<ConfigNode>) cached;
    String fieldPath = qualify(name);
    ctx.document(fieldPath, "list", null, envVar);
    List<ConfigNode> out = new ArrayList<>();
    if (ctx.describing) {
      out.add(new ConfigNode(ctx, false, fieldPath + "[]", Map.of(), false, null));
    } else {
      Object fileValue = take(name);
      String env = envVar != null ? blankToNull(ctx.env.get(envVar)) : null;
      if (env != null) {
        envUsed.put(name, envVar);
        List<String> items = splitList(env);
        for (int i = 0; i < items.size(); i++) {
          out.add(new ConfigNode(ctx, false, fieldPath + "[" + i + "]", items.get(i), false,
              envVar));
        }
      } else if (fileValue instanceof List<?> items) {
        for (int i = 0; i < items.size(); i++) {
          out.add(new ConfigNode(ctx, false, fieldPath + "[" + i + "]", items.get(i), false,
              null));
        }
      } else if (fileValue != null) {
        report(fieldPath + " must be a list but was " + kind(fileValue), null);
      }
    }
    List<ConfigNode> result = Collections.unmodifiableList(out);
    children.put(name, result);
    return result;
  }

  /**
   * This node's own value when it is a single value (a string entry of a list), placeholders
   * resolved; {@code null} when it has none or is not a single value (which is recorded as an
   * error).
   */
  String asString() {
    return scalar(false);
  }

  /** As {@link #asString()}, for a secret that must never appear in an error message. */
  public String asSecret() {
    return scalar(true);
  }

  // -----------------------------------------------------------------------------------------------
  // Setters and errors

  /** Reads a string field and passes it to a setter, unless it is {@code null}. */
  void string(String name, String def, Consumer<String> setter) {
    String v = string(name, def);
    if (v != null) apply(name, () -> setter.accept(v));
  }

  /** Reads a secret field and passes it to a setter, unless it is absent or blank. */
  void secret(String name, Consumer<String> setter) {
    String v = secret(name);
    if (v != null && !v.isBlank()) apply(name, () -> setter.accept(v));
  }

  /** Reads an integer field and passes it to a setter; see {@link #check(Runnable)}. */
  void integer(String name, int def, IntConsumer setter) {
    int v = integer(name, (Integer) def);
    apply(name, () -> setter.accept(v));
  }

  /** Reads a decimal field and passes it to a setter; see {@link #check(Runnable)}. */
  void decimal(String name, double def, DoubleConsumer setter) {
    double v = decimal(name, (Double) def);
    apply(name, () -> setter.accept(v));
  }

  /** Reads a boolean field and passes it to a setter; see {@link #check(Runnable)}. */
  void bool(String name, boolean def, Consumer<Boolean> setter) {
    boolean v = bool(name, (Boolean) def);
    apply(name, () -> setter.accept(v));
  }

  /** Reads a duration field and passes it to a setter; see {@link #check(Runnable)}. */
  void duration(String name, Duration def, Consumer<Duration> setter) {
    Duration v = duration(name, def);
    apply(name, () -> setter.accept(v));
  }

  /** Reads an enum field and passes it to a setter; see {@link #check(Runnable)}. */
  <E extends Enum<E>> void enumValue(String name, Class<E> type, E def,
      Consumer<E> setter) {
    E v = enumValue(name, type, def);
    apply(name, () -> setter.accept(v));
  }

  /**
   * Runs builder code, turning an {@link IllegalArgumentException} into an error prefixed with
   * this node's path: {@code "weight must be >= 1 but was 0"} becomes
   * {@code "keys[2].weight must be >= 1 but was 0"}.
   */
  void check(Runnable action) {
    try {
      action.run();
    } catch (IllegalArgumentException e) {
      report(prefix() + e.getMessage(), null);
    }
  }

  /**
   * Builds this section's object, e.g. {@code HealthPolicy.Builder::build}, or returns
   * {@code fallback} when the build fails (the error prefixed as by {@link #check(Runnable)}) or
   * when a field of this node already failed, so a bad field does not also surface as a spurious
   * conflict with a default.
   */
  <T> T build(Supplier<T> builder, T fallback) {
    if (errorCount > 0 && !ctx.describing) return fallback;
    try {
      return builder.get();
    } catch (IllegalArgumentException e) {
      report(prefix() + e.getMessage(), null);
      return fallback;
    }
  }

  /**
   * Records an error written by the caller, who names the path (see {@link #path()}). When this
   * node's value came from the environment, the variable is appended.
   */
  public void error(String message) {
    report(message, null);
  }

  /** The fields every getter has declared so far, in the order first read; see {@link #describe()}. */
  public List<FieldDoc> fields() {
    return List.copyOf(ctx.docs.values());
  }

  /**
   * Ends reading: adds an error for every field of a read map that no getter asked for, with the
   * closest known name as a suggestion, and throws if there are any errors. Only the root finishes;
   * a describing root never throws.
   *
   * @throws ConfigException with every error collected
   */
  public void finish() {
    if (!root) {
      throw new IllegalStateException("finish() belongs to the root node, not " + path);
    }
    if (ctx.describing) return;
    reportUnknown();
    if (!ctx.errors.isEmpty()) {
      throw new ConfigException(ctx.source, ctx.scrubbed());
    }
  }

  // -----------------------------------------------------------------------------------------------
  // Internals for the loader

  /** A variable from the environment, or {@code null} when unset or blank. */
  String environment(String name) {
    return ctx.describing ? null : blankToNull(ctx.env.get(name));
  }

  /** Hides this value in every error message. */
  void registerSecret(String secret) {
    if (secret != null) ctx.secrets.add(secret);
  }

  /** How many errors have been recorded anywhere in this tree so far. */
  int errorTotal() {
    return ctx.errors.size();
  }

  // -----------------------------------------------------------------------------------------------

  private String qualify(String name) {
    return path.isEmpty() ? name : path + "." + name;
  }

  private String prefix() {
    return path.isEmpty() ? "" : path + ".";
  }

  private Object take(String name) {
    if (map == null || !map.containsKey(name)) return null;
    consumed.add(name);
    return normalize(map.get(name));
  }

  private String envValue(String fieldPath) {
    return envOverrides ? blankToNull(ctx.env.get(envName(fieldPath))) : null;
  }

  /** The text of a single-valued field after overrides and placeholders, or null for "use the default". */
  private String raw(String name, String type, Object def, boolean secret) {
    known.add(name);
    String fieldPath = qualify(name);
    String var = envOverrides ? envName(fieldPath) : null;
    ctx.document(fieldPath, type, def, var);
    if (ctx.describing) return null;
    Object fileValue = take(name);
    String env = var != null ? blankToNull(ctx.env.get(var)) : null;
    if (env != null) {
      envUsed.put(name, var);
      String v = env.trim();
      if (secret) registerSecret(v);
      return v;
    }
    if (fileValue == null) return null;
    if (!(fileValue instanceof String s)) {
      report(fieldPath + " must be a single value but was " + kind(fileValue), null);
      return null;
    }
    String resolved = resolve(fieldPath, s, secret);
    if (secret) registerSecret(resolved);
    return resolved;
  }

  private String scalar(boolean secret) {
    if (ctx.describing || value == null) return null;
    if (!(value instanceof String s)) {
      report(path + " must be a single value but was " + kind(value), null);
      return null;
    }
    String resolved = envSource != null ? s : resolve(path, s, secret);
    if (secret) registerSecret(resolved);
    return resolved;
  }

  private <T> T parse(String name, String raw, Function<String, ? extends T> parser) {
    try {
      return parser.apply(raw);
    } catch (IllegalArgumentException e) {
      // Redacted like a URI: a malformed URL may still carry user:password@ or a ?key=.
      report(qualify(name) + " " + e.getMessage() + " but was '"
          + printable(maskUserInfo(RotatorConfig.redact(raw))) + "'",
          envUsed.get(name));
      return null;
    }
  }

  private void apply(String name, Runnable setter) {
    try {
      setter.run();
    } catch (IllegalArgumentException e) {
      report(prefix() + e.getMessage(), envUsed.get(name));
    }
  }

  private void report(String message, String var) {
    if (ctx.describing) return;
    String from = var != null ? var : envSource;
    String full = from == null ? message : message + " (from " + from + ")";
    if (ctx.errors.add(full)) errorCount++;
  }

  /**
   * Resolves {@code ${VAR}}, {@code ${VAR:default}} and <code>$${</code>; records an error and returns
   * null when a variable is missing or a placeholder is malformed.
   */
  private String resolve(String fieldPath, String text, boolean secret) {
    if (text.indexOf('$') < 0) return text;
    StringBuilder out = new StringBuilder(text.length());
    boolean ok = true;
    int i = 0;
    while (i < text.length()) {
      if (text.startsWith("$${", i)) {
        out.append("${");
        i += 3;
      } else if (text.startsWith("${", i)) {
        int end = text.indexOf('}', i + 2);
        if (end < 0) {
          report(fieldPath + ": unterminated placeholder" + (secret ? "" : " in '" + printable(text)
              + "'") + "; close it with } or write $${ for a literal ${", null);
          return null;
        }
        String body = text.substring(i + 2, end);
        int colon = body.indexOf(':');
        String var = colon < 0 ? body.trim() : body.substring(0, colon).trim();
        String fallback = colon < 0 ? null : body.substring(colon + 1);
        if (!VAR_NAME.matcher(var).matches()) {
          report(fieldPath + ": placeholder " + (secret ? "" : "${" + printable(body) + "} ")
              + "does not name an environment variable; write ${NAME} or ${NAME:default}", null);
          ok = false;
        } else {
          String v = blankToNull(ctx.env.get(var));
          if (v == null) v = fallback;
          if (v == null) {
            report(fieldPath + ": environment variable " + var + " is not set", null);
            ok = false;
          } else {
            out.append(v);
          }
        }
        i = end + 1;
      } else {
        out.append(text.charAt(i++));
      }
    }
    return ok ? out.toString() : null;
  }

  private void reportUnknown() {
    if (map != null) {
      for (String name : map.keySet()) {
        if (consumed.contains(name)) continue;
        String where = path.isEmpty() ? "the top level" : path;
        Set<String> others = new LinkedHashSet<>(known);
        others.remove(name);
        String suggestion = closest(name, others);
        String hint;
        if (suggestion != null) {
          hint = " (did you mean '" + suggestion + "'?)";
        } else if (!others.isEmpty()) {
          hint = " (known fields: " + String.join(", ", others) + ")";
        } else {
          hint = "";
        }
        report("unknown field '" + fieldName(name) + "' at " + where + hint, null);
      }
    }
    for (Object child : children.values()) {
      if (child instanceof ConfigNode node) {
        node.reportUnknown();
      } else {
        for (Object item : (List<?>) child) ((ConfigNode) item).reportUnknown();
      }
    }
  }

  /** The known name nearest to {@code name}, ignoring case, dashes and underscores; or null. */
  static String closest(String name, Set<String> known) {
    String a = squash(name);
    String best = null;
    int bestDistance = Integer.MAX_VALUE;
    for (String candidate : known) {
      String b = squash(candidate);
      int d = distance(a, b);
      if (d < bestDistance) {
        bestDistance = d;
        best = candidate;
      }
    }
    if (best == null) return null;
    int limit = Math.max(1, Math.min(3, squash(best).length() / 3));
    return bestDistance <= limit ? best : null;
  }

  private static String squash(String s) {
    return s.toLowerCase(Locale.ROOT).replace("-", "").replace("_", "");
  }

  private static int distance(String a, String b) {
    int[] prev = new int[b.length() + 1];
    int[] cur = new int[b.length() + 1];
    for (int j = 0; j <= b.length(); j++) prev[j] = j;
    for (int i = 1; i <= a.length(); i++) {
      cur[0] = i;
      for (int j = 1; j <= b.length(); j++) {
        int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
        cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
      }
      int[] t = prev;
      prev = cur;
      cur = t;
    }
    return prev[b.length()];
  }

  // -----------------------------------------------------------------------------------------------
  // Parsers: each throws an IllegalArgumentException whose message continues the field's path.

  private static Integer parseInteger(String text) {
    String t = text.trim();
    if (INTEGER.matcher(t).matches()) {
      try {
        return Integer.valueOf(t.startsWith("+") ? t.substring(1) : t);
      } catch (NumberFormatException e) {
        // out of range: fall through
      }
    }
    throw new IllegalArgumentException("must be an integer");
  }

  private static Double parseDecimal(String text) {
    String t = text.trim();
    if (!DECIMAL.matcher(t).matches()) {
      throw new IllegalArgumentException("must be a number");
    }
    return Double.valueOf(t);
  }

  private static Boolean parseBoolean(String text) {
    String t = text.trim();
    if (t.equalsIgnoreCase("true")) return Boolean.TRUE;
    if (t.equalsIgnoreCase("false")) return Boolean.FALSE;
    throw new IllegalArgumentException("must be true or false");
  }

  private static Duration parseDuration(String text) {
    try {
      return DurationText.parse(text);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(e.getMessage() != null && e.getMessage().endsWith("too long")
          ? "is not a duration: it is too long"
          : "is not a duration: use a number with ms, s, m, h or d (250ms, 45.8s, 5m) or"
              + " ISO-8601 (PT30S)");
    }
  }

  private static <E extends Enum<E>> E parseEnum(Class<E> type, String text) {
    String wanted = text.trim().toLowerCase(Locale.ROOT).replace('_', '-');
    for (E constant : type.getEnumConstants()) {
      if (yamlName(constant).equals(wanted)) return constant;
    }
    throw new IllegalArgumentException("must be one of " + allowed(type));
  }

  /** How an enum constant is written in YAML: {@code ROUND_ROBIN} is {@code round-robin}. */
  static String yamlName(Enum<?> constant) {
    return constant.name().toLowerCase(Locale.ROOT).replace('_', '-');
  }

  private static String allowed(Class<? extends Enum<?>> type) {
    return Arrays.stream(type.getEnumConstants()).map(ConfigNode::yamlName)
        .collect(Collectors.joining(", "));
  }

  // -----------------------------------------------------------------------------------------------

  private static List<String> splitList(String text) {
    List<String> out = new ArrayList<>();
    for (String part : text.split(",")) {
      String t = part.trim();
      if (!t.isEmpty()) out.add(t);
    }
    return List.copyOf(out);
  }

  private static String blankToNull(String s) {
    return s == null || s.isBlank() ? null : s;
  }

  /** Maps keep their order with string keys; single values become strings; lists stay lists. */
  private static Object normalize(Object v) {
    if (v == null || v instanceof String || v instanceof List) return v;
    if (v instanceof Map<?, ?> m) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : m.entrySet()) {
        out.put(e.getKey() == null ? "" : String.valueOf(e.getKey()), e.getValue());
      }
      return out;
    }
    return String.valueOf(v);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> castMap(Object v) {
    return (Map<String, Object>) v;
  }

  private static String kind(Object v) {
    if (v instanceof Map) return "a map";
    if (v instanceof List) return "a list";
    return "a single value";
  }

  /**
   * Masks everything between a {@code //} and the last {@code @} after it: the user info of a URL
   * too malformed for {@link RotatorConfig#redact} (a password with an unencoded {@code /},
   * {@code ?} or {@code #} is what makes such a URL malformed).
   */
  static String maskUserInfo(String s) {
    int start = s.indexOf("//");
    int at = s.lastIndexOf('@');
    if (start < 0 || at < start + 2) return s;
    return s.substring(0, start + 2) + "****" + s.substring(at);
  }

  /** A value as shown in a message: control characters replaced, long values cut. */
  static String printable(String s) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < s.length() && sb.length() < 80; i++) {
      char c = s.charAt(i);
      sb.append(c < ' ' || c == 0x7f ? '?' : c);
    }
    if (s.length() > 80) sb.append('…');
    return sb.toString();
  }

  /**
   * A field name as shown in a message. Real field names are short; a long one is more likely a
   * pasted secret, so it is masked like a key.
   */
  static String fieldName(String name) {
    return name.length() <= 32 ? printable(name) : ApiKey.mask(name);
  }

  static String formatDefault(Object def) {
    if (def == null) return null;
    if (def instanceof Duration d) return DurationText.format(d);
    if (def instanceof Enum<?> e) return yamlName(e);
    if (def instanceof List<?> l) {
      return l.stream().map(String::valueOf).collect(Collectors.joining(","));
    }
    return String.valueOf(def);
  }

  /** What every node of one tree shares. */
  private static final class Context {
    final Map<String, String> env;
    final Path baseDir;
    final String source;
    final boolean describing;
    final Set<String> errors = new LinkedHashSet<>();
    final Set<String> secrets = new LinkedHashSet<>();
    final Map<String, FieldDoc> docs = new LinkedHashMap<>();

    Context(Map<String, String> env, Path baseDir, String source, boolean describing) {
      this.env = env;
      this.baseDir = baseDir;
      this.source = source;
      this.describing = describing;
    }

    void document(String path, String type, Object def, String env) {
      docs.putIfAbsent(path, new FieldDoc(path, type, formatDefault(def), env));
    }

    /** The errors with every known secret replaced by {@code ****}, longest secrets first. */
    List<String> scrubbed() {
      List<String> sorted = new ArrayList<>();
      for (String s : secrets) {
        if (s.length() >= MIN_SCRUBBED_SECRET) sorted.add(s);
      }
      sorted.sort((a, b) -> b.length() - a.length());
      List<String> out = new ArrayList<>(errors.size());
      for (String error : errors) {
        String e = error;
        for (String secret : sorted) e = e.replace(secret, "****");
        out.add(e);
      }
      return out;
    }
  }
}
