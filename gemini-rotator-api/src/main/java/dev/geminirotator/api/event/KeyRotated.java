package dev.geminirotator.api.event;

import java.time.Instant;

/**
 * A retry of a request moved to another key (fired only for second and later attempts, so it
 * costs nothing on the common path).
 *
 * @param model the model
 * @param keyId the key handed out now
 * @param attempt the attempt number, 2 or more
 * @param at when
 */
public record KeyRotated(String model, String keyId, int attempt, Instant at)
    implements RotatorEvent {
}
