/**
 * Configuration files: YAML, {@code ${VAR}} placeholders and environment overrides, validated
 * with every problem reported at once.
 *
 * <p>{@link dev.geminirotator.config.ConfigLoader} reads a core
 * {@link dev.geminirotator.core.config.RotatorConfig} from a file and reports every problem in a
 * {@link dev.geminirotator.config.ConfigException}. {@link dev.geminirotator.config.ConfigNode} is
 * the path-aware reader it uses; programs with sections of their own (the standalone proxy) read
 * them with it from the same tree, so unknown fields are caught in every section.
 * {@link dev.geminirotator.config.RotatorSections} is the one place that knows the rotator's YAML
 * names: it reads them, lists them ({@link dev.geminirotator.config.FieldDoc}) and writes them
 * back. {@link dev.geminirotator.config.ConfigYaml} prints a configuration as YAML that reads back
 * the same, every {@link dev.geminirotator.config.Secret} masked.
 *
 * <p>The only module that depends on snakeyaml-engine; core and the OkHttp interceptor do not.
 */
package dev.geminirotator.config;
