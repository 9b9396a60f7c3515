package dev.geminirotator.standalone;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.spi.KeyStateStore;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the Files API needs from a key pool: a resumable upload continues with the key that
 * started it (upload id → key id), and an uploaded file is only visible to its key's project
 * (file name → project), so later requests naming the file go to a key of that project. Entries
 * expire after {@link #TTL} (Gemini keeps files 48 hours) and the tables are bounded (least
 * recently used entries go first). Pins are also kept in the key-state store with the same time
 * to live, so that with a shared store (Redis) an upload started or a file created through one
 * instance is routed the same way by every other; a local miss asks the store (a blocking read,
 * only for requests that name an upload or a file). Thread-safe: every table access is
 * synchronized on the table.
 */
final class FilePins {

  private static final org.slf4j.Logger log = org.slf4j.LoggerFactory.getLogger(FilePins.class);

  /** How long a pin is kept. */
  static final Duration TTL = Duration.ofHours(48);
  static final int MAX_UPLOADS = 10_000;
  static final int MAX_FILES = 100_000;
  /** Store reads one request may cause for file names not pinned locally. */
  static final int MAX_STORE_READS = 8;

  private static final Pattern FILE_REF = Pattern.compile("files/([a-z0-9][a-z0-9-]{0,62})");

  private record Pin(String value, Instant expires) {
  }

  private final Map<String, Pin> uploads = lru(MAX_UPLOADS);
  private final Map<String, Pin> files = lru(MAX_FILES);
  private final Clock clock;
  private final KeyStateStore store;
  /** Whether the store is shared with other instances (else the local tables say it all). */
  private final boolean shared;

  /** Where store writes run: they block, and the caller is an event loop. */
  private final java.util.concurrent.Executor writeBehind;

  /** Pins kept locally and in {@code store} (when not {@code null}), written through an executor. */
  FilePins(Clock clock, KeyStateStore store, java.util.concurrent.Executor writeBehind) {
    this.writeBehind = writeBehind;
    this.clock = clock;
    this.store = store;
    this.shared = store != null && store.isShared();
  }

  private static Map<String, Pin> lru(int max) {
    return new LinkedHashMap<>(16, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<String, Pin> eldest) {
        return size() > max;
      }
    };
  }

  void pinUpload(String uploadId, String keyId) {
    synchronized (uploads) {
      uploads.put(uploadId, new Pin(keyId, clock.instant().plus(TTL)));
    }
    if (shared) storeWrite("upload:" + uploadId, keyId);
  }

  private void storeWrite(String name, String value) {
    try {
      writeBehind.execute(() -> {
        try {
          store.putValue(name, value, TTL);
        } catch (RuntimeException e) {
          log.warn("could not keep a file pin in the store: {}", e.getClass().getSimpleName());
        }
      });
    } catch (java.util.concurrent.RejectedExecutionException e) {
      log.warn("could not keep a file pin in the store: shutting down");
    }
  }

  /** The id of the key that started this upload, or {@code null}. */
  String uploadKey(String uploadId) {
    return lookup(uploads, uploadId, "upload:");
  }

  void pinFile(String fileName, String project) {
    synchronized (files) {
      files.put(fileName, new Pin(project, clock.instant().plus(TTL)));
    }
    if (shared) storeWrite("file:" + fileName, project);
  }

  /**
   * Whether {@link #uploadKey} or {@link #projectFor} may read the shared store for this request
   * (a blocking round trip, to be made off the event loop): only with a shared store, and only for
   * an upload follow-up or a request that names a file.
   */
  boolean mayBlock(String path, String query, byte[] body) {
    if (!shared) return false;
    if (path.startsWith("/upload/")) return query != null && query.contains("upload_id=");
    return path.contains("files/") || contains(body, FILES);
  }

  private static final byte[] FILES = "files/".getBytes(StandardCharsets.US_ASCII);

  private static boolean contains(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) continue outer;
      }
      return true;
    }
    return false;
  }

  boolean hasFiles() {
    synchronized (files) {
      return !files.isEmpty();
    }
  }

  /**
   * The project of the first pinned file this request names (in its path or body), or null. At
   * most {@link #MAX_STORE_READS} distinct names not pinned locally are looked up in the store:
   * each is a blocking round trip, and a body (any prompt text) may name thousands.
   */
  String projectFor(String path, byte[] body) {
    if (!shared && !hasFiles()) return null;
    Set<String> asked = new java.util.HashSet<>();
    String found = firstPinned(path, asked);
    if (found == null && body.length > 0) {
      // Read in place, byte for char: file names are ASCII, and a body can be as large as the
      // body budget allows (a String of it would be a second, unbudgeted copy).
      found = firstPinned(new io.netty.util.AsciiString(body, false), asked);
    }
    return found;
  }

  private String firstPinned(CharSequence text, Set<String> asked) {
    Matcher m = FILE_REF.matcher(text);
    while (m.find()) {
      String name = "files/" + m.group(1);
      String project = get(files, name);
      if (project == null && shared && asked.size() < MAX_STORE_READS && asked.add(name)) {
        project = fromStore(files, name, "file:");
      }
      if (project != null) return project;
    }
    return null;
  }

  /** The local pin, else the store's (cached locally), else {@code null}. */
  private String lookup(Map<String, Pin> table, String key, String storePrefix) {
    String local = get(table, key);
    if (local != null || !shared) return local;
    return fromStore(table, key, storePrefix);
  }

  /** The store's pin (cached locally), or {@code null}. A blocking read. */
  private String fromStore(Map<String, Pin> table, String key, String storePrefix) {
    String remote = store.getValue(storePrefix + key);
    if (remote != null) {
      synchronized (table) {
        table.put(key, new Pin(remote, clock.instant().plus(TTL)));
      }
    }
    return remote;
  }

  private String get(Map<String, Pin> table, String key) {
    synchronized (table) {
      Pin pin = table.get(key);
      if (pin == null) return null;
      if (clock.instant().isAfter(pin.expires())) {
        table.remove(key);
        return null;
      }
      return pin.value();
    }
  }

  /**
   * A context that lets the rotator hand out only keys matching {@code allowed}, or the context
   * unchanged when no key in the pool matches. O(pool size) per call: used for Files API requests
   * only.
   */
  static RequestContext restrict(RequestContext context, KeyRotator rotator,
      Predicate<KeySnapshot> allowed) {
    RequestContext c = context;
    boolean any = false;
    for (KeySnapshot k : rotator.snapshot()) {
      if (allowed.test(k)) {
        any = true;
      } else {
        c = c.excluding(k.id());
      }
    }
    // No key matches any more (removed from the pool): let the request try any key.
    return any ? c : context;
  }

  /** The project a snapshot's key draws on, as {@link ApiKey#project()} defines it. */
  static String projectOf(KeySnapshot k) {
    String p = k.labels().get(ApiKey.PROJECT_LABEL);
    return p != null ? p : "key:" + k.id();
  }

  /** The file names a Files API response body declares ({@code "name": "files/..."}). */
  static Set<String> declaredFiles(String json) {
    Matcher m = Pattern.compile("\"name\"\\s*:\\s*\"(files/[a-z0-9][a-z0-9-]{0,62})\"")
        .matcher(json);
    java.util.LinkedHashSet<String> out = new java.util.LinkedHashSet<>();
    while (m.find()) out.add(m.group(1));
    return out;
  }
}
