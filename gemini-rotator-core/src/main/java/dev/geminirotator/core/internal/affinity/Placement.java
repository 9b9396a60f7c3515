package dev.geminirotator.core.internal.affinity;

import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import java.time.Instant;
import java.util.Objects;

/**
 * Which keys may serve a request, as resource affinity decides before its first attempt. Immutable.
 */
public sealed interface Placement {

  /** The request names no project-bound resource (nearly every request): any key may serve. */
  Placement ANY = new Any();

  /** The context the first attempt leases under: {@code context} narrowed as this placement says. */
  RequestContext narrow(RequestContext context);

  /** Any key may serve. */
  record Any() implements Placement {
    @Override
    public RequestContext narrow(RequestContext context) {
      return context;
    }
  }

  /**
   * The request names a resource that only this project holds: only its keys may serve.
   *
   * @param project the owning project ({@link dev.geminirotator.api.ApiKey#project()})
   * @param resource the resource that decided it
   */
  record Pinned(String project, ResourceRef resource) implements Placement {
    public Pinned {
      Objects.requireNonNull(project, "project");
      Objects.requireNonNull(resource, "resource");
    }

    @Override
    public RequestContext narrow(RequestContext context) {
      return context.inProject(project);
    }
  }

  /**
   * The request continues something only this key started (a resumable upload): only it may serve.
   *
   * @param keyId the key's id
   * @param resource the upload
   */
  record PinnedKey(String keyId, ResourceRef resource) implements Placement {
    public PinnedKey {
      Objects.requireNonNull(keyId, "keyId");
      Objects.requireNonNull(resource, "resource");
    }

    @Override
    public RequestContext narrow(RequestContext context) {
      return context.onlyKey(keyId);
    }
  }

  /**
   * The request names a resource whose owner is not known (not created through this pool): the
   * loop asks one key per project; a 403 or 404 about this resource from a project that does not
   * hold it moves on to the next project and is never blamed on the key (any other 403/404 is the
   * client's answer); the first success that proves ownership pins it
   * ({@link Affinity#discovered}).
   *
   * @param resource the resource being looked for
   */
  record Discover(ResourceRef resource) implements Placement {
    public Discover {
      Objects.requireNonNull(resource, "resource");
    }

    @Override
    public RequestContext narrow(RequestContext context) {
      return context;
    }
  }

  /**
   * The request names a resource every project was asked about moments ago, none holding it
   * ({@link Affinity#notFound}). Answered 404 without an attempt. (A resource whose project has
   * no usable key is {@link Pinned}: the loop answers that from the rotator, naming the project.)
   *
   * @param resource the resource
   * @param retryAt when asking again may help, or {@code null} when only an operator can help
   */
  record Unreachable(ResourceRef resource, Instant retryAt) implements Placement {
    public Unreachable {
      Objects.requireNonNull(resource, "resource");
    }

    @Override
    public RequestContext narrow(RequestContext context) {
      return context;
    }
  }
}
