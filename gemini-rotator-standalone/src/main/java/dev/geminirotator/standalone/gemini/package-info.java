/**
 * The Gemini exchange adapter: the proxy as a transport of core's exchange. {@code GeminiProxy}
 * (the entry the routes call: core's {@code GeminiExchange} per settings), {@code Admission}
 * (access tokens, client rate limits, size and body budget, before any key), {@code
 * ProxyExchange} (one request through core's attempt loop, run asynchronously on the client
 * connection's event loop, and its answer written), {@code NettyTransport} and {@code
 * UpstreamAnswer} (send with the key core chose over {@code http.Upstream}, hand the head and the
 * error-body peek to core, stream the answer on), {@code UrlHygiene} (forwarded paths and queries,
 * the resumable-upload URL pointed back at the proxy with no key), {@code HeaderCopy} (which
 * headers cross, with every pool key scrubbed), {@code Problems} (errors in the shape a Gemini,
 * OpenAI or plain client reads), {@code ProxyMetrics} and {@code RefusalLog}.
 *
 * <p>No lease, guard, retry or pinning logic lives here: which key, resource affinity, what an
 * answer means and whether to try again are core's ({@code StandaloneArchitectureTest} fails if a
 * loop comes back). May import the http and config packages, the api, core and redis modules;
 * never the root package (the wiring) or admin.
 */
package dev.geminirotator.standalone.gemini;
