/**
 * What both transports must do alike with a caller's request before a pool key goes on it:
 * {@link dev.geminirotator.core.exchange.ClientCredentials} names the query parameters and
 * headers that never travel upstream next to a pool key.
 */
package dev.geminirotator.core.exchange;
