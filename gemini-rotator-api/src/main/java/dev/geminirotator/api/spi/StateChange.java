package dev.geminirotator.api.spi;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import java.time.Instant;
import java.util.Objects;

/**
 * A change to a pool's shared state, as a {@link KeyStateStore} persists and propagates it.
 *
 * <p>Every change is idempotent and carries absolute instants, so applying one twice, or applying
 * one an instance made itself, leaves the same state. That lets a store deliver at-least-once.
 */
public sealed interface StateChange {

  /** The id of the key, or of the project for {@link Cooldown}; used to partition and order. */
  String subject();

  /**
   * A key's pool-wide state: {@code HEALTHY}, {@code UNHEALTHY} (with {@code until}, when it may
   * be tried), {@code INVALID} or {@code DISABLED}.
   */
  record KeyStatus(String keyId, KeyState state, Instant until, String reason, Instant at)
      implements StateChange {
    public KeyStatus {
      Objects.requireNonNull(keyId, "keyId");
      Objects.requireNonNull(state, "state");
      Objects.requireNonNull(at, "at");
      if (state == KeyState.RATE_LIMITED) {
        throw new IllegalArgumentException("RATE_LIMITED is per model: use Cooldown");
      }
    }

    @Override
    public String subject() {
      return keyId;
    }
  }

  /**
   * A project may not be used for a model until {@code until}. {@code until} in the past, or
   * {@link Instant#EPOCH}, clears it. Merging keeps the later instant unless {@code cleared}. A
   * store shared by several processes applies a clear only to the cooldown its maker knew of: a
   * cooldown another process set after that stands (the Redis store orders them by a sequence it
   * keeps, never by the processes' clocks).
   */
  record Cooldown(String project, String model, Instant until, boolean cleared)
      implements StateChange {
    public Cooldown {
      Objects.requireNonNull(project, "project");
      Objects.requireNonNull(model, "model");
      Objects.requireNonNull(until, "until");
    }

    @Override
    public String subject() {
      return project;
    }
  }

  /** A key's health score; written behind, not propagated eagerly. */
  record Health(String keyId, double score) implements StateChange {
    @Override
    public String subject() {
      return keyId;
    }
  }

  /** A key added at run time (it is persisted with its secret; stores must protect it). */
  record KeyAdded(ApiKey key) implements StateChange {
    public KeyAdded {
      Objects.requireNonNull(key, "key");
    }

    @Override
    public String subject() {
      return key.id();
    }
  }

  /** A key removed at run time. */
  record KeyRemoved(String keyId) implements StateChange {
    @Override
    public String subject() {
      return keyId;
    }
  }

  /** A circuit breaker's state, for instances to share. */
  record Breaker(String name, String state, Instant until) implements StateChange {
    @Override
    public String subject() {
      return name;
    }
  }
}
