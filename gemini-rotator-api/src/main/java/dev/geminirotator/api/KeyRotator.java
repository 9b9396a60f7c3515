package dev.geminirotator.api;

import dev.geminirotator.api.event.RotatorListener;
import java.time.Instant;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * Hands out a healthy key for each attempt and learns from each attempt's {@link Outcome}.
 *
 * <p>The request path is {@link #acquire}, then {@link KeyLease#complete}. A key is skipped while
 * it is cooling down for the requested model (its project hit a 429), while it is unhealthy and
 * not yet due for its trial, while it is invalid or disabled, and when the request already tried
 * it. Acquisition never blocks and never waits on a remote store.
 *
 * <p>The admin operations change the pool at run time; leases already handed out complete
 * normally. Implementations are thread-safe.
 */
public interface KeyRotator extends AutoCloseable {

  /**
   * Leases a key for one attempt.
   *
   * @throws NoKeyAvailableException when no key can serve this request now
   */
  KeyLease acquire(RequestContext context);

  /** Adds a key, or replaces the key with the same id (new secret, weight, labels, quotas). */
  void addKey(ApiKey key);

  /**
   * Adds or replaces many keys, as {@link #addKey} does for each, in order (a later key with an id
   * replaces an earlier one). Implementations change their membership once for the whole batch,
   * so a batch of thousands costs about as much as one pass over the pool; this default adds the
   * keys one at a time.
   */
  default void addKeys(Collection<ApiKey> keys) {
    keys.forEach(this::addKey);
  }

  /** Removes a key. Returns whether it was present. */
  boolean removeKey(String keyId);

  /** Takes a key out of rotation until {@link #enable}. Returns whether the key exists. */
  boolean disable(String keyId);

  /** Puts a disabled key back in rotation. Returns whether the key exists. */
  boolean enable(String keyId);

  /**
   * Clears a key's cooldowns, health history and {@code INVALID} or {@code UNHEALTHY} state; a
   * disabled key stays disabled. Returns whether the key exists.
   */
  boolean reset(String keyId);

  /** Every key, in pool order. */
  List<KeySnapshot> snapshot();

  /** One key, if present. */
  Optional<KeySnapshot> snapshot(String keyId);

  /**
   * When a key could next take a request for this model, whichever request it is: the earliest
   * instant a key that is neither invalid nor disabled is past its cooldowns (for this model and
   * for all models) and, when unhealthy, due for its trial. An instant at or before now means a
   * key can serve now. Empty when no key frees up by itself: every key is invalid or disabled, or
   * the pool is empty, and only an operator can help. Keys a request already tried count like any
   * other: the answer is for the client's next request.
   *
   * <p>This default reads {@link #snapshot()}; implementations that know more (per-key quotas)
   * override it. It is for error answers ({@code Retry-After}), not for the hot path.
   *
   * @param model the model, or {@value RequestContext#ANY_MODEL}
   */
  default Optional<Instant> earliestAvailable(String model) {
    return earliestAvailable(RequestContext.forModel(model));
  }

  /**
   * As {@link #earliestAvailable(String)} for {@code context}'s model, counting only the keys its
   * constraints {@linkplain RequestContext#admits admit} ({@link RequestContext#inProject one
   * project}, {@link RequestContext#onlyKey one key}): when a request limited to them could be
   * served. Keys it tried count like any other. This default reads {@link #snapshot()}.
   */
  default Optional<Instant> earliestAvailable(RequestContext context) {
    Instant earliest = null;
    String model = context.model();
    for (KeySnapshot k : snapshot()) {
      String project = k.labels().getOrDefault(ApiKey.PROJECT_LABEL, "key:" + k.id());
      if (!context.admits(k.id(), project)) continue;
      if (k.state() == KeyState.INVALID || k.state() == KeyState.DISABLED) continue;
      Instant free = Instant.EPOCH;
      if (k.state() == KeyState.UNHEALTHY && k.stateUntil() != null) free = k.stateUntil();
      Instant any = k.cooldowns().get(RequestContext.ANY_MODEL);
      if (any != null && any.isAfter(free)) free = any;
      Instant forModel = k.cooldowns().get(model);
      if (forModel != null && forModel.isAfter(free)) free = forModel;
      if (earliest == null || free.isBefore(earliest)) earliest = free;
    }
    return Optional.ofNullable(earliest);
  }

  /** Counters since start. */
  RotatorStats stats();

  /** Adds a listener to the existing ones; close the returned handle to remove it. */
  Subscription addListener(RotatorListener listener);

  /** Flushes state to the store and releases it. Leases still open may complete afterwards. */
  @Override
  void close();
}
