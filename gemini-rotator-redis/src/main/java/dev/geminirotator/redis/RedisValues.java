package dev.geminirotator.redis;

import dev.geminirotator.api.spi.SharedValues;
import java.time.Duration;
import java.util.Objects;
import redis.clients.jedis.params.SetParams;

/**
 * The Redis store's shared values: one string key per name ({@code {prefix}value:{name}}) with a
 * time to live, one round trip per call. Best effort, as the SPI allows: while Redis is
 * unreachable nothing is kept or removed and reads answer {@code null}. Thread-safe.
 */
final class RedisValues implements SharedValues {

  private final RedisAccess redis;
  private final KeyLayout layout;

  RedisValues(RedisAccess redis, KeyLayout layout) {
    this.redis = redis;
    this.layout = layout;
  }

  /** SET with PX. */
  @Override
  public void put(String name, String value, Duration ttl) {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(value, "value");
    long millis = Math.max(1, ttl.toMillis());
    if (!redis.usable()) return;
    try {
      redis.client().set(layout.value(name), value, SetParams.setParams().px(millis));
    } catch (RuntimeException e) {
      redis.failed(e, "value", "Redis store {} could not keep a value ({})", redis.description());
    }
  }

  /** GET. */
  @Override
  public String get(String name) {
    Objects.requireNonNull(name, "name");
    if (!redis.usable()) return null;
    try {
      return redis.client().get(layout.value(name));
    } catch (RuntimeException e) {
      redis.failed(e, "value", "Redis store {} could not read a value ({})", redis.description());
      return null;
    }
  }

  /** DEL. */
  @Override
  public void remove(String name) {
    Objects.requireNonNull(name, "name");
    if (!redis.usable()) return;
    try {
      redis.client().del(layout.value(name));
    } catch (RuntimeException e) {
      redis.failed(e, "value", "Redis store {} could not remove a value ({})", redis.description());
    }
  }

  @Override
  public String toString() {
    return "RedisValues{" + redis.description() + '}';
  }
}
