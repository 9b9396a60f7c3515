/**
 * The standalone proxy's entry point and wiring. {@link dev.geminirotator.standalone.Main}
 * (command line) and {@link dev.geminirotator.standalone.ProxyServer} (builds, runs, reloads and
 * drains the whole proxy, and owns the executors: the blocking pool and the resource pins'
 * write-behind thread); {@code Routes} (the request handler the HTTP connections call: Gemini
 * routes, health, metrics and admin, with request ids, security headers and CORS) and {@code
 * Readiness}.
 *
 * <p>Packages by concern, each with its own package-info saying what it may import:
 * {@code http} (the HTTP plumbing; nothing of Gemini), {@code gemini} (the exchange adapter: the
 * proxy as a transport of core's exchange), {@code config} and {@code admin}. This package may
 * import all of them, the api, core and redis modules; none of them imports this one
 * ({@code StandaloneArchitectureTest}).
 */
package dev.geminirotator.standalone;
