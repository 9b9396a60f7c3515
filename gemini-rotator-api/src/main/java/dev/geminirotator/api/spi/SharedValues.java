package dev.geminirotator.api.spi;

import java.time.Duration;

/**
 * Small values kept for a while under a name, visible to every user of one store: the capability
 * a {@link KeyStateStore} declares through {@link KeyStateStore#values()}. Resource affinity keeps
 * which project owns a file, cache or batch in them. Best effort: a store that cannot reach its
 * backend keeps nothing and answers {@code null}; callers hold what they learn locally too.
 * Values are never secrets. Implementations are thread-safe.
 */
public interface SharedValues {

  /**
   * Keeps {@code value} under {@code name} for {@code ttl}. May block.
   *
   * @param name the entry, e.g. {@code pin:file:files/abc123}
   * @param value the value, not a secret
   * @param ttl how long to keep it, at least 1 ms
   */
  void put(String name, String value, Duration ttl);

  /**
   * The value kept under {@code name} and not expired yet, or {@code null}. May block. Never
   * throws because a backend is unreachable: that answers {@code null}.
   */
  String get(String name);

  /**
   * Forgets the value kept under {@code name}, for every user of the store: for example the owner
   * of a file that was deleted. May block. Best effort: when the backend cannot be reached the
   * value lives out its time to live.
   */
  void remove(String name);
}
