package dev.geminirotator.core.internal.affinity;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.spi.KeyStateStore;
import dev.geminirotator.api.spi.SharedValues;
import dev.geminirotator.core.affinity.AffinityPolicy;
import dev.geminirotator.core.internal.affinity.CreatedResources.Created;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import dev.geminirotator.core.internal.Checks;
import dev.geminirotator.core.internal.Durations;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Resource affinity for both transports: which project (or, for a resumable upload, which key)
 * owns each resource created through the pool, learnt from the answers that created them, and so
 * which keys may serve a later request naming one. Research and sources:
 * {@code docs/gemini-resources.md}.
 *
 * <p><b>Learning ({@link #served}).</b> Only success answers from Gemini create pins:
 * <ul>
 *   <li>a creating answer pins what it names (see {@link CreatedResources}): an upload's
 *       {@code upload_id} to the key that started it, everything else to the key's project, until
 *       the answer's {@code expirationTime}/{@code expireTime} when it has one (kept between
 *       {@link #MIN_PIN_LIFETIME} and {@link #MAX_PIN_LIFETIME} from now), else for
 *       {@link ResourceKind#lifetime()};
 *   <li>an upload's finalize (the answer names the file, or says
 *       {@code X-Goog-Upload-Status: final}) ends the upload's pin;
 *   <li>a {@code cachedContents} PATCH answer's new {@code expireTime} moves the cache's pin
 *       ("only expiration is updatable", {@code cache_service.proto}, §3);
 *   <li>a request that uses a file search store or a tuned model (kept "until you choose to
 *       delete it", §5, §8) renews its pin to a full {@link ResourceKind#lifetime()}; the store
 *       is written at most once per {@code renewEvery} per resource;
 *   <li>a 2xx for a DELETE removes the deleted resource's pin from the store; here it is kept
 *       only for {@code notFoundFor}, so that late requests naming it get Gemini's own 404 from
 *       its project and this instance does not read the store's pin back before the removal is
 *       written. The request model sets {@link GeminiRequest#deletes()} only when the resource
 *       itself is deleted (a file search store's document is not its store);
 *   <li>a resource with no pin (created elsewhere, or its pin was lost) is pinned only by
 *       {@link #discovered}: the loop's discovery target, when a success proved the project
 *       holds it (its own path, or a synchronous model call naming it; never an asynchronous
 *       acceptance such as {@code batchGenerateContent}), for at most
 *       {@link #DISCOVERED_PIN_LIFETIME}, renewed on use. A request naming other resources pins
 *       none of them;
 *   <li>an upload's {@code X-Goog-Upload-URL} is pinned when the answer's head arrives
 *       ({@link #answered}), so a body closed unread loses nothing;
 *   <li>a 404 (or a 403 not about the key) on a pinned resource's own path from its own project
 *       drops the pin ({@link #misplaced}), so the next request rediscovers.
 * </ul>
 *
 * <p><b>Placement ({@link #place}).</b> A request naming no resource gets {@link Placement#ANY}
 * at once, with no lookup and no allocation. Otherwise a named upload with a local pin decides
 * ({@link Placement.PinnedKey}: only the key that started it can continue it, even into a file
 * search store pinned to its project), else the first named resource with a local pin
 * ({@link Placement.Pinned}). A
 * request naming resources of two projects thus goes to the first pinned one's project, and
 * Gemini's answer there (403 or 404 for the other resource) goes back to the caller as the
 * client error it is. Without a local pin, a named resource that every project recently said it
 * does not hold ({@link #notFound}, remembered for {@code notFoundFor}) makes the request
 * {@link Placement.Unreachable}; else, with a shared store, the first resource's pin is read from
 * it (the one store read a request may cause, a blocking round trip that {@link #mayBlock} warns
 * of) and kept locally; else the request is {@link Placement.Discover}ed. {@link #mayBlock} and
 * {@link #place} look at the same tables: only a local pin that expires in the instant between the
 * two calls makes {@code place} read the store after {@code mayBlock} said it would not. A
 * resource reported {@linkplain #notFound not found} loses its local pin too (it was deleted
 * elsewhere, or its pin was wrong).
 *
 * <p><b>The store.</b> With a store that {@linkplain KeyStateStore#isShared() is shared} (Redis)
 * every pin is kept there too, under {@code pin:{kind}:{name}} ({@link #storeName}) as
 * {@code {expiry in epoch millis}:{owner}} with the pin's remaining lifetime as its time to live,
 * so every instance on that store routes alike. Writes (and removals) run on the executor the
 * caller supplies, never on the caller's thread; give it one thread to keep each pin's writes in
 * order. A value read back is checked (its shape, an owner without control characters, an upload
 * owner that is a key id, an expiry in the future) and otherwise ignored. With a store that is
 * not shared (the memory store) the local tables are all there is, and nothing blocks.
 *
 * <p><b>Bounds.</b> At most {@code maxPins} pins are held locally, least recently used first out,
 * expired ones dropped when met; at most {@code maxNotFound} not-found entries, oldest first out.
 * A client cannot grow either by naming resources: pins come from Gemini's success answers (one
 * discovery pin per request at most), not-found entries from a discovery every project answered.
 *
 * <p>Work per call is linear in the resources the request names (the request model should bound
 * them) and independent of the table sizes.
 *
 * <p>Thread-safe: the local tables are guarded by one lock, held for table operations only (never
 * across a store call).
 */
public final class ResourceAffinity implements Affinity {

  private static final Logger log = LoggerFactory.getLogger(ResourceAffinity.class);

  public static final int DEFAULT_MAX_PINS = 100_000;
  public static final int DEFAULT_MAX_NOT_FOUND = 10_000;
  public static final Duration DEFAULT_NOT_FOUND_FOR = Duration.ofSeconds(30);
  public static final Duration DEFAULT_RENEW_EVERY = Duration.ofHours(1);

  /** The longest a pin is kept, whatever an answer's expiry says. */
  public static final Duration MAX_PIN_LIFETIME = Duration.ofDays(400);
  /**
   * The shortest a created resource's pin is kept, whatever its answer's expiry says: an expiry
   * already past on this clock is Gemini's clock ahead of ours, not a resource already gone.
   */
  public static final Duration MIN_PIN_LIFETIME = Duration.ofMinutes(1);

  /** The name of the thread {@link Builder#store(KeyStateStore)} writes the store on. */
  public static final String WRITE_BEHIND_THREAD = "gemini-rotator-pin-writer";
  /** How long {@link Builder#store(KeyStateStore)}'s write-behind thread idles before it ends. */
  public static final Duration WRITE_BEHIND_IDLE = Duration.ofSeconds(10);
  /** How many store writes {@link Builder#store(KeyStateStore)} lets wait at most. */
  public static final int WRITE_BEHIND_QUEUE = 10_000;

  /**
   * The longest a pin learnt by discovery is kept past its last use: its resource was created
   * elsewhere, so its real expiry is unknown, and a wrong one must not outlive a day.
   */
  public static final Duration DISCOVERED_PIN_LIFETIME = Duration.ofDays(1);

  /** The prefix of every store value this class keeps. */
  public static final String STORE_PREFIX = "pin:";

  /** A pin's owner as read back from the store: a project or key id, no control characters. */
  private static final int MAX_OWNER_CHARS = 256;
  /** An upload's owner is a key id ({@link ApiKey#id()}'s pattern). */
  private static final Pattern KEY_ID = Pattern.compile("[A-Za-z0-9._:@-]{1,128}");
  private static final long LOG_EVERY_MILLIS = 60_000;

  private final Clock clock;
  private final KeyStateStore store;
  private final Executor writeBehind;
  private final SharedValues values; // null unless the store shares values
  private final boolean shared;
  private final int maxPins;
  private final int maxNotFound;
  private final long notFoundForMillis;
  private final long renewEveryMillis;

  private final Object lock = new Object();
  /** Pins by resource, least recently used first. Guarded by {@link #lock}. */
  private final LinkedHashMap<ResourceRef, Pin> pins;
  /** Until when each resource is known not found, oldest first. Guarded by {@link #lock}. */
  private final LinkedHashMap<ResourceRef, Long> notFound;
  private final AtomicLong nextStoreWarning = new AtomicLong(Long.MIN_VALUE);

  /** One pin: owner, expiry, and the placement it makes (built once). Guarded by the lock. */
  private static final class Pin {
    final String owner;
    final Placement placement;
    /** Learnt by discovery: kept {@link #DISCOVERED_PIN_LIFETIME} at most, renewed on use. */
    boolean discovered;
    long expires;
    /** The expiry the store last got for this pin (or gave it). */
    long storedExpires;

    Pin(ResourceRef ref, String owner, long expires) {
      this.owner = owner;
      this.placement = ref.kind() == ResourceKind.UPLOAD
          ? new Placement.PinnedKey(owner, ref) : new Placement.Pinned(owner, ref);
      this.expires = expires;
      this.storedExpires = expires;
    }
  }

  private ResourceAffinity(Builder b) {
    this.clock = b.clock;
    this.store = b.store;
    this.writeBehind = b.writeBehind;
    this.values = b.store != null && b.store.isShared() ? b.store.values().orElse(null) : null;
    this.shared = values != null;
    this.maxPins = b.maxPins;
    this.maxNotFound = b.maxNotFound;
    this.notFoundForMillis = b.notFoundFor.toMillis();
    this.renewEveryMillis = b.renewEvery.toMillis();
    int pinsCap = maxPins;
    this.pins = new LinkedHashMap<>(16, 0.75f, true) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<ResourceRef, Pin> eldest) {
        return size() > pinsCap || eldest.getValue().expires <= clock.millis();
      }
    };
    int notFoundCap = maxNotFound;
    this.notFound = new LinkedHashMap<>(16, 0.75f, false) {
      private static final long serialVersionUID = 1L;

      @Override
      protected boolean removeEldestEntry(Map.Entry<ResourceRef, Long> eldest) {
        return size() > notFoundCap || eldest.getValue() <= clock.millis();
      }
    };
  }

  /**
   * The affinity {@code policy} describes: {@link Affinity#NONE} when disabled, else a {@code
   * ResourceAffinity} with its bounds, keeping its pins in {@code store} too when it is shared,
   * written on {@code writeBehind} (see {@link Builder#store(KeyStateStore, Executor)}).
   */
  public static Affinity of(AffinityPolicy policy, KeyStateStore store, Executor writeBehind,
      Clock clock) {
    if (!policy.enabled()) return Affinity.NONE;
    return builder(policy, clock).store(store, writeBehind).build();
  }

  /**
   * As {@link #of(AffinityPolicy, KeyStateStore, Executor, Clock)}, writing the store on the
   * affinity's own daemon thread ({@link Builder#store(KeyStateStore)}), which needs no shutting
   * down.
   */
  public static Affinity of(AffinityPolicy policy, KeyStateStore store, Clock clock) {
    if (!policy.enabled()) return Affinity.NONE;
    return builder(policy, clock).store(store).build();
  }

  /**
   * The affinity {@code policy} asks for with its pins in this JVM only (no store), or {@link
   * Affinity#NONE} when it is disabled.
   */
  public static Affinity of(AffinityPolicy policy, Clock clock) {
    if (!policy.enabled()) return Affinity.NONE;
    return builder(policy, clock).build();
  }

  /** A builder with {@code policy}'s bounds and {@code clock}. */
  public static Builder builder(AffinityPolicy policy, Clock clock) {
    return builder().clock(clock).maxPins(policy.maxPins()).maxNotFound(policy.maxNotFound())
        .notFoundFor(policy.notFoundFor()).renewEvery(policy.renewEvery());
  }

  public static Builder builder() {
    return new Builder();
  }

  /** One daemon thread, in order, ended when idle; a bounded queue that refuses when full. */
  private static ThreadPoolExecutor writeBehind() {
    ThreadPoolExecutor executor = new ThreadPoolExecutor(1, 1, WRITE_BEHIND_IDLE.toMillis(),
        TimeUnit.MILLISECONDS, new LinkedBlockingQueue<>(WRITE_BEHIND_QUEUE), runnable -> {
          Thread thread = new Thread(runnable, WRITE_BEHIND_THREAD);
          thread.setDaemon(true);
          return thread;
        }, new ThreadPoolExecutor.AbortPolicy());
    executor.allowCoreThreadTimeOut(true);
    return executor;
  }

  /** The name a resource's pin is kept under in the store: {@code pin:{kind}:{name}}. */
  public static String storeName(ResourceRef ref) {
    return STORE_PREFIX + ref.kind().name().toLowerCase(Locale.ROOT) + ':' + ref.name();
  }

  // ---------------------------------------------------------------- placement

  @Override
  public boolean mayBlock(GeminiRequest request) {
    List<ResourceRef> resources = request.resources();
    if (resources.isEmpty() || !shared) return false;
    long now = clock.millis();
    synchronized (lock) {
      for (int i = 0, n = resources.size(); i < n; i++) {
        ResourceRef r = resources.get(i);
        if (livePin(r, now) != null || liveNotFound(r, now) != 0) return false;
      }
    }
    return true;
  }

  @Override
  public Placement place(GeminiRequest request) {
    List<ResourceRef> resources = request.resources();
    if (resources.isEmpty()) return Placement.ANY;
    long now = clock.millis();
    ResourceRef missing = null;
    long missingUntil = 0;
    Pin pinned = null;
    synchronized (lock) {
      for (int i = 0, n = resources.size(); i < n; i++) {
        ResourceRef r = resources.get(i);
        Pin pin = livePin(r, now);
        if (pin != null) {
          // An upload's key wins over any project pin: only that key can continue it.
          if (r.kind() == ResourceKind.UPLOAD) return pin.placement;
          if (pinned == null) pinned = pin;
          continue;
        }
        if (missing == null) {
          long until = liveNotFound(r, now);
          if (until != 0) {
            missing = r;
            missingUntil = until;
          }
        }
      }
    }
    if (pinned != null) return pinned.placement;
    if (missing != null) {
      return new Placement.Unreachable(missing, Instant.ofEpochMilli(missingUntil));
    }
    ResourceRef first = resources.get(0);
    if (shared) {
      Pin pin = fromStore(first, now);
      if (pin != null) return pin.placement;
    }
    return new Placement.Discover(first);
  }

  // ---------------------------------------------------------------- learning

  @Override
  public boolean readsAnswer(GeminiRequest request) {
    return request.creates() != null || isCachePatch(request);
  }

  /** A PATCH of a cached content: its answer holds the new {@code expireTime}. */
  private static boolean isCachePatch(GeminiRequest request) {
    List<ResourceRef> resources = request.resources();
    return !resources.isEmpty() && resources.get(0).kind() == ResourceKind.CACHED_CONTENT
        && request.method().equals("PATCH");
  }

  @Override
  public void served(GeminiRequest request, ApiKey key, int status,
      Function<String, String> headers, byte[] body) {
    if (status < 200 || status > 299) return;
    ResourceKind creates = request.creates();
    ResourceRef deletes = request.deletes();
    List<ResourceRef> resources = request.resources();
    if (creates == null && deletes == null && resources.isEmpty()) return;
    long now = clock.millis();
    String project = key.project();

    if (deletes != null) deleted(deletes, project, now);

    boolean madeResource = false;
    List<Created> created = List.of();
    if (creates != null) {
      created = CreatedResources.read(creates, headers, body, null);
    } else if (isCachePatch(request)) {
      created = CreatedResources.read(ResourceKind.CACHED_CONTENT, headers, body,
          resources.get(0));
    }
    for (int i = 0; i < created.size(); i++) {
      Created c = created.get(i);
      boolean upload = c.ref().kind() == ResourceKind.UPLOAD;
      madeResource |= !upload;
      long expires = c.expires() == null
          ? now + c.ref().kind().lifetime().toMillis()
          : clamp(c.expires().toEpochMilli(), now);
      if (upload && samePin(c.ref(), key.id(), now)) continue; // pinned at the head already
      pin(c.ref(), upload ? key.id() : project, expires, now, true);
    }

    boolean uploadDone = madeResource || (headers != null
        && "final".equalsIgnoreCase(trim(headers.apply("X-Goog-Upload-Status"))));
    for (int i = 0, n = resources.size(); i < n; i++) {
      ResourceRef r = resources.get(i);
      if (r.equals(deletes)) continue;
      if (r.kind() == ResourceKind.UPLOAD && uploadDone) {
        forget(r);
        continue;
      }
      // A resource without a pin is pinned only by discovery (discovered()), never here:
      // a request naming it proves nothing about who holds it (review H1).
      used(r, r.kind() == ResourceKind.UPLOAD ? key.id() : project, now);
    }
  }

  /**
   * Pins the upload a success's head names ({@code X-Goog-Upload-URL}) to the key, as soon as the
   * head arrives: the caller may close the body unread (review M2).
   */
  @Override
  public void answered(GeminiRequest request, ApiKey key, int status,
      Function<String, String> headers) {
    ResourceKind creates = request.creates();
    if (status < 200 || status > 299 || headers == null
        || (creates != ResourceKind.UPLOAD && creates != ResourceKind.FILE)) {
      return;
    }
    List<Created> created = CreatedResources.read(creates, headers, null, null);
    long now = clock.millis();
    for (int i = 0; i < created.size(); i++) {
      ResourceRef ref = created.get(i).ref();
      pin(ref, key.id(), now + ref.kind().lifetime().toMillis(), now, true);
    }
  }

  /**
   * Pins a resource discovery found to the key's project (its upload to the key), for at most
   * {@link #DISCOVERED_PIN_LIFETIME} (or its kind's lifetime when shorter), renewed on use. A live
   * pin already there stays.
   */
  @Override
  public void discovered(GeminiRequest request, ResourceRef resource, ApiKey key) {
    long now = clock.millis();
    String owner = resource.kind() == ResourceKind.UPLOAD ? key.id() : key.project();
    long expires = now + discoveredLifetime(resource.kind());
    synchronized (lock) {
      notFound.remove(resource);
      if (livePin(resource, now) != null) return;
      Pin pin = new Pin(resource, owner, expires);
      pin.discovered = true;
      pins.put(resource, pin);
    }
    write(resource, owner, expires, now);
  }

  /** Drops a pin its own project just disowned (404, or a 403 not about the key): review M3. */
  @Override
  public void misplaced(GeminiRequest request, ResourceRef resource, ApiKey key) {
    synchronized (lock) {
      Pin pin = pins.get(resource);
      if (pin == null || !pin.owner.equals(key.project())) return;
      pins.remove(resource);
    }
    remove(resource);
  }

  private static long discoveredLifetime(ResourceKind kind) {
    return Math.min(kind.lifetime().toMillis(), DISCOVERED_PIN_LIFETIME.toMillis());
  }

  @Override
  public void notFound(GeminiRequest request, ResourceRef resource) {
    Objects.requireNonNull(resource, "resource");
    long now = clock.millis();
    synchronized (lock) {
      pins.remove(resource);
      notFound.remove(resource); // re-inserted last: the table is oldest first
      notFound.put(resource, now + notFoundForMillis);
    }
  }

  /**
   * A resource the served request named: clears it from the not-found table and renews a
   * long-lived resource's pin. Whether it had a live pin (of any owner).
   */
  private boolean used(ResourceRef r, String owner, long now) {
    long renewTo = 0;
    synchronized (lock) {
      notFound.remove(r);
      Pin pin = livePin(r, now);
      if (pin == null) return false;
      if (pin.discovered && pin.owner.equals(owner)) {
        pin.expires = Math.max(pin.expires, now + discoveredLifetime(r.kind()));
        if (pin.expires - pin.storedExpires >= renewEveryMillis) {
          pin.storedExpires = pin.expires;
          renewTo = pin.expires;
        }
      } else if (renews(r.kind()) && pin.owner.equals(owner)) {
        pin.expires = Math.max(pin.expires, now + r.kind().lifetime().toMillis());
        if (pin.expires - pin.storedExpires >= renewEveryMillis) {
          pin.storedExpires = pin.expires;
          renewTo = pin.expires;
        }
      }
    }
    if (renewTo != 0) write(r, owner, renewTo, now);
    return true;
  }

  private boolean samePin(ResourceRef ref, String owner, long now) {
    synchronized (lock) {
      Pin pin = livePin(ref, now);
      return pin != null && pin.owner.equals(owner);
    }
  }

  /**
   * Kinds whose pin a use renews: kept until deleted, so their pins would otherwise run out while
   * the resource lives (file search stores "stored indefinitely until you choose to delete it",
   * https://ai.google.dev/gemini-api/docs/file-search; tuned models until deleted,
   * https://ai.google.dev/api/tuning). Files, caches, batches and interactions expire on their
   * own schedule, which a use does not move.
   */
  private static boolean renews(ResourceKind kind) {
    return kind == ResourceKind.FILE_SEARCH_STORE || kind == ResourceKind.TUNED_MODEL;
  }

  /**
   * Pins {@code ref} to {@code owner} until {@code expires}, here and in the store. With {@code
   * replace} false a live pin already there stays as it is (a discovery never overrides).
   */
  private void pin(ResourceRef ref, String owner, long expires, long now, boolean replace) {
    synchronized (lock) {
      notFound.remove(ref);
      if (!replace && livePin(ref, now) != null) return;
      pins.put(ref, new Pin(ref, owner, expires));
    }
    write(ref, owner, expires, now);
  }

  /**
   * A deleted resource: its pin is removed from the store, and kept here only for
   * {@code notFoundFor} (its owner's answer to a late request is Gemini's own 404), so that this
   * instance does not read the store's pin back before the removal is written.
   */
  private void deleted(ResourceRef ref, String project, long now) {
    synchronized (lock) {
      Pin pin = livePin(ref, now);
      String owner = pin != null ? pin.owner : project;
      long until = Math.min(pin != null ? pin.expires : Long.MAX_VALUE, now + notFoundForMillis);
      pins.put(ref, new Pin(ref, owner, until));
    }
    remove(ref);
  }

  private void forget(ResourceRef ref) {
    synchronized (lock) {
      pins.remove(ref);
    }
    remove(ref);
  }

  private void remove(ResourceRef ref) {
    if (!shared) return;
    String name = storeName(ref);
    behind(() -> values.remove(name));
  }

  private static long clamp(long expires, long now) {
    return Math.min(Math.max(expires, now + MIN_PIN_LIFETIME.toMillis()),
        now + MAX_PIN_LIFETIME.toMillis());
  }

  private static String trim(String s) {
    return s == null ? null : s.trim();
  }

  // ---------------------------------------------------------------- local tables (under lock)

  private Pin livePin(ResourceRef ref, long now) {
    Pin pin = pins.get(ref);
    if (pin == null) return null;
    if (pin.expires <= now) {
      pins.remove(ref);
      return null;
    }
    return pin;
  }

  /** Until when {@code ref} is known not found, or 0. */
  private long liveNotFound(ResourceRef ref, long now) {
    if (notFound.isEmpty()) return 0;
    Long until = notFound.get(ref);
    if (until == null) return 0;
    if (until <= now) {
      notFound.remove(ref);
      return 0;
    }
    return until;
  }

  // ---------------------------------------------------------------- the store

  private void write(ResourceRef ref, String owner, long expires, long now) {
    if (!shared) return;
    String name = storeName(ref);
    String value = Long.toString(expires) + ':' + owner;
    Duration ttl = Duration.ofMillis(Math.max(1, expires - now));
    behind(() -> values.put(name, value, ttl));
  }

  private void behind(Runnable write) {
    try {
      writeBehind.execute(() -> {
        try {
          write.run();
        } catch (RuntimeException e) {
          warn("could not write a resource pin to the store {}: {}", e.getClass().getSimpleName());
        }
      });
    } catch (RejectedExecutionException e) {
      warn("could not write a resource pin to the store {}: {}", "its executor refused it");
    }
  }

  /** The store's pin for {@code ref}, checked and kept locally, or null. One blocking read. */
  private Pin fromStore(ResourceRef ref, long now) {
    String raw;
    try {
      raw = values.get(storeName(ref));
    } catch (RuntimeException e) {
      warn("could not read a resource pin from the store {}: {}", e.getClass().getSimpleName());
      return null;
    }
    if (raw == null) return null;
    long expires = storedExpiry(raw, now);
    String owner = expires == 0 ? null : storedOwner(ref.kind(), raw);
    if (owner == null) {
      warn("ignored a malformed resource pin in the store {} ({})", storeName(ref));
      return null;
    }
    synchronized (lock) {
      Pin live = livePin(ref, now);
      if (live != null) return live;
      Pin pin = new Pin(ref, owner, expires);
      pins.put(ref, pin);
      return pin;
    }
  }

  /** The expiry of a stored value ({@code {millis}:{owner}}), clamped, or 0 when unusable. */
  private static long storedExpiry(String raw, long now) {
    int colon = raw.indexOf(':');
    if (colon < 1 || colon > 15) return 0;
    long expires = 0;
    for (int i = 0; i < colon; i++) {
      char c = raw.charAt(i);
      if (c < '0' || c > '9') return 0;
      expires = expires * 10 + (c - '0');
    }
    if (expires <= now) return 0;
    return Math.min(expires, now + MAX_PIN_LIFETIME.toMillis());
  }

  private static String storedOwner(ResourceKind kind, String raw) {
    String owner = raw.substring(raw.indexOf(':') + 1);
    if (owner.isEmpty() || owner.length() > MAX_OWNER_CHARS || !owner.strip().equals(owner)) {
      return null;
    }
    if (kind == ResourceKind.UPLOAD) return KEY_ID.matcher(owner).matches() ? owner : null;
    for (int i = 0; i < owner.length(); i++) {
      if (Character.isISOControl(owner.charAt(i))) return null;
    }
    return owner;
  }

  /** A warning about the store, at most one a minute. */
  private void warn(String format, String detail) {
    long now = clock.millis();
    long next = nextStoreWarning.get();
    if (now < next || !nextStoreWarning.compareAndSet(next, now + LOG_EVERY_MILLIS)) return;
    log.warn(format, store.describe(), detail);
  }

  // ---------------------------------------------------------------- views

  /** How many pins are held locally (expired ones not yet met included). */
  public int pinCount() {
    synchronized (lock) {
      return pins.size();
    }
  }

  /** How many resources are remembered as not found. */
  public int notFoundCount() {
    synchronized (lock) {
      return notFound.size();
    }
  }

  @Override
  public String toString() {
    return "ResourceAffinity{pins=" + pinCount() + ", notFound=" + notFoundCount() + ", store="
        + (store == null ? "none" : store.describe()) + (shared ? " (shared)" : "") + '}';
  }

  /**
   * Builds a {@link ResourceAffinity} from the {@code DEFAULT_*} values. Not thread-safe; the
   * built object is.
   */
  public static final class Builder {
    private Clock clock = Clock.systemUTC();
    private KeyStateStore store;
    private Executor writeBehind;
    private int maxPins = DEFAULT_MAX_PINS;
    private int maxNotFound = DEFAULT_MAX_NOT_FOUND;
    private Duration notFoundFor = DEFAULT_NOT_FOUND_FOR;
    private Duration renewEvery = DEFAULT_RENEW_EVERY;

    private Builder() {
    }

    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Keeps pins in {@code store} too, when it is shared, so that every instance on it routes
     * alike; its writes (which may block) run on {@code writeBehind}, ideally one thread.
     */
    public Builder store(KeyStateStore store, Executor writeBehind) {
      this.store = Objects.requireNonNull(store, "store");
      this.writeBehind = Objects.requireNonNull(writeBehind, "writeBehind");
      return this;
    }

    /**
     * Keeps pins in {@code store} too, when it is shared, with writes on a write-behind thread
     * of this affinity's own that needs no shutting down: one daemon thread named {@value
     * #WRITE_BEHIND_THREAD}, started by the first write and ended after {@link
     * #WRITE_BEHIND_IDLE} without one, so it neither keeps a JVM alive nor outlives its work; at
     * most {@link #WRITE_BEHIND_QUEUE} writes wait (a store slower than that loses the newest
     * ones, with a warning, and the local pins keep working). A write still waiting when the JVM
     * exits is lost: another instance then finds that resource by discovery. With a store that
     * is not shared (the memory store) no thread is ever started.
     */
    public Builder store(KeyStateStore store) {
      return store(store, writeBehind());
    }

    /** The most pins held locally, 1 to 10,000,000. */
    public Builder maxPins(int maxPins) {
      this.maxPins = Checks.between("maxPins", maxPins, 1, 10_000_000);
      return this;
    }

    /** The most resources remembered as not found, 1 to 1,000,000. */
    public Builder maxNotFound(int maxNotFound) {
      this.maxNotFound = Checks.between("maxNotFound", maxNotFound, 1, 1_000_000);
      return this;
    }

    /**
     * How long a resource every project said it does not hold is answered without asking, up to
     * an hour (a resource created meanwhile stays unreachable that long).
     */
    public Builder notFoundFor(Duration notFoundFor) {
      Checks.positive("notFoundFor", notFoundFor);
      if (notFoundFor.compareTo(Duration.ofHours(1)) > 0) {
        throw new IllegalArgumentException("notFoundFor must be <= 1h but was "
            + Durations.format(notFoundFor));
      }
      this.notFoundFor = notFoundFor;
      return this;
    }

    /** How often at most a long-lived resource's renewed pin is written to the store. */
    public Builder renewEvery(Duration renewEvery) {
      this.renewEvery = Checks.positive("renewEvery", renewEvery);
      return this;
    }

    public ResourceAffinity build() {
      return new ResourceAffinity(this);
    }
  }
}
