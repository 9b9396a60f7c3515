package dev.geminirotator.core.internal.exchange;

import java.util.Objects;

/**
 * One project-bound resource a request names: its kind and the name its pin is kept under. For
 * every kind but {@link ResourceKind#UPLOAD} the name is the top-level resource name
 * ({@code files/abc}, {@code fileSearchStores/s} for {@code fileSearchStores/s/documents/d}: a
 * child belongs to its parent's project); for an upload it is the {@code upload_id}. Immutable.
 *
 * @param kind what the resource is
 * @param name the name its owner is pinned under; never {@code null} or empty
 */
public record ResourceRef(ResourceKind kind, String name) {

  public ResourceRef {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(name, "name");
    if (name.isEmpty()) {
      throw new IllegalArgumentException("a resource name must not be empty");
    }
  }
}
