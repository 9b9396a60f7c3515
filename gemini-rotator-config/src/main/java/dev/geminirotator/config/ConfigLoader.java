package dev.geminirotator.config;

import dev.geminirotator.core.config.RotatorConfig;
import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import org.snakeyaml.engine.v2.api.ConstructNode;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;
import org.snakeyaml.engine.v2.exceptions.DuplicateKeyException;
import org.snakeyaml.engine.v2.exceptions.Mark;
import org.snakeyaml.engine.v2.exceptions.MarkedYamlEngineException;
import org.snakeyaml.engine.v2.exceptions.YamlEngineException;
import org.snakeyaml.engine.v2.nodes.ScalarNode;
import org.snakeyaml.engine.v2.nodes.Tag;
import org.snakeyaml.engine.v2.resolver.ScalarResolver;
import org.snakeyaml.engine.v2.schema.Schema;

/**
 * Loads a {@link RotatorConfig} from YAML, {@code ${VAR}} placeholders and environment overrides
 * (precedence: defaults &lt; file &lt; environment), reporting every problem at once in a
 * {@link ConfigException}.
 *
 * <pre>{@code
 * RotatorConfig config = ConfigLoader.builder().build().load(Path.of("gemini-rotator.yaml"));
 * try (GeminiKeyRotator rotator = config.newRotator()) { ... }
 * }</pre>
 *
 * <p>Keys come from the file's {@code keys} list, or, when the environment has
 * {@value #KEYS_ENV} (comma-separated secrets), from it instead. Field names and
 * environment overrides are listed by {@link RotatorSections#fields()}.
 *
 * <p>A program with sections of its own (the standalone proxy's {@code server}, ...) reads them
 * from the same tree so unknown fields are still caught:
 * <pre>{@code
 * ConfigNode root = loader.root(file);
 * RotatorConfig rotator = loader.readRotator(root);
 * ServerConfig server = ServerConfig.read(root.child("server"));
 * root.finish(); // throws ConfigException listing every problem in every section
 * }</pre>
 *
 * <p>YAML values are read as text and typed by the reader, so {@code 0123} stays {@code 0123} and
 * {@code yes} is not a boolean; duplicate keys and more than one document are errors. Thread-safe:
 * a loader holds only its environment.
 */
public final class ConfigLoader {

  /** The environment variable whose comma-separated secrets replace the file's {@code keys}. */
  public static final String KEYS_ENV = "GEMINI_API_KEYS";

  private static final Schema TEXT_SCHEMA = new TextSchema();

  private final Map<String, String> env;

  private ConfigLoader(Builder b) {
    this.env = b.env;
  }

  /** A loader that reads the process environment. */
  public static ConfigLoader create() {
    return builder().build();
  }

  public static Builder builder() {
    return new Builder();
  }

  /**
   * Loads a YAML file. Relative paths in it (key files) resolve against its directory.
   *
   * @throws ConfigException with every problem found, or when the file cannot be read or parsed
   */
  public RotatorConfig load(Path file) {
    ConfigNode root = root(file);
    RotatorConfig config = readRotator(root);
    root.finish();
    return config;
  }

  /**
   * Loads YAML text; an empty text means all defaults (keys then come from the environment).
   *
   * @param baseDir what relative paths in the text resolve against; {@code null} for the working
   *     directory
   * @throws ConfigException with every problem found
   */
  public RotatorConfig loadString(String yaml, Path baseDir) {
    ConfigNode root = root(yaml, baseDir);
    RotatorConfig config = readRotator(root);
    root.finish();
    return config;
  }

  /**
   * A configuration from the environment alone: {@value #KEYS_ENV} and the
   * {@code GEMINI_ROTATOR_*} overrides.
   *
   * @throws ConfigException with every problem found
   */
  public RotatorConfig fromEnvironment() {
    ConfigNode root = ConfigNode.of(null, env, null, "environment");
    RotatorConfig config = readRotator(root);
    root.finish();
    return config;
  }

  /**
   * Parses a YAML file into a root node for {@link #readRotator} and the caller's own sections;
   * the caller ends with {@link ConfigNode#finish()}.
   *
   * @throws ConfigException when the file cannot be read or is not valid YAML with a map at the
   *     top level
   */
  public ConfigNode root(Path file) {
    Objects.requireNonNull(file, "file");
    String text;
    try {
      text = Files.readString(file, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new ConfigException(file.toString(), "cannot read the config file (" + describe(e)
          + ")");
    }
    Path dir = file.toAbsolutePath().getParent();
    return root(text, dir, file.toString());
  }

  /**
   * Parses YAML text into a root node; see {@link #root(Path)}.
   *
   * @param baseDir what relative paths resolve against; {@code null} for the working directory
   */
  public ConfigNode root(String yaml, Path baseDir) {
    return root(yaml, baseDir, null);
  }

  /**
   * Reads the rotator's sections ({@code keys}, {@code strategy}, {@code health},
   * {@code cooldown}, {@code storm}, {@code attempts}, {@code breaker}, {@code storage}) from a
   * root, recording problems in it and leaving other sections to the caller. The result is only
   * meaningful once {@link ConfigNode#finish()} on the root has returned normally; until then it
   * may hold defaults in place of bad values.
   */
  public RotatorConfig readRotator(ConfigNode root) {
    return RotatorSections.read(root);
  }

  private ConfigNode root(String yaml, Path baseDir, String source) {
    Objects.requireNonNull(yaml, "yaml");
    String label = source != null ? source : "config";
    Object tree;
    try {
      LoadSettings settings = LoadSettings.builder()
          .setLabel(label)
          .setSchema(TEXT_SCHEMA)
          .setAllowDuplicateKeys(false)
          .setAllowRecursiveKeys(false)
          .setUseMarks(true)
          .build();
      tree = new Load(settings).loadFromString(yaml);
    } catch (YamlEngineException e) {
      throw new ConfigException(source, describe(e));
    }
    if (tree != null && !(tree instanceof Map)) {
      throw new ConfigException(source, "the top level must be a map of sections (keys, strategy,"
          + " health, ...) but was " + (tree instanceof Iterable ? "a list" : "a single value"));
    }
    return ConfigNode.of(tree, env, baseDir, source);
  }

  /**
   * The parser's problem and where, 1-based, without the snippet of the document snakeyaml adds:
   * that could show a secret.
   */
  private static String describe(YamlEngineException e) {
    if (e instanceof MarkedYamlEngineException m) {
      String where = m.getProblemMark().map(ConfigLoader::position).orElse("");
      String problem = m.getProblem() == null ? "" : m.getProblem();
      if (e instanceof DuplicateKeyException && problem.startsWith("found duplicate key ")) {
        String key = ConfigNode.fieldName(problem.substring("found duplicate key ".length()));
        return "duplicate key '" + key + "'" + where
            + ": a key may appear only once in a map";
      }
      String context = m.getContext() == null ? "" : " (" + m.getContext()
          + m.getContextMark().map(ConfigLoader::position).map(p -> " started" + p).orElse("")
          + ")";
      return "malformed YAML" + where + ": " + problem + context;
    }
    return "malformed YAML: " + e.getMessage();
  }

  private static String position(Mark mark) {
    return " at line " + (mark.getLine() + 1) + ", column " + (mark.getColumn() + 1);
  }

  private static String describe(IOException e) {
    if (e instanceof NoSuchFileException) return "no such file";
    if (e instanceof AccessDeniedException) return "permission denied";
    if (e instanceof CharacterCodingException) return "not UTF-8 text";
    return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
  }

  /** Builds a {@link ConfigLoader}. Not thread-safe. */
  public static final class Builder {
    private Map<String, String> env = System.getenv();

    private Builder() {
    }

    /** The environment to read overrides and placeholders from; the process environment by default. */
    public Builder env(Map<String, String> env) {
      this.env = Map.copyOf(Objects.requireNonNull(env, "env"));
      return this;
    }

    public ConfigLoader build() {
      return new ConfigLoader(this);
    }
  }

  /**
   * Every plain scalar is text except the YAML nulls ({@code ~}, {@code null}, empty); explicit
   * {@code !!int}, {@code !!bool} and {@code !!float} tags keep their text too. The reader types
   * values, the same way for the file and the environment.
   */
  private static final class TextSchema implements Schema {
    private static final ConstructNode NULL = node -> null;
    private static final ConstructNode TEXT = node -> ((ScalarNode) node).getValue();

    @Override
    public ScalarResolver getScalarResolver() {
      return (value, implicit) -> Boolean.TRUE.equals(implicit) && isNull(value) ? Tag.NULL
          : Tag.STR;
    }

    private static boolean isNull(String value) {
      return value.isEmpty() || value.equals("~") || value.equals("null") || value.equals("Null")
          || value.equals("NULL");
    }

    @Override
    public Map<Tag, ConstructNode> getSchemaTagConstructors() {
      Map<Tag, ConstructNode> constructors = new HashMap<>();
      constructors.put(Tag.NULL, NULL);
      constructors.put(Tag.INT, TEXT);
      constructors.put(Tag.FLOAT, TEXT);
      constructors.put(Tag.BOOL, TEXT);
      return constructors;
    }
  }
}
