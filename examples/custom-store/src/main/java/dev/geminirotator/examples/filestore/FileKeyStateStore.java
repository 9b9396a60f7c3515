package dev.geminirotator.examples.filestore;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.StateChange;
import dev.geminirotator.api.spi.StoreSnapshot;
import dev.geminirotator.api.spi.StoreState;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Instant;
import java.util.Objects;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A {@link KeyStateStore} that keeps a pool's state in one JSON file, so cooldowns, invalid and
 * disabled keys, health scores and keys added at run time survive a restart of a single
 * instance. Written against the API module only, as any third-party store would be.
 *
 * <p>As the SPI requires, {@link #apply} never blocks on I/O: it updates memory, tells the
 * subscribers, and schedules a write on the store's own thread; bursts of changes coalesce into
 * one write. Each write goes to a temporary file that then replaces the old one atomically, so a
 * crash leaves either the old state or the new one. {@link #close()} writes whatever is pending.
 * The file holds the secrets of keys added at run time, so it is created readable by its owner
 * only (on POSIX file systems). The merge rules are the SPI's own ({@link StoreState}). It
 * declares no shared counters or values: one instance's file has nobody to share them with, so
 * callers keep them in memory. Thread-safe.
 */
public final class FileKeyStateStore implements KeyStateStore {

  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;
  private final Clock clock;
  private final Object lock = new Object();
  private final StoreState state = new StoreState(); // guarded by lock
  private final CopyOnWriteArrayList<Consumer<StateChange>> listeners =
      new CopyOnWriteArrayList<>();
  private final ExecutorService writer = Executors.newSingleThreadExecutor(r -> {
    Thread t = new Thread(r, "file-key-state-store");
    t.setDaemon(true);
    return t;
  });
  private final AtomicBoolean writePending = new AtomicBoolean();
  private volatile boolean lastWriteFailed;

  private FileKeyStateStore(Path file, Clock clock) {
    this.file = file.toAbsolutePath();
    this.clock = clock;
  }

  /** Opens the store, reading the file when it exists. */
  public static FileKeyStateStore open(Path file) {
    return open(file, Clock.systemUTC());
  }

  /** As {@link #open(Path)}, with the clock that decides which cooldowns have expired. */
  public static FileKeyStateStore open(Path file, Clock clock) {
    FileKeyStateStore store = new FileKeyStateStore(Objects.requireNonNull(file, "file"),
        Objects.requireNonNull(clock, "clock"));
    if (Files.exists(store.file)) store.read();
    return store;
  }

  /** The file this store writes. */
  public Path file() {
    return file;
  }

  @Override
  public StoreSnapshot load() {
    synchronized (lock) {
      return state.snapshot(clock.instant());
    }
  }

  /**
   * Merges the change by the SPI's rules ({@link StoreState}), hands what stands to the
   * subscribers and schedules a write of the file.
   */
  @Override
  public StateChange apply(StateChange change) {
    Objects.requireNonNull(change, "change");
    StateChange standing;
    synchronized (lock) {
      standing = state.apply(change);
      // handed on under the lock: every listener, the applying rotator's own echo included,
      // hears the changes in the order this store took them
      if (!(change instanceof StateChange.Health)) { // written behind, not propagated
        for (Consumer<StateChange> listener : listeners) {
          try {
            listener.accept(standing);
          } catch (RuntimeException e) {
            // a listener's failure must not stop the others, nor the caller's request
          }
        }
      }
    }
    scheduleWrite();
    return standing;
  }

  @Override
  public Subscription subscribe(Consumer<StateChange> listener) {
    Objects.requireNonNull(listener, "listener");
    listeners.add(listener);
    return () -> listeners.remove(listener);
  }

  /** One instance's file: shared counters and values stay with the callers, in memory. */
  @Override
  public boolean isShared() {
    return false;
  }

  /** Whether the last write of the file succeeded. */
  @Override
  public boolean isAvailable() {
    return !lastWriteFailed;
  }

  @Override
  public String describe() {
    return "file:" + file;
  }

  /** Writes whatever is pending, then stops the writer thread. */
  @Override
  public void close() {
    writer.shutdown();
    try {
      writer.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    write();
    listeners.clear();
  }

  private void scheduleWrite() {
    if (writePending.compareAndSet(false, true) && !writer.isShutdown()) {
      try {
        writer.execute(() -> {
          writePending.set(false);
          write();
        });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        writePending.set(false); // closing: close() writes the rest
      }
    }
  }

  /** Writes the state to a temporary file and moves it over the old one. */
  private void write() {
    byte[] bytes;
    synchronized (lock) {
      bytes = toJson(state.snapshot(clock.instant())).toPrettyString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    }
    try {
      Path dir = file.getParent();
      Files.createDirectories(dir);
      Path tmp = dir.resolve(file.getFileName() + ".tmp");
      Files.deleteIfExists(tmp);
      try {
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(
            PosixFilePermissions.fromString("rw-------")));
      } catch (UnsupportedOperationException | FileAlreadyExistsException e) {
        // not a POSIX file system: plain file
      }
      Files.write(tmp, bytes);
      try {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING,
            StandardCopyOption.ATOMIC_MOVE);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
      lastWriteFailed = false;
    } catch (IOException e) {
      lastWriteFailed = true;
    }
  }

  private static ObjectNode toJson(StoreSnapshot snapshot) {
    ObjectNode root = JSON.createObjectNode();
    root.put("version", 1);
    ArrayNode keys = root.putArray("addedKeys");
    for (ApiKey k : snapshot.addedKeys()) {
      ObjectNode n = keys.addObject();
      n.put("id", k.id());
      n.put("secret", k.secret());
      n.put("weight", k.weight());
      ObjectNode labels = n.putObject("labels");
      k.labels().forEach(labels::put);
      k.requestsPerMinute().ifPresent(v -> n.put("rpm", v));
      k.requestsPerDay().ifPresent(v -> n.put("rpd", v));
    }
    ArrayNode removedIds = root.putArray("removedKeyIds");
    snapshot.removedKeyIds().forEach(removedIds::add);
    ArrayNode states = root.putArray("statuses");
    for (StateChange.KeyStatus s : snapshot.statuses().values()) {
      ObjectNode n = states.addObject();
      n.put("keyId", s.keyId());
      n.put("state", s.state().name());
      if (s.until() != null) n.put("until", s.until().toString());
      if (s.reason() != null) n.put("reason", s.reason());
      n.put("at", s.at().toString());
    }
    ArrayNode cools = root.putArray("cooldowns");
    for (StateChange.Cooldown c : snapshot.cooldowns()) {
      cools.addObject().put("project", c.project()).put("model", c.model())
          .put("until", c.until().toString());
    }
    ObjectNode scores = root.putObject("health");
    snapshot.health().forEach(scores::put);
    ArrayNode breakerList = root.putArray("breakers");
    for (StateChange.Breaker b : snapshot.breakers().values()) {
      ObjectNode n = breakerList.addObject().put("name", b.name()).put("state", b.state());
      if (b.until() != null) n.put("until", b.until().toString());
    }
    return root;
  }

  private void read() {
    JsonNode root;
    try {
      root = JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the key state file " + file, e);
    }
    if (root == null || root.path("version").asInt() != 1) {
      throw new IllegalArgumentException("not a key state file (version 1): " + file);
    }
    for (JsonNode n : root.path("addedKeys")) {
      ApiKey.Builder b = ApiKey.builder(n.path("secret").asText()).id(n.path("id").asText())
          .weight(n.path("weight").asInt(ApiKey.DEFAULT_WEIGHT));
      n.path("labels").fields().forEachRemaining(e -> b.label(e.getKey(), e.getValue().asText()));
      if (n.has("rpm")) b.requestsPerMinute(n.get("rpm").asInt());
      if (n.has("rpd")) b.requestsPerDay(n.get("rpd").asInt());
      state.apply(new StateChange.KeyAdded(b.build()));
    }
    root.path("removedKeyIds").forEach(n -> state.apply(new StateChange.KeyRemoved(n.asText())));
    for (JsonNode n : root.path("statuses")) {
      StateChange.KeyStatus s = new StateChange.KeyStatus(n.path("keyId").asText(),
          KeyState.valueOf(n.path("state").asText()), instant(n.get("until")),
          n.hasNonNull("reason") ? n.get("reason").asText() : null, instant(n.get("at")));
      state.apply(s);
    }
    for (JsonNode n : root.path("cooldowns")) {
      state.apply(new StateChange.Cooldown(n.path("project").asText(),
          n.path("model").asText(), instant(n.get("until")), false));
    }
    root.path("health").fields().forEachRemaining(e -> state.apply(
        new StateChange.Health(e.getKey(), e.getValue().asDouble())));
    for (JsonNode n : root.path("breakers")) {
      state.apply(new StateChange.Breaker(n.path("name").asText(),
          n.path("state").asText(), instant(n.get("until"))));
    }
  }

  private static Instant instant(JsonNode node) {
    return node == null || node.isNull() ? null : Instant.parse(node.asText());
  }
}
