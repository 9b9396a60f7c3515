package dev.geminirotator.api.spi;

import dev.geminirotator.api.ApiKey;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Everything a store holds for a pool, as {@link KeyStateStore#load()} returns it.
 *
 * @param addedKeys keys added at run time
 * @param removedKeyIds ids of keys removed at run time (configured keys stay out)
 * @param statuses key states other than {@code HEALTHY}-with-no-history, by key id
 * @param cooldowns active cooldowns
 * @param health health scores by key id
 * @param breakers breaker states by name
 */
public record StoreSnapshot(
    List<ApiKey> addedKeys,
    Set<String> removedKeyIds,
    Map<String, StateChange.KeyStatus> statuses,
    List<StateChange.Cooldown> cooldowns,
    Map<String, Double> health,
    Map<String, StateChange.Breaker> breakers) {

  /** A store that holds nothing yet. */
  public static final StoreSnapshot EMPTY =
      new StoreSnapshot(List.of(), Set.of(), Map.of(), List.of(), Map.of(), Map.of());

  public StoreSnapshot {
    addedKeys = List.copyOf(addedKeys);
    removedKeyIds = Set.copyOf(removedKeyIds);
    statuses = Map.copyOf(statuses);
    cooldowns = List.copyOf(cooldowns);
    health = Map.copyOf(health);
    breakers = Map.copyOf(breakers);
  }
}
