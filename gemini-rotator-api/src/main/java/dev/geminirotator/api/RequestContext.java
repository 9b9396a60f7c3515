package dev.geminirotator.api;

import java.util.Objects;
import java.util.Set;

/**
 * What the rotator needs to know about a request to pick a key: the model it calls, the keys it
 * has already tried and, for a request that names a project-bound resource (a file, a context
 * cache, a batch ...), which keys may see that resource: only the keys of one project
 * ({@link #inProject}), only one key ({@link #onlyKey}), or, while the resource's owner is being
 * found, any project but those already asked ({@link #skippingProject}).
 *
 * <p>Immutable and thread-safe; every {@code excluding}/{@code in}/{@code skipping} method returns
 * a new context. A context with no constraint (nearly every request) costs the rotator one field
 * read.
 */
public final class RequestContext {

  /** The scope used when a request names no model (models list, files, ...). */
  public static final String ANY_MODEL = "*";

  private static final RequestContext ANY =
      new RequestContext(ANY_MODEL, Set.of(), null, null, Set.of());

  private final String model;
  private final Set<String> triedKeyIds;
  /** The only project whose keys may serve, or {@code null}. */
  private final String project;
  /** The only key that may serve, or {@code null}. */
  private final String onlyKeyId;
  /** Projects whose keys may not serve (already asked for a resource they did not hold). */
  private final Set<String> skippedProjects;
  /** Whether any of the three constraints above is set. */
  private final boolean constrained;

  private RequestContext(String model, Set<String> triedKeyIds, String project, String onlyKeyId,
      Set<String> skippedProjects) {
    this.model = model;
    this.triedKeyIds = triedKeyIds;
    this.project = project;
    this.onlyKeyId = onlyKeyId;
    this.skippedProjects = skippedProjects;
    this.constrained = project != null || onlyKeyId != null || !skippedProjects.isEmpty();
  }

  /** A first attempt at a request for this model; {@code null} or blank means no model. */
  public static RequestContext forModel(String model) {
    if (model == null || model.isBlank() || ANY_MODEL.equals(model)) {
      return ANY;
    }
    return new RequestContext(model, Set.of(), null, null, Set.of());
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
    return new RequestContext(model, Set.of(ids), project, onlyKeyId, skippedProjects);
  }

  /**
   * This context, served only by keys of this project ({@link ApiKey#project()}): the request
   * names a resource that only that project can see.
   */
  public RequestContext inProject(String project) {
    Objects.requireNonNull(project, "project");
    return new RequestContext(model, triedKeyIds, project, onlyKeyId, skippedProjects);
  }

  /**
   * This context, served only by the key with this id: the request continues something only that
   * key started (a resumable upload).
   */
  public RequestContext onlyKey(String keyId) {
    Objects.requireNonNull(keyId, "keyId");
    return new RequestContext(model, triedKeyIds, project, keyId, skippedProjects);
  }

  /**
   * This context, never served by keys of this project again: the project was asked for the
   * request's resource and does not hold it.
   */
  public RequestContext skippingProject(String project) {
    Objects.requireNonNull(project, "project");
    if (skippedProjects.contains(project)) {
      return this;
    }
    String[] names = skippedProjects.toArray(new String[skippedProjects.size() + 1]);
    names[names.length - 1] = project;
    return new RequestContext(model, triedKeyIds, this.project, onlyKeyId, Set.of(names));
  }

  /** The only project whose keys may serve, or {@code null} when any may. */
  public String project() {
    return project;
  }

  /** The only key that may serve, or {@code null} when any may. */
  public String onlyKeyId() {
    return onlyKeyId;
  }

  /** Projects whose keys may not serve. */
  public Set<String> skippedProjects() {
    return skippedProjects;
  }

  /** Whether the request is limited to one project, one key, or away from some projects. */
  public boolean constrained() {
    return constrained;
  }

  /**
   * Whether the key with this id, of this project, may serve as far as the constraints go (tried
   * keys are {@link #tried}'s business).
   */
  public boolean admits(String keyId, String keyProject) {
    if (!constrained) {
      return true;
    }
    if (onlyKeyId != null && !onlyKeyId.equals(keyId)) {
      return false;
    }
    if (project != null && !project.equals(keyProject)) {
      return false;
    }
    return skippedProjects.isEmpty() || !skippedProjects.contains(keyProject);
  }

  @Override
  public String toString() {
    StringBuilder s = new StringBuilder("RequestContext{model=").append(model)
        .append(", tried=").append(triedKeyIds);
    if (project != null) s.append(", project=").append(project);
    if (onlyKeyId != null) s.append(", onlyKey=").append(onlyKeyId);
    if (!skippedProjects.isEmpty()) s.append(", skippedProjects=").append(skippedProjects);
    return s.append('}').toString();
  }
}
