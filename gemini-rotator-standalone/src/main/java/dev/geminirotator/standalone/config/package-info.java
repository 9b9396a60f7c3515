/**
 * The proxy's configuration: {@link dev.geminirotator.standalone.config.StandaloneConfig} (the
 * whole file, environment and command line, validated with messages that name the field), one
 * record per section ({@code StandaloneConfig.Server}, {@code Upstream}, {@code Access},
 * {@code Admin}, {@code RateLimit}, {@code Cors}, {@code Logging}) whose components are the
 * section's fields, declared once; {@link dev.geminirotator.standalone.config.Settings} (what
 * requests read on every call, swapped whole on reload), the per-client request limits that
 * {@code Settings} builds from {@code rate-limit} ({@link
 * dev.geminirotator.standalone.config.ClientRateLimits}: they belong to the settings in force, are
 * kept across a reload that leaves the limit alone and rebuilt when it changes), hot reload
 * ({@link dev.geminirotator.standalone.config.ConfigWatcher}) and the logging backend ({@link
 * dev.geminirotator.standalone.config.LoggingSetup}).
 *
 * <p><b>Binding: the config module's loader, not Jackson.</b> Each section record is read by a
 * short {@code read(ConfigNode)} of its own, through {@code gemini-rotator-config}'s
 * {@code ConfigNode}, and printed back by {@code ConfigYaml} from the record's components. Binding
 * the records with Jackson's YAML module ({@code jackson-dataformat-yaml}) was the alternative; it
 * would not have been simpler: Jackson stops at the first bad field where the loader lists every
 * error at once, each with its path; {@code GEMINI_ROTATOR_*} overrides, {@code ${VAR}}
 * placeholders, secret scrubbing in messages, the field docs behind {@code --help}, the reference
 * table and {@code config.example.yaml}, and the closest-name suggestions for unknown fields would
 * all have to be rebuilt around it; and the rotator's sections, read by the same loader, would
 * still need it. Checks that span sections (ports, body budget, tokens on a public host) run after
 * the fields.
 *
 * <p>May import core's config model, the config module (the loader), and the API types they
 * carry ({@code ApiKey}, the store SPI for shared limits, the attempt policy), and the
 * {@code http} package for the few plumbing values the file names (transports, trusted proxies,
 * the body clock). Must not import the Gemini exchange adapter
 * ({@code dev.geminirotator.standalone}) or admin: they read this package, never the other way
 * round ({@code StandaloneArchitectureTest}).
 */
package dev.geminirotator.standalone.config;
