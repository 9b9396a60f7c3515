package dev.geminirotator.standalone;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyRotator;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;

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
 *       keeps listing its id. A reload whose file no longer lists the id forgets the deletion, so
 *       a file that lists it again adds it back. Adding the id through the admin API also undoes
 *       the deletion.
 * </ul>
 *
 * Thread-safe (synchronized).
 */
final class RuntimeKeys {

  private final KeyRotator rotator;
  /** Keys added through the admin API and not deleted since, by id. */
  private final Map<String, ApiKey> added = new LinkedHashMap<>();
  /** Ids the file lists but an operator deleted. */
  private final Set<String> deleted = new HashSet<>();
  /** The ids the last applied file listed. */
  private Set<String> fileIds;

  RuntimeKeys(KeyRotator rotator, Collection<ApiKey> fileKeys) {
    this.rotator = rotator;
    this.fileIds = idsOf(fileKeys);
  }

  /** Adds (or replaces) a key through the admin API. */
  synchronized void add(ApiKey key) {
    rotator.addKey(key);
    added.put(key.id(), key);
    deleted.remove(key.id());
  }

  /**
   * Deletes a key through the admin API.
   *
   * @return whether the pool held it
   */
  synchronized boolean delete(String id) {
    added.remove(id);
    if (fileIds.contains(id)) deleted.add(id);
    return rotator.removeKey(id);
  }

  /** Makes the pool follow a new file's keys, by the rules above. */
  synchronized void applyFile(Collection<ApiKey> fileKeys) {
    Set<String> next = idsOf(fileKeys);
    for (String id : fileIds) {
      if (next.contains(id)) continue;
      ApiKey runtime = added.get(id);
      if (runtime != null) {
        rotator.addKey(runtime); // the file no longer overrides the operator's key
      } else if (!deleted.contains(id)) {
        rotator.removeKey(id);
      }
    }
    deleted.retainAll(next);
    for (ApiKey key : fileKeys) {
      if (!deleted.contains(key.id())) rotator.addKey(key);
    }
    fileIds = next;
  }

  private static Set<String> idsOf(Collection<ApiKey> keys) {
    Set<String> ids = new LinkedHashSet<>();
    for (ApiKey k : keys) ids.add(k.id());
    return ids;
  }
}
