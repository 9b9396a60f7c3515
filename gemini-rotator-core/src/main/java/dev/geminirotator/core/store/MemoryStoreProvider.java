package dev.geminirotator.core.store;

import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.KeyStateStoreProvider;
import java.net.URI;
import java.util.Set;

/** Provides {@link MemoryKeyStateStore} for {@code memory:} URIs. */
public final class MemoryStoreProvider implements KeyStateStoreProvider {

  @Override
  public Set<String> schemes() {
    return Set.of("memory");
  }

  @Override
  public KeyStateStore open(URI uri) {
    String rest = uri.getSchemeSpecificPart();
    if (rest != null && !rest.isEmpty() && !rest.equals("/") && !rest.equals("//")) {
      throw new IllegalArgumentException("the memory store takes no options: use 'memory:' but was 'memory:"
          + rest + "'");
    }
    return new MemoryKeyStateStore();
  }
}
