package dev.geminirotator.api.event;

import dev.geminirotator.api.KeyState;
import java.time.Instant;

/**
 * A key's pool-wide state changed.
 *
 * @param keyId the key
 * @param from the state before
 * @param to the state after
 * @param reason why, in words fit for a log line
 * @param until when the new state ends by itself (an unhealthy key's trial time), or {@code null}
 * @param at when
 */
public record StateTransition(String keyId, KeyState from, KeyState to, String reason,
    Instant until, Instant at) implements RotatorEvent {
}
