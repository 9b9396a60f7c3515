package dev.geminirotator.standalone;

import dev.geminirotator.api.ApiKey;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Keys an operator added through the admin API, so that a configuration reload (which makes the
 * pool match the file) does not silently drop them. A key deleted through the admin API is
 * forgotten; a file key with the same id wins. Thread-safe (synchronized).
 */
final class RuntimeKeys {

  private final Map<String, ApiKey> keys = new LinkedHashMap<>();

  synchronized void add(ApiKey key) {
    keys.put(key.id(), key);
  }

  synchronized void remove(String id) {
    keys.remove(id);
  }

  /** The file's keys followed by the runtime keys the file does not name. */
  synchronized List<ApiKey> mergeInto(Collection<ApiKey> fileKeys) {
    List<ApiKey> out = new ArrayList<>(fileKeys);
    java.util.Set<String> ids = new java.util.HashSet<>();
    for (ApiKey k : fileKeys) ids.add(k.id());
    for (ApiKey k : keys.values()) {
      if (!ids.contains(k.id())) out.add(k);
    }
    return out;
  }
}
