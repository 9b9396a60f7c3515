package dev.geminirotator.redis;

import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.KeyStateStoreProvider;
import java.net.URI;
import java.util.Set;

/**
 * Opens a {@link RedisKeyStateStore} for {@code redis://} and {@code rediss://} (TLS) URIs, Redis
 * Cluster ({@code redis-cluster://}, {@code rediss-cluster://}) and Redis Sentinel
 * ({@code redis-sentinel://}, {@code rediss-sentinel://}); registered for
 * {@link java.util.ServiceLoader}, so
 * {@code KeyStateStores.open("redis://:secret@cache:6379/0?prefix=team-a:")} finds it. The URI
 * options are those of {@link RedisStoreOptions#fromUri(URI)}. Stateless and thread-safe.
 */
public final class RedisStoreProvider implements KeyStateStoreProvider {

  @Override
  public Set<String> schemes() {
    return Set.of("redis", "rediss", "redis-cluster", "rediss-cluster", "redis-sentinel",
        "rediss-sentinel");
  }

  /**
   * Parses the URI and opens the store. A store whose Redis is unreachable opens anyway, degraded;
   * refused credentials fail here.
   *
   * @throws IllegalArgumentException when the URI or an option is malformed or unknown
   * @throws IllegalStateException when Redis refuses the credentials ("authentication failed")
   */
  @Override
  public KeyStateStore open(URI uri) {
    return RedisKeyStateStore.open(RedisStoreOptions.fromUri(uri));
  }
}
