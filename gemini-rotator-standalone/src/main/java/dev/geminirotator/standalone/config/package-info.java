/**
 * The proxy's configuration: {@link dev.geminirotator.standalone.config.StandaloneConfig} (the
 * whole file, environment and command line, validated with messages that name the field; read by
 * the package-private {@code ConfigReader}), {@link dev.geminirotator.standalone.config.Settings}
 * (what requests read on every call, swapped whole on reload), the per-client request limits that
 * {@code Settings} builds from {@code rate-limit} ({@link
 * dev.geminirotator.standalone.config.ClientRateLimits}: they belong to the settings in force, are
 * kept across a reload that leaves the limit alone and rebuilt when it changes), hot reload
 * ({@link dev.geminirotator.standalone.config.ConfigWatcher}) and the logging backend ({@link
 * dev.geminirotator.standalone.config.LoggingSetup}).
 *
 * <p>May import core's config model and the API types it carries ({@code ApiKey}, the store SPI
 * for shared limits, the attempt policy), and the {@code http} package for the few plumbing
 * values the file names (transports, trusted proxies, the body clock). Must not import the
 * Gemini exchange adapter ({@code dev.geminirotator.standalone}) or admin: they read this package,
 * never the other way round ({@code StandaloneArchitectureTest}).
 */
package dev.geminirotator.standalone.config;
