/**
 * What both transports must do alike with a caller's request before a pool key goes on it:
 * {@link dev.geminirotator.core.internal.exchange.ClientCredentials} names the query parameters and
 * headers that never travel upstream next to a pool key;
 * {@link dev.geminirotator.core.internal.exchange.GeminiRequests} reads a request once into a
 * {@link dev.geminirotator.core.internal.exchange.GeminiRequest}: its version, route, canonical
 * model and
 * the project-bound resources it names.
 */
package dev.geminirotator.core.internal.exchange;
