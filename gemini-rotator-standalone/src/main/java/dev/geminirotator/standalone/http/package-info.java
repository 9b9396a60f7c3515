/**
 * The HTTP plumbing of the proxy, and nothing of Gemini: the Netty server side
 * ({@link dev.geminirotator.standalone.http.Listeners}, one
 * {@link dev.geminirotator.standalone.http.ClientConnection} per HTTP/1.1 connection,
 * {@link dev.geminirotator.standalone.http.H2cDetector} for HTTP/2 with prior knowledge, the
 * {@link dev.geminirotator.standalone.http.HeaderDeadline}), each request as a
 * {@link dev.geminirotator.standalone.http.Call} with its
 * {@link dev.geminirotator.standalone.http.ProxyRequest} and
 * {@link dev.geminirotator.standalone.http.ProxyResponse}, the memory bound on held bodies
 * ({@link dev.geminirotator.standalone.http.BodyBudget}), the pooled upstream client
 * ({@link dev.geminirotator.standalone.http.Upstream}, with its deadlines), the socket
 * {@link dev.geminirotator.standalone.http.Transport}, and small helpers every request uses
 * (header names, request ids, the client's address behind trusted proxies, content decoding,
 * problem documents).
 *
 * <p>What a request means is not decided here: a connection hands each request to a
 * {@link dev.geminirotator.standalone.http.RequestHandler}, and the packages above it (the Gemini
 * exchange adapter in {@code dev.geminirotator.standalone}, admin, config) supply one.
 *
 * <p>May import the JDK, Netty, Jackson (RFC 7807 problem documents), Micrometer (the body
 * budget's gauges) and SLF4J. Must not import {@code dev.geminirotator.api},
 * {@code dev.geminirotator.core}, {@code dev.geminirotator.redis} or any other package of this
 * module ({@code StandaloneArchitectureTest} checks it), so it can be read, tested and replaced
 * on its own.
 */
package dev.geminirotator.standalone.http;
