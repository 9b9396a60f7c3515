package dev.geminirotator.api.event;

import java.time.Instant;

/**
 * A key joined the pool.
 *
 * @param keyId the key
 * @param at when
 */
public record KeyAdded(String keyId, Instant at) implements RotatorEvent {
}
