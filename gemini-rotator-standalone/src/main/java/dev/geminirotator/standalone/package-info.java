/**
 * The standalone proxy's entry point and its Gemini exchange adapter. Entry point:
 * {@link dev.geminirotator.standalone.Main} (command line) and
 * {@link dev.geminirotator.standalone.ProxyServer} (builds, runs, reloads and drains the whole
 * proxy). Exchange adapter, all package-private: {@code Routes} (the request handler the HTTP
 * connections call: Gemini routes, health, metrics and admin, with request ids, security
 * headers and CORS), {@code GeminiProxy} (the adapter's entry: core's exchange per settings),
 * {@code Admission}, {@code UrlHygiene}, {@code HeaderCopy}, {@code ProxyExchange} (one request
 * through core's attempt loop), {@code NettyTransport} and {@code UpstreamAnswer} (the transport:
 * send with a key, hand the answer on), {@code Problems} (errors in the shape a Gemini, OpenAI or
 * plain client reads), {@code ProxyMetrics}, {@code RefusalLog} and {@code Readiness}.
 *
 * <p>Why these live here: {@code Routes} decides what a request means (which prefixes are
 * Gemini's, which methods it has), so it is the adapter's front door, not plumbing;
 * {@code ProxyMetrics} labels by Gemini route and method; {@code RefusalLog} records the
 * adapter's refusals; {@code Problems} writes Gemini's and OpenAI's error shapes (its plain RFC
 * 7807 part is {@code http.ProblemDocument}, which admin uses). Client identity is plumbing
 * ({@code http.ClientIdentity}); per-client limits belong to the settings in force
 * ({@code config.ClientRateLimits}).
 *
 * <p>Packages by concern, each with its own package-info saying what it may import:
 * {@code http} (the HTTP plumbing; nothing of Gemini), {@code config} and {@code admin}. This
 * package may import all of them, the api, core and redis modules; none of them imports this one
 * ({@code StandaloneArchitectureTest}).
 */
package dev.geminirotator.standalone;
