package dev.geminirotator.api.event;

import java.time.Instant;

/**
 * A key left the pool. Leases already handed out for it still complete normally.
 *
 * @param keyId the key
 * @param at when
 */
public record KeyRemoved(String keyId, Instant at) implements RotatorEvent {
}
