/**
 * The configuration model and its YAML loader.
 *
 * <p>{@link dev.geminirotator.core.config.RotatorConfig} is the immutable description of a
 * rotator: its keys, strategy and policies. {@link dev.geminirotator.core.config.ConfigLoader}
 * reads one from a YAML file, {@code ${VAR}} placeholders and environment overrides, and reports
 * every problem at once in a {@link dev.geminirotator.core.config.ConfigException}.
 * {@link dev.geminirotator.core.config.ConfigNode} is the path-aware reader both use; other
 * modules reuse it for their own sections.
 */
package dev.geminirotator.core.config;
