package dev.geminirotator.redis;

import dev.geminirotator.api.spi.KeyStateStore;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.util.Objects;

/**
 * Publishes a store's health to Micrometer (an optional dependency of this module: add
 * {@code micrometer-core} to use it).
 *
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>name</th><th>type</th><th>what</th></tr>
 *   <tr><td>{@code gemini.rotator.store.available}</td><td>gauge</td>
 *       <td>1 while the backend is reachable, 0 while the store serves from local state; any
 *       {@link KeyStateStore}</td></tr>
 *   <tr><td>{@code gemini.rotator.store.writes.pending}</td><td>gauge</td>
 *       <td>writes waiting for Redis; Redis store only</td></tr>
 *   <tr><td>{@code gemini.rotator.store.writes.dropped}</td><td>counter</td>
 *       <td>writes dropped because the queue was full; Redis store only</td></tr>
 *   <tr><td>{@code gemini.rotator.store.writes.refused}</td><td>counter</td>
 *       <td>writes Redis refused because another instance changed that state since (a reset
 *       replayed after an outage, say); Redis store only</td></tr>
 *   <tr><td>{@code gemini.rotator.store.outages}</td><td>counter</td>
 *       <td>times the backend became unreachable; Redis store only</td></tr>
 * </table>
 * Every meter carries the tag {@code store} with the store's kind ({@code redis}, or the URI
 * scheme of {@link KeyStateStore#describe()}), never its address or password. Gauges hold the store
 * weakly. Thread-safe.
 */
public final class StoreMetrics implements MeterBinder {

  private final KeyStateStore store;
  private final Tags tags;

  /** Meters for this store, tagged with its kind. */
  public StoreMetrics(KeyStateStore store) {
    this.store = Objects.requireNonNull(store, "store");
    String kind = store instanceof RedisKeyStateStore ? "redis" : kindOf(store.describe());
    this.tags = Tags.of("store", kind);
  }

  private static String kindOf(String description) {
    int colon = description == null ? -1 : description.indexOf(':');
    return colon > 0 ? description.substring(0, colon) : "custom";
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    Gauge.builder("gemini.rotator.store.available", store, s -> s.isAvailable() ? 1 : 0)
        .tags(tags).description("1 while the state store's backend is reachable, else 0")
        .register(registry);
    if (store instanceof RedisKeyStateStore redis) {
      Gauge.builder("gemini.rotator.store.writes.pending", redis, RedisKeyStateStore::pendingWrites)
          .tags(tags).description("writes waiting for the state store's backend")
          .register(registry);
      FunctionCounter.builder("gemini.rotator.store.writes.dropped", redis,
          RedisKeyStateStore::droppedWrites)
          .tags(tags).description("writes dropped because the write queue was full")
          .register(registry);
      FunctionCounter.builder("gemini.rotator.store.writes.refused", redis,
          RedisKeyStateStore::refusedWrites)
          .tags(tags).description("writes refused because another instance changed that state"
              + " since")
          .register(registry);
      FunctionCounter.builder("gemini.rotator.store.outages", redis, RedisKeyStateStore::outages)
          .tags(tags).description("times the state store's backend became unreachable")
          .register(registry);
    }
  }
}
