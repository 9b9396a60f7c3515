package dev.geminirotator.api;

import java.util.Objects;
import java.util.Set;

/**
 * What the rotator needs to know about a request to pick a key: the model it calls and the keys it
 * has already tried. Immutable and thread-safe; {@link #excluding(String)} returns a new context
 * for the next attempt.
 */
public final class RequestContext {

  /** The scope used when a request names no model (models list, files, ...). */
  public static final String ANY_MODEL = "*";

  private static final RequestContext ANY = new RequestContext(ANY_MODEL, Set.of());

  private final String model;
  private final Set<String> triedKeyIds;

  private RequestContext(String model, Set<String> triedKeyIds) {
    this.model = model;
    this.triedKeyIds = triedKeyIds;
  }

  /** A first attempt at a request for this model; {@code null} or blank means no model. */
  public static RequestContext forModel(String model) {
    if (model == null || model.isBlank() || ANY_MODEL.equals(model)) {
      return ANY;
    }
    return new RequestContext(model, Set.of());
  }

  /** A first attempt at a request that names no model. */
  public static RequestContext anyModel() {
    return ANY;
  }

  /** The model, or {@value #ANY_MODEL}. */
  public String model() {
    return model;
  }

  /** Ids of keys this request already tried; the rotator will not hand them out again. */
  public Set<String> triedKeyIds() {
    return triedKeyIds;
  }

  /** Whether this request already tried the key with this id. */
  public boolean tried(String keyId) {
    return !triedKeyIds.isEmpty() && triedKeyIds.contains(keyId);
  }

  /** The context for the next attempt, which must not get this key again. */
  public RequestContext excluding(String keyId) {
    Objects.requireNonNull(keyId, "keyId");
    if (triedKeyIds.contains(keyId)) {
      return this;
    }
    String[] ids = triedKeyIds.toArray(new String[triedKeyIds.size() + 1]);
    ids[ids.length - 1] = keyId;
    return new RequestContext(model, Set.of(ids));
  }

  @Override
  public String toString() {
    return "RequestContext{model=" + model + ", tried=" + triedKeyIds + '}';
  }
}
