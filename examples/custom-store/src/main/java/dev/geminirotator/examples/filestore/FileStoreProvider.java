package dev.geminirotator.examples.filestore;

import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.KeyStateStoreProvider;
import java.net.URI;
import java.nio.file.Path;
import java.util.Set;

/**
 * Opens a {@link FileKeyStateStore} for {@code file:} storage URIs: {@code file:state.json}
 * (relative to the working directory) or {@code file:///var/lib/gemini-rotator/state.json}.
 * Registered in {@code META-INF/services/dev.geminirotator.api.spi.KeyStateStoreProvider}, so a
 * configuration picks it with {@code storage: file:...}; nothing else needs to know it exists.
 */
// README:custom-store:begin
public final class FileStoreProvider implements KeyStateStoreProvider {

  @Override
  public Set<String> schemes() {
    return Set.of("file");
  }

  @Override
  public KeyStateStore open(URI uri) {
    String path = uri.isOpaque() ? uri.getSchemeSpecificPart() : uri.getPath();
    if (path == null || path.isBlank() || path.endsWith("/")) {
      throw new IllegalArgumentException("file: storage needs a file path, such as"
          + " file:state.json or file:///var/lib/gemini-rotator/state.json");
    }
    return FileKeyStateStore.open(Path.of(path));
  }
}
// README:custom-store:end
