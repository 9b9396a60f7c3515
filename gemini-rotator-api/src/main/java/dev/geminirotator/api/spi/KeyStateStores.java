package dev.geminirotator.api.spi;

import java.net.URI;
import java.net.URISyntaxException;
import java.util.Locale;
import java.util.ServiceLoader;
import java.util.TreeSet;

/** Finds a {@link KeyStateStoreProvider} by URI scheme and opens a store with it. */
public final class KeyStateStores {

  private KeyStateStores() {
  }

  /**
   * Opens the store a URI names, e.g. {@code memory:} or {@code redis://host:6379/0}.
   *
   * @throws IllegalArgumentException when the URI is malformed or no provider handles its scheme;
   *     the message lists the schemes available
   */
  public static KeyStateStore open(String uri) {
    return open(uri, Thread.currentThread().getContextClassLoader());
  }

  /** As {@link #open(String)}, looking for providers with this class loader. */
  public static KeyStateStore open(String uri, ClassLoader loader) {
    URI parsed;
    String text = uri.trim();
    if (text.matches("[A-Za-z][A-Za-z0-9+.-]*:")) {
      text = text + "/"; // "memory:" alone is not a valid java.net.URI
    }
    try {
      parsed = new URI(text);
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("storage URI is malformed: " + e.getReason());
    }
    String scheme = parsed.getScheme();
    if (scheme == null) {
      throw new IllegalArgumentException("storage URI needs a scheme, such as memory: or redis://");
    }
    scheme = scheme.toLowerCase(Locale.ROOT);
    TreeSet<String> known = new TreeSet<>();
    for (KeyStateStoreProvider provider : ServiceLoader.load(KeyStateStoreProvider.class, loader)) {
      if (provider.schemes().contains(scheme)) {
        return provider.open(parsed);
      }
      known.addAll(provider.schemes());
    }
    throw new IllegalArgumentException("no storage provider for scheme '" + scheme
        + "'; available: " + known + " (add the module that provides it to the classpath)");
  }
}
