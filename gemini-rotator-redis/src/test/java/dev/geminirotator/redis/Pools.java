package dev.geminirotator.redis;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Keys and rotators for tests that run the real rotator over the Redis store. */
final class Pools {

  static final RequestContext FLASH = RequestContext.forModel("gemini-2.5-flash");

  private Pools() {
  }

  static ApiKey key(String id) {
    return ApiKey.builder("AIzaSyTEST-" + id + "-0123456789abcdef").id(id).build();
  }

  static List<ApiKey> keys(String... ids) {
    List<ApiKey> keys = new ArrayList<>();
    for (String id : ids) keys.add(key(id));
    return keys;
  }

  static GeminiKeyRotator rotator(KeyStateStore store, List<ApiKey> keys) {
    return GeminiKeyRotator.builder().keys(keys).store(store).build();
  }

  /** A context that can only be served by {@code id} among {@code all}. */
  static RequestContext only(String id, List<String> all) {
    RequestContext ctx = FLASH;
    for (String other : all) if (!other.equals(id)) ctx = ctx.excluding(other);
    return ctx;
  }

  /** What must agree across instances: each key's state and cooldowns, by key id. */
  static Map<String, String> view(GeminiKeyRotator rotator) {
    Map<String, String> view = new TreeMap<>();
    for (KeySnapshot s : rotator.snapshot()) {
      view.put(s.id(), s.state() + " " + new TreeMap<>(s.cooldowns()));
    }
    return view;
  }
}
