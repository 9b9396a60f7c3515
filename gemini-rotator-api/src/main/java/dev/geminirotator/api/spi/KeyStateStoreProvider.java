package dev.geminirotator.api.spi;

import java.net.URI;
import java.util.Set;

/**
 * Creates {@link KeyStateStore}s for some URI schemes. Register an implementation in
 * {@code META-INF/services/dev.geminirotator.api.spi.KeyStateStoreProvider}; {@link KeyStateStores}
 * finds it with {@link java.util.ServiceLoader} by scheme.
 */
public interface KeyStateStoreProvider {

  /** The schemes this provider handles, lower case, e.g. {@code memory} or {@code redis}. */
  Set<String> schemes();

  /**
   * Opens a store for this URI.
   *
   * @throws IllegalArgumentException when the URI is malformed for this provider; the message
   *     names what is wrong and never contains a password
   */
  KeyStateStore open(URI uri);
}
