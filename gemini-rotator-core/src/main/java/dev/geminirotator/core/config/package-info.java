/**
 * The configuration model: {@link dev.geminirotator.core.config.RotatorConfig} is the immutable
 * description of a rotator (its keys, strategy and policies), built in code.
 *
 * <p>Reading one from YAML, environment overrides and placeholders is the separate
 * {@code gemini-rotator-config} module's job ({@code dev.geminirotator.config.ConfigLoader}), so a
 * program that only builds a rotator in code, or only installs the OkHttp interceptor, carries no
 * YAML parser.
 */
package dev.geminirotator.core.config;
