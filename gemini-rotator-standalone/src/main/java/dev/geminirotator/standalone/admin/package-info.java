/**
 * The admin API under {@code /admin/**} ({@link dev.geminirotator.standalone.admin.AdminApi}:
 * keys listed, added, removed, enabled, disabled and reset, configuration reloaded, stats) and
 * the keys added at run time that it keeps apart from the file's ({@link
 * dev.geminirotator.standalone.admin.RuntimeKeys}). Routing a request here, checking nothing but
 * the path, is the exchange adapter's job; everything after that (the admin token, the body, the
 * answer) is this package's.
 *
 * <p>May import the rotator and guard it manages ({@code dev.geminirotator.api},
 * {@code dev.geminirotator.core}), the {@code config} package (the settings in force, the
 * configuration to reload) and the {@code http} package (the request, problem documents). Must
 * not import the Gemini exchange adapter ({@code dev.geminirotator.standalone}), which depends on
 * this package, not the reverse ({@code StandaloneArchitectureTest}).
 */
package dev.geminirotator.standalone.admin;
