package dev.geminirotator.standalone.admin;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The one place that changes which keys are in the pool: admin adds and deletes, and
 * configuration reloads. Each change runs under one lock, so an admin change never interleaves
 * with a reload. The rules:
 *
 * <ul>
 *   <li>A reload changes only the keys the file owns: it adds the file's new keys, updates
 *       changed ones, and removes keys the previous file listed and the new one does not. Keys
 *       added at run time (here, or by another instance sharing the store) are left alone.
 *   <li>A key added at run time with an id the file also lists is replaced by the file's key at
 *       the next reload (the file wins); if the file later drops that id, the runtime key stays.
 *   <li>A key deleted through the admin API stays deleted across reloads for as long as the file
 *       keeps listing its id, and so does one deleted through another instance sharing the store
 *       while the file lists the key unchanged. A reload whose file no longer lists the id
 *       forgets the deletion, so a file that lists it again adds it back. Adding the id through
 *       the admin API also undoes the deletion.
 * </ul>
 *
 * Keys are kept as the rotator holds them ({@link GeminiKeyRotator#poolKey}): an id derived from a
 * secret is derived under the rotator's salt, so the ids here, in the pool and on other instances
 * agree. Thread-safe (synchronized).
 */
public final class RuntimeKeys {

  private final KeyRotator rotator;
  private final UnaryOperator<ApiKey> poolKey;
  /** Keys added through the admin API and not deleted since, by id. */
  private final Map<String, ApiKey> added = new LinkedHashMap<>();
  /** Ids the file lists but an operator deleted. */
  private final Set<String> deleted = new HashSet<>();
  /** The keys the last applied file listed, by id. */
  private Map<String, ApiKey> fileKeys;

  public RuntimeKeys(KeyRotator rotator, Collection<ApiKey> fileKeys) {
    this.rotator = rotator;
    this.poolKey = rotator instanceof GeminiKeyRotator g ? g::poolKey : UnaryOperator.identity();
    this.fileKeys = byId(pooled(fileKeys));
  }

  /** Adds (or replaces) a key through the admin API; returns it as the pool holds it. */
  synchronized ApiKey add(ApiKey key) {
    return addAll(List.of(key)).get(0);
  }

  /**
   * Adds (or replaces) keys through the admin API with one membership change of the pool, so a
   * batch of thousands costs time linear in the pool and the batch; returns them as the pool
   * holds them.
   */
  synchronized List<ApiKey> addAll(Collection<ApiKey> requested) {
    List<ApiKey> keys = pooled(requested);
    rotator.addKeys(keys);
    for (ApiKey key : keys) {
      added.put(key.id(), key);
      deleted.remove(key.id());
    }
    return keys;
  }

  /**
   * Deletes a key through the admin API.
   *
   * @return whether the pool held it
   */
  synchronized boolean delete(String id) {
    added.remove(id);
    if (fileKeys.containsKey(id)) deleted.add(id);
    return rotator.removeKey(id);
  }

  /** Makes the pool follow a new file's keys, by the rules above. */
  public synchronized void applyFile(Collection<ApiKey> listed) {
    List<ApiKey> keys = pooled(listed);
    Map<String, ApiKey> next = byId(keys);
    List<ApiKey> toAdd = new ArrayList<>();
    for (String id : fileKeys.keySet()) {
      if (next.containsKey(id)) continue;
      ApiKey runtime = added.get(id);
      if (runtime != null) {
        toAdd.add(runtime); // the file no longer overrides the operator's key
      } else if (!deleted.contains(id)) {
        rotator.removeKey(id);
      }
    }
    deleted.retainAll(next.keySet());
    for (ApiKey key : keys) {
      if (deleted.contains(key.id())) continue;
      ApiKey before = fileKeys.get(key.id());
      // A key the file did not change is left as it is: if the pool lacks it, it was deleted
      // through the admin API of an instance sharing the store, and stays deleted. An operator's
      // key with its id is still replaced (the file wins).
      if (before != null && sameDefinition(before, key) && !added.containsKey(key.id())) continue;
      toAdd.add(key);
    }
    rotator.addKeys(toAdd); // one membership change for the whole file
    fileKeys = next;
  }

  private List<ApiKey> pooled(Collection<ApiKey> keys) {
    List<ApiKey> list = new ArrayList<>(keys.size());
    for (ApiKey k : keys) list.add(poolKey.apply(k));
    return list;
  }

  private static Map<String, ApiKey> byId(Collection<ApiKey> keys) {
    Map<String, ApiKey> ids = new LinkedHashMap<>();
    for (ApiKey k : keys) ids.put(k.id(), k);
    return ids;
  }

  /** Whether two keys with one id are configured alike ({@link ApiKey#equals} compares ids). */
  private static boolean sameDefinition(ApiKey a, ApiKey b) {
    return a.secret().equals(b.secret()) && a.weight() == b.weight()
        && a.labels().equals(b.labels()) && a.requestsPerMinute().equals(b.requestsPerMinute())
        && a.requestsPerDay().equals(b.requestsPerDay());
  }
}
