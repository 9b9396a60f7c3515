package dev.geminirotator.core.internal.affinity;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequest.Route;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.FakeClock;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/** ResourceAffinity: what it learns from answers, where it places requests, and its bounds. */
class ResourceAffinityTest {

  private static final ApiKey K1 = key("k1", "p1");
  private static final ApiKey K2 = key("k2", "p1");
  private static final ApiKey K3 = key("k3", "p2");

  private static final ResourceRef FILE = ref(ResourceKind.FILE, "files/abc");
  private static final ResourceRef CACHE = ref(ResourceKind.CACHED_CONTENT, "cachedContents/c1");
  private static final ResourceRef STORE = ref(ResourceKind.FILE_SEARCH_STORE,
      "fileSearchStores/s1");
  private static final ResourceRef UPLOAD = ref(ResourceKind.UPLOAD, "AHxI-up1");

  private final FakeClock clock = FakeClock.standard();
  private final SharedMemoryStore store = new SharedMemoryStore(clock);
  private final SharedMemoryStore.Queue writeBehind = new SharedMemoryStore.Queue();

  private static ApiKey key(String id, String project) {
    return ApiKey.builder("AIzaSy-secret-of-" + id).id(id).project(project).build();
  }

  private static ResourceRef ref(ResourceKind kind, String name) {
    return new ResourceRef(kind, name);
  }

  private ResourceAffinity affinity() {
    return ResourceAffinity.builder().clock(clock).store(store, writeBehind).build();
  }

  private static GeminiRequest request(String method, Route route, List<ResourceRef> resources,
      ResourceKind creates, ResourceRef deletes) {
    return new GeminiRequest(method, "v1beta", route, null, RequestContext.ANY_MODEL, resources,
        creates, deletes);
  }

  private static GeminiRequest naming(ResourceRef... resources) {
    return request("GET", Route.RESOURCE, List.of(resources), null, null);
  }

  private static GeminiRequest creating(ResourceKind kind, ResourceRef... named) {
    return request("POST", Route.RESOURCE, List.of(named), kind, null);
  }

  private static GeminiRequest deleting(ResourceRef resource) {
    return request("DELETE", Route.RESOURCE, List.of(resource), null, resource);
  }

  private static final GeminiRequest GENERATE = new GeminiRequest("POST", "v1beta",
      Route.MODEL_CALL, "generateContent", "gemini-2.5-flash", List.of(), null, null);

  private static byte[] json(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static Function<String, String> headers(String... pairs) {
    Map<String, String> map = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    for (int i = 0; i < pairs.length; i += 2) map.put(pairs[i], pairs[i + 1]);
    return map::get;
  }

  private static final Function<String, String> NO_HEADERS = headers();

  private static Placement pinned(String project, ResourceRef resource) {
    return new Placement.Pinned(project, resource);
  }

  // ------------------------------------------------------------------ no resource

  @Test
  void aRequestNamingNoResourceGoesAnywhereWithoutAStoreRead() {
    ResourceAffinity affinity = affinity();

    assertThat(affinity.mayBlock(GENERATE)).isFalse();
    assertThat(affinity.place(GENERATE)).isSameAs(Placement.ANY);
    assertThat(affinity.readsAnswer(GENERATE)).isFalse();
    affinity.served(GENERATE, K1, 200, NO_HEADERS, null);

    assertThat(store.reads).hasValue(0);
    assertThat(writeBehind.pending()).isZero();
    assertThat(affinity.pinCount()).isZero();
  }

  // ------------------------------------------------------------------ learning, per kind

  static Stream<Arguments> creations() {
    return Stream.of(
        Arguments.of(ResourceKind.FILE, "{\"file\": {\"name\": \"files/f1\"}}",
            ref(ResourceKind.FILE, "files/f1")),
        Arguments.of(ResourceKind.CACHED_CONTENT,
            "{\"name\": \"cachedContents/c9\", \"expireTime\": \"2026-11-26T13:00:00Z\"}",
            ref(ResourceKind.CACHED_CONTENT, "cachedContents/c9")),
        Arguments.of(ResourceKind.BATCH, "{\"name\": \"batches/b1\", \"done\": false}",
            ref(ResourceKind.BATCH, "batches/b1")),
        Arguments.of(ResourceKind.FILE_SEARCH_STORE, "{\"name\": \"fileSearchStores/s-2\"}",
            ref(ResourceKind.FILE_SEARCH_STORE, "fileSearchStores/s-2")),
        Arguments.of(ResourceKind.INTERACTION, "{\"id\": \"i-77\", \"status\": \"completed\"}",
            ref(ResourceKind.INTERACTION, "interactions/i-77")),
        Arguments.of(ResourceKind.TUNED_MODEL, "{\"name\": \"tunedModels/t1/operations/o1\"}",
            ref(ResourceKind.TUNED_MODEL, "tunedModels/t1")),
        Arguments.of(ResourceKind.OPERATION, "{\"name\": \"models/veo/operations/o5\"}",
            ref(ResourceKind.OPERATION, "models/veo/operations/o5")));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("creations")
  void aCreatedResourceIsPinnedToTheProjectOfTheKeyThatCreatedIt(ResourceKind kind,
      String answer, ResourceRef created) throws Exception {
    ResourceAffinity affinity = affinity();
    GeminiRequest create = creating(kind);
    assertThat(affinity.readsAnswer(create)).isTrue();

    affinity.served(create, K3, 200, NO_HEADERS, json(answer));

    assertThat(affinity.place(naming(created))).isEqualTo(pinned("p2", created));
    assertThat(affinity.mayBlock(naming(created))).isFalse();
    writeBehind.runAll();
    assertThat(store.kept().get(ResourceAffinity.storeName(created))).endsWith(":p2");
  }

  @Test
  void anUploadIsPinnedToTheKeyThatStartedItUntilItsFinalize() throws Exception {
    ResourceAffinity affinity = affinity();
    GeminiRequest start = request("POST", Route.UPLOAD_START, List.of(), ResourceKind.UPLOAD,
        null);
    affinity.served(start, K2, 200, headers("x-goog-upload-url",
        "https://generativelanguage.googleapis.com/upload/v1beta/files?upload_id=AHxI-up1"
            + "&upload_protocol=resumable"), new byte[0]);

    GeminiRequest chunk = request("POST", Route.UPLOAD_CONTINUE, List.of(UPLOAD), null, null);
    assertThat(affinity.place(chunk)).isEqualTo(new Placement.PinnedKey("k2", UPLOAD));
    assertThat(affinity.place(chunk).narrow(RequestContext.anyModel()).onlyKeyId())
        .isEqualTo("k2");
    affinity.served(chunk, K2, 200, headers("X-Goog-Upload-Status", "active"), null);
    assertThat(affinity.place(chunk)).as("a middle chunk keeps it")
        .isEqualTo(new Placement.PinnedKey("k2", UPLOAD));

    GeminiRequest finalize = request("POST", Route.UPLOAD_CONTINUE, List.of(UPLOAD),
        ResourceKind.FILE, null);
    affinity.served(finalize, K2, 200, headers("X-Goog-Upload-Status", "final"),
        json("{\"file\": {\"name\": \"files/abc\", \"expirationTime\":"
            + " \"2026-11-28T12:00:00Z\"}}"));

    assertThat(affinity.place(naming(FILE))).isEqualTo(pinned("p1", FILE));
    writeBehind.runAll();
    assertThat(store.kept().get("pin:upload:AHxI-up1")).as("the finished upload").isNull();
    assertThat(store.kept().get("pin:file:files/abc")).isEqualTo(
        Instant.parse("2026-11-28T12:00:00Z").toEpochMilli() + ":p1");
  }

  @Test
  void aFailedAnswerLearnsNothing() {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE_SEARCH_STORE), K1, 400, NO_HEADERS,
        json("{\"name\": \"fileSearchStores/s1\"}"));
    affinity.served(naming(CACHE), K1, 403, NO_HEADERS, null);

    assertThat(affinity.pinCount()).isZero();
    assertThat(writeBehind.pending()).isZero();
  }

  // ------------------------------------------------------------------ expiry

  @Test
  void aFileIsPinnedUntilItsExpirationTime() {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
        json("{\"file\": {\"name\": \"files/abc\", \"expirationTime\":"
            + " \"2026-11-27T12:00:00Z\"}}"));

    clock.set(Instant.parse("2026-11-27T11:59:59.999Z"));
    assertThat(affinity.place(naming(FILE))).isEqualTo(pinned("p1", FILE));
    clock.advance(Duration.ofMillis(1));
    assertThat(affinity.place(naming(FILE))).isEqualTo(new Placement.Discover(FILE));
  }

  @Test
  void aResourceWithoutAnExpiryInItsAnswerIsPinnedForItsKindsLifetime() {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
        json("{\"file\": {\"name\": \"files/abc\"}}"));

    clock.advance(Duration.ofHours(48).minusMillis(1));
    assertThat(affinity.place(naming(FILE))).isEqualTo(pinned("p1", FILE));
    clock.advance(Duration.ofMillis(1));
    assertThat(affinity.place(naming(FILE))).isEqualTo(new Placement.Discover(FILE));
  }

  @Test
  void aCacheIsPinnedUntilItsExpireTimeAndAPatchMovesIt() throws Exception {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.CACHED_CONTENT), K3, 200, NO_HEADERS,
        json("{\"name\": \"cachedContents/c1\", \"expireTime\": \"2026-11-26T12:05:00Z\"}"));
    GeminiRequest patch = request("PATCH", Route.RESOURCE, List.of(CACHE), null, null);
    assertThat(affinity.readsAnswer(patch)).isTrue();

    clock.advance(Duration.ofMinutes(4));
    affinity.served(patch, K3, 200, NO_HEADERS,
        json("{\"name\": \"cachedContents/c1\", \"expireTime\": \"2026-11-26T14:00:00Z\"}"));
    writeBehind.runAll();

    clock.set(Instant.parse("2026-11-26T13:59:59Z"));
    assertThat(affinity.place(naming(CACHE))).isEqualTo(pinned("p2", CACHE));
    assertThat(store.kept().get("pin:cached_content:cachedContents/c1"))
        .as("the store keeps it as long").isNotNull();
    clock.set(Instant.parse("2026-11-26T14:00:00Z"));
    assertThat(affinity.place(naming(CACHE))).isEqualTo(new Placement.Discover(CACHE));
    assertThat(store.kept().get("pin:cached_content:cachedContents/c1")).isNull();
  }

  @Test
  void anAnswersExpiryIsKeptWithinSaneBounds() {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.CACHED_CONTENT), K1, 200, NO_HEADERS,
        json("{\"name\": \"cachedContents/far\", \"expireTime\": \"9999-12-31T00:00:00Z\"}"));
    affinity.served(creating(ResourceKind.CACHED_CONTENT), K1, 200, NO_HEADERS,
        json("{\"name\": \"cachedContents/past\", \"expireTime\": \"2026-11-26T11:59:00Z\"}"));
    ResourceRef far = ref(ResourceKind.CACHED_CONTENT, "cachedContents/far");
    ResourceRef past = ref(ResourceKind.CACHED_CONTENT, "cachedContents/past");

    assertThat(affinity.place(naming(past))).as("Gemini's clock ahead of ours")
        .isEqualTo(pinned("p1", past));
    clock.advance(ResourceAffinity.MIN_PIN_LIFETIME);
    assertThat(affinity.place(naming(past))).isEqualTo(new Placement.Discover(past));

    clock.advance(ResourceAffinity.MAX_PIN_LIFETIME.minus(ResourceAffinity.MIN_PIN_LIFETIME)
        .minusMillis(1));
    assertThat(affinity.place(naming(far))).isEqualTo(pinned("p1", far));
    clock.advance(Duration.ofMillis(1));
    assertThat(affinity.place(naming(far))).isEqualTo(new Placement.Discover(far));
  }

  // ------------------------------------------------------------------ delete

  @Test
  void aDeleteAnsweredWithSuccessForgetsThePinHereAndInTheStore() throws Exception {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE_SEARCH_STORE), K1, 200, NO_HEADERS,
        json("{\"name\": \"fileSearchStores/s1\"}"));
    writeBehind.runAll();
    assertThat(store.kept().get("pin:file_search_store:fileSearchStores/s1")).isNotNull();

    affinity.served(deleting(STORE), K1, 412, NO_HEADERS, null);
    assertThat(affinity.place(naming(STORE))).as("a refused delete keeps it")
        .isEqualTo(pinned("p1", STORE));

    affinity.served(deleting(STORE), K1, 200, NO_HEADERS, null);
    assertThat(store.kept().get("pin:file_search_store:fileSearchStores/s1"))
        .as("written behind: not yet").isNotNull();
    assertThat(affinity.place(naming(STORE)))
        .as("late requests still get the owner's own 404, not the store's pin read back")
        .isEqualTo(pinned("p1", STORE));
    writeBehind.runAll();
    assertThat(store.kept().get("pin:file_search_store:fileSearchStores/s1")).isNull();

    clock.advance(ResourceAffinity.DEFAULT_NOT_FOUND_FOR);
    assertThat(affinity.place(naming(STORE))).isEqualTo(new Placement.Discover(STORE));
    assertThat(affinity.pinCount()).isZero();
  }

  // ------------------------------------------------------------------ renewal

  @Test
  void usingALongLivedResourceRenewsItsPinAndWritesTheStoreAtMostOncePerInterval()
      throws Exception {
    ResourceAffinity affinity = ResourceAffinity.builder().clock(clock)
        .store(store, writeBehind).renewEvery(Duration.ofHours(1)).build();
    affinity.served(creating(ResourceKind.FILE_SEARCH_STORE), K1, 200, NO_HEADERS,
        json("{\"name\": \"fileSearchStores/s1\"}"));
    writeBehind.runAll();
    assertThat(store.writes).hasValue(1);
    GeminiRequest use = request("POST", Route.MODEL_CALL, List.of(STORE), null, null);

    clock.advance(Duration.ofDays(300));
    affinity.served(use, K2, 200, NO_HEADERS, null);
    for (int i = 0; i < 50; i++) {
      clock.advance(Duration.ofMinutes(1));
      affinity.served(use, K2, 200, NO_HEADERS, null);
    }
    writeBehind.runAll();
    assertThat(store.writes).as("one renewal, then at most one an hour").hasValue(2);

    clock.advance(Duration.ofDays(300));
    assertThat(affinity.place(naming(STORE))).isEqualTo(pinned("p1", STORE));
    String stored = store.kept().get("pin:file_search_store:fileSearchStores/s1");
    assertThat(stored).as("the store's pin was renewed too").isNotNull();

    clock.advance(Duration.ofMinutes(30));
    affinity.served(use, K2, 200, NO_HEADERS, null);
    writeBehind.runAll();
    assertThat(store.writes).hasValue(3);
  }

  @Test
  void usingAFileDoesNotMoveItsExpiry() {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
        json("{\"file\": {\"name\": \"files/abc\"}}"));

    clock.advance(Duration.ofHours(47));
    affinity.served(naming(FILE), K1, 200, NO_HEADERS, null);
    clock.advance(Duration.ofHours(1));

    assertThat(affinity.place(naming(FILE))).isEqualTo(new Placement.Discover(FILE));
  }

  // ------------------------------------------------------------------ discovery

  @Test
  void anUnknownResourceIsDiscoveredAndPinnedToTheProjectThatServedIt() throws Exception {
    ResourceAffinity affinity = affinity();
    ResourceRef other = ref(ResourceKind.FILE, "files/other");
    GeminiRequest request = naming(CACHE, other);

    assertThat(affinity.place(request)).isEqualTo(new Placement.Discover(CACHE));
    affinity.discovered(request, CACHE, K3); // the loop: a success that proves it (review H1)
    affinity.served(request, K3, 200, NO_HEADERS, null);

    assertThat(affinity.place(naming(CACHE))).isEqualTo(pinned("p2", CACHE));
    assertThat(affinity.place(naming(other))).as("one discovery pin per request")
        .isEqualTo(new Placement.Discover(other));
    writeBehind.runAll();
    assertThat(store.kept().get("pin:cached_content:cachedContents/c1")).endsWith(":p2");
  }

  @Test
  void aResourceNamedNextToAPinnedOneIsNeverPinnedByTheAnswer() {
    // Review H1: a success under another resource's pin proves nothing about this one (it used
    // to pin it to the serving project for its kind's whole lifetime).
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.CACHED_CONTENT), K3, 200, NO_HEADERS,
        json("{\"name\": \"cachedContents/c1\"}"));
    GeminiRequest both = naming(CACHE, FILE);

    assertThat(affinity.place(both)).isEqualTo(pinned("p2", CACHE));
    affinity.served(both, K3, 200, NO_HEADERS, null);

    assertThat(affinity.place(naming(FILE))).isEqualTo(new Placement.Discover(FILE));
    assertThat(affinity.pinCount()).isEqualTo(1);
  }

  @Test
  void aDiscoveredPinLivesADayAtMostAndIsRenewedByUse() throws Exception {
    ResourceAffinity affinity = affinity();
    affinity.discovered(naming(STORE), STORE, K1); // a store's kind lives 365 days
    writeBehind.runAll();
    String stored = store.kept().get("pin:file_search_store:fileSearchStores/s1");
    assertThat(Long.parseLong(stored.substring(0, stored.indexOf(':'))))
        .isEqualTo(clock.millis() + Duration.ofDays(1).toMillis());

    clock.advance(Duration.ofHours(20));
    affinity.served(naming(STORE), K2, 200, NO_HEADERS, null); // used through its project
    clock.advance(Duration.ofHours(20));
    assertThat(affinity.place(naming(STORE))).isEqualTo(pinned("p1", STORE));
    clock.advance(Duration.ofHours(5));
    assertThat(affinity.place(naming(STORE))).isEqualTo(new Placement.Discover(STORE));
  }

  @Test
  void anUploadPinWinsOverTheProjectPinOfTheStoreItGoesInto() {
    // Review M1: the store is listed before the upload_id; only the starting key can continue.
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE_SEARCH_STORE), K1, 200, NO_HEADERS,
        json("{\"name\": \"fileSearchStores/s1\"}"));
    affinity.answered(request("POST", Route.UPLOAD_START, List.of(STORE), ResourceKind.UPLOAD,
        null), K2, 200, headers("x-goog-upload-url",
        "https://generativelanguage.googleapis.com/upload/v1beta/fileSearchStores/s1"
            + ":uploadToFileSearchStore?upload_id=AHxI-up1&upload_protocol=resumable"));

    GeminiRequest chunk = request("POST", Route.UPLOAD_CONTINUE, List.of(STORE, UPLOAD), null,
        null);
    assertThat(affinity.place(chunk)).isEqualTo(new Placement.PinnedKey("k2", UPLOAD));
  }

  @Test
  void anUploadIsPinnedFromTheAnswersHeadAlone() {
    // Review M2: a body closed unread never reaches served(); the head is enough.
    ResourceAffinity affinity = affinity();
    affinity.answered(request("POST", Route.UPLOAD_START, List.of(), ResourceKind.UPLOAD, null),
        K2, 200, headers("x-goog-upload-url", "https://generativelanguage.googleapis.com/upload/"
            + "v1beta/files?upload_id=AHxI-up1&upload_protocol=resumable"));
    GeminiRequest chunk = request("POST", Route.UPLOAD_CONTINUE, List.of(UPLOAD), null, null);
    assertThat(affinity.place(chunk)).isEqualTo(new Placement.PinnedKey("k2", UPLOAD));
  }

  @Test
  void aPinItsOwnProjectDisownsIsDroppedHereAndInTheStore() throws Exception {
    // Review M3: a wrong pin heals.
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.CACHED_CONTENT), K3, 200, NO_HEADERS,
        json("{\"name\": \"cachedContents/c1\"}"));
    writeBehind.runAll();
    affinity.misplaced(naming(CACHE), CACHE, K1); // another project: not its owner
    assertThat(affinity.place(naming(CACHE))).isEqualTo(pinned("p2", CACHE));

    affinity.misplaced(naming(CACHE), CACHE, K3);
    writeBehind.runAll();
    assertThat(affinity.place(naming(CACHE))).isEqualTo(new Placement.Discover(CACHE));
    assertThat(store.kept().get("pin:cached_content:cachedContents/c1")).isNull();
  }

  @Test
  void theFirstPinnedResourceDecidesWhenARequestNamesResourcesOfTwoProjects() {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
        json("{\"file\": {\"name\": \"files/abc\"}}"));
    affinity.served(creating(ResourceKind.CACHED_CONTENT), K3, 200, NO_HEADERS,
        json("{\"name\": \"cachedContents/c1\"}"));

    assertThat(affinity.place(naming(CACHE, FILE))).isEqualTo(pinned("p2", CACHE));
    assertThat(affinity.place(naming(FILE, CACHE))).isEqualTo(pinned("p1", FILE));
    ResourceRef unknown = ref(ResourceKind.BATCH, "batches/x");
    assertThat(affinity.place(naming(unknown, CACHE))).as("unknown ones are skipped")
        .isEqualTo(pinned("p2", CACHE));
  }

  // ------------------------------------------------------------------ not found

  @Test
  void aResourceNoProjectHoldsIsUnreachableForAShortWhile() {
    ResourceAffinity affinity = affinity();
    GeminiRequest request = naming(CACHE);
    affinity.notFound(request, CACHE);

    assertThat(affinity.place(request)).isEqualTo(new Placement.Unreachable(CACHE,
        Instant.parse("2026-11-26T12:00:30Z")));
    assertThat(affinity.mayBlock(request)).isFalse();
    assertThat(store.reads).hasValue(0);

    clock.advance(ResourceAffinity.DEFAULT_NOT_FOUND_FOR);
    assertThat(affinity.place(request)).isEqualTo(new Placement.Discover(CACHE));
  }

  @Test
  void aCreationOrASuccessEndsANotFoundEntry() {
    ResourceAffinity affinity = affinity();
    affinity.notFound(naming(CACHE), CACHE);
    affinity.served(naming(CACHE), K1, 200, NO_HEADERS, null);
    assertThat(affinity.notFoundCount()).isZero();
    assertThat(affinity.place(naming(CACHE))).isEqualTo(new Placement.Discover(CACHE));
    affinity.notFound(naming(CACHE), CACHE);
    affinity.discovered(naming(CACHE), CACHE, K1);
    assertThat(affinity.place(naming(CACHE))).isEqualTo(pinned("p1", CACHE));
    assertThat(affinity.notFoundCount()).isZero();
  }

  @Test
  void aPinnedResourceReportedNotFoundLosesItsPin() {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
        json("{\"file\": {\"name\": \"files/abc\"}}"));

    affinity.notFound(naming(FILE), FILE);

    assertThat(affinity.place(naming(FILE))).isInstanceOf(Placement.Unreachable.class);
  }

  @Test
  void theNotFoundTableIsBounded() {
    ResourceAffinity affinity = ResourceAffinity.builder().clock(clock).maxNotFound(100).build();
    for (int i = 0; i < 10_000; i++) {
      ResourceRef r = ref(ResourceKind.FILE, "files/n" + i);
      affinity.notFound(naming(r), r);
    }

    assertThat(affinity.notFoundCount()).isEqualTo(100);
    assertThat(affinity.place(naming(ref(ResourceKind.FILE, "files/n9999"))))
        .isInstanceOf(Placement.Unreachable.class);
    assertThat(affinity.place(naming(ref(ResourceKind.FILE, "files/n0"))))
        .isInstanceOf(Placement.Discover.class);
  }

  // ------------------------------------------------------------------ bounds

  @Test
  void thePinTableIsBoundedAndDropsTheLeastRecentlyUsed() {
    ResourceAffinity affinity = ResourceAffinity.builder().clock(clock).maxPins(3).build();
    List<ResourceRef> files = new ArrayList<>();
    for (int i = 0; i < 4; i++) files.add(ref(ResourceKind.FILE, "files/f" + i));
    for (int i = 0; i < 3; i++) {
      affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
          json("{\"file\": {\"name\": \"files/f" + i + "\"}}"));
    }
    affinity.place(naming(files.get(0))); // used: f1 is now the least recently used

    affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
        json("{\"file\": {\"name\": \"files/f3\"}}"));

    assertThat(affinity.pinCount()).isEqualTo(3);
    assertThat(affinity.place(naming(files.get(1)))).isInstanceOf(Placement.Discover.class);
    assertThat(affinity.place(naming(files.get(0)))).isInstanceOf(Placement.Pinned.class);
    assertThat(affinity.place(naming(files.get(3)))).isInstanceOf(Placement.Pinned.class);
  }

  @Test
  void expiredPinsAreDroppedAsTheTableMoves() {
    ResourceAffinity affinity = ResourceAffinity.builder().clock(clock).build();
    for (int i = 0; i < 1_000; i++) {
      affinity.served(creating(ResourceKind.CACHED_CONTENT), K1, 200, NO_HEADERS,
          json("{\"name\": \"cachedContents/old" + i + "\"}"));
    }
    clock.advance(Duration.ofHours(2)); // caches default to one hour
    for (int i = 0; i < 1_000; i++) {
      affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
          json("{\"file\": {\"name\": \"files/new" + i + "\"}}"));
    }

    assertThat(affinity.pinCount()).isEqualTo(1_000);
  }

  @Test
  void namingManyUnknownResourcesAddsNoPin() {
    ResourceAffinity affinity = affinity();
    for (int i = 0; i < 10_000; i++) {
      affinity.place(naming(ref(ResourceKind.FILE, "files/r" + i)));
    }
    assertThat(affinity.pinCount()).isZero();
    assertThat(affinity.notFoundCount()).isZero();
  }

  @Test
  void manyThreadsLearningAndPlacingAtOnceKeepTheTablesConsistentAndBounded() throws Exception {
    ResourceAffinity affinity = ResourceAffinity.builder().clock(clock).maxPins(500)
        .maxNotFound(50).build();
    List<Throwable> errors = java.util.Collections.synchronizedList(new ArrayList<>());
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int seed = t;
      threads.add(new Thread(() -> {
        try {
          for (int i = 0; i < 20_000; i++) {
            ResourceRef r = ref(ResourceKind.FILE, "files/t" + ((i * 7 + seed) % 2_000));
            switch (i % 4) {
              case 0 -> affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
                  json("{\"file\": {\"name\": \"" + r.name() + "\"}}"));
              case 1 -> affinity.notFound(naming(r), r);
              case 2 -> affinity.served(naming(r), K3, 200, NO_HEADERS, null);
              default -> assertThat(affinity.place(naming(r))).isNotNull();
            }
          }
        } catch (Throwable e) {
          errors.add(e);
        }
      }));
    }
    threads.forEach(Thread::start);
    for (Thread thread : threads) {
      thread.join(60_000);
      assertThat(thread.isAlive()).isFalse();
    }

    assertThat(errors).isEmpty();
    assertThat(affinity.pinCount()).isBetween(1, 500);
    assertThat(affinity.notFoundCount()).isBetween(0, 50);
  }

  // ------------------------------------------------------------------ the store

  @Test
  void pinsAreWrittenToTheStoreBehindTheRequestOnTheGivenExecutor() throws Exception {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE_SEARCH_STORE), K1, 200, NO_HEADERS,
        json("{\"name\": \"fileSearchStores/s1\"}"));

    assertThat(store.writes).as("nothing on the caller's thread").hasValue(0);
    assertThat(writeBehind.pending()).isEqualTo(1);
    writeBehind.runAll();
    assertThat(store.threads).containsOnly("write-behind");
    assertThat(store.kept().get("pin:file_search_store:fileSearchStores/s1"))
        .isEqualTo(clock.instant().plus(ResourceKind.FILE_SEARCH_STORE.lifetime())
            .toEpochMilli() + ":p1");
  }

  @Test
  void anotherInstanceOnTheSameStorePlacesAPinItReadsOnceFromTheStore() throws Exception {
    ResourceAffinity one = affinity();
    ResourceAffinity two = affinity();
    one.served(creating(ResourceKind.CACHED_CONTENT), K3, 200, NO_HEADERS,
        json("{\"name\": \"cachedContents/c1\", \"expireTime\": \"2026-11-26T12:10:00Z\"}"));
    writeBehind.runAll();
    GeminiRequest use = naming(ref(ResourceKind.FILE, "files/u"), CACHE);

    assertThat(two.mayBlock(naming(CACHE))).isTrue();
    assertThat(two.place(naming(CACHE))).isEqualTo(pinned("p2", CACHE));
    assertThat(store.reads).hasValue(1);
    assertThat(two.mayBlock(naming(CACHE))).as("now pinned locally").isFalse();
    assertThat(two.place(naming(CACHE))).isEqualTo(pinned("p2", CACHE));
    assertThat(store.reads).hasValue(1);

    clock.set(Instant.parse("2026-11-26T12:10:00Z"));
    assertThat(two.place(naming(CACHE))).as("with the expiry the store gave")
        .isEqualTo(new Placement.Discover(CACHE));
  }

  @Test
  void aRequestNamingManyUnknownResourcesCausesOneStoreRead() {
    ResourceAffinity affinity = affinity();
    List<ResourceRef> many = new ArrayList<>();
    for (int i = 0; i < 20; i++) many.add(ref(ResourceKind.FILE, "files/m" + i));
    GeminiRequest request = request("POST", Route.MODEL_CALL, many, null, null);

    assertThat(affinity.mayBlock(request)).isTrue();
    assertThat(affinity.place(request)).isEqualTo(new Placement.Discover(many.get(0)));
    assertThat(store.reads).hasValue(1);
  }

  @Test
  void mayBlockIsTrueExactlyWhenPlaceReadsTheStore() throws Exception {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
        json("{\"file\": {\"name\": \"files/abc\"}}"));
    affinity.notFound(naming(CACHE), CACHE);
    ResourceRef unknown = ref(ResourceKind.BATCH, "batches/u");
    List<GeminiRequest> requests = List.of(GENERATE, naming(FILE), naming(CACHE),
        naming(unknown), naming(unknown, FILE), naming(CACHE, unknown), naming(STORE));

    for (GeminiRequest request : requests) {
      int before = store.reads.get();
      boolean mayBlock = affinity.mayBlock(request);
      affinity.place(request);
      assertThat(store.reads.get() - before).as(request.resources().toString())
          .isEqualTo(mayBlock ? 1 : 0);
    }
    assertThat(store.reads).as("some did read").hasValueGreaterThan(0);
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "p1", ":p1", "abc:p1", "-5:p1", "1764158400000:",
      "1764158400000: p1", "1764158400000:p\u00001", "1764158400000:p\n1",
      "99999999999999999999:p1", "1:p1"})
  void aMalformedOrExpiredValueInTheStoreIsIgnored(String value) {
    store.kept().put("pin:cached_content:cachedContents/c1", value, Duration.ofHours(1));
    ResourceAffinity affinity = affinity();

    assertThat(affinity.place(naming(CACHE))).isEqualTo(new Placement.Discover(CACHE));
    assertThat(affinity.pinCount()).isZero();
  }

  @Test
  void anOverlongOwnerInTheStoreIsIgnored() {
    long later = clock.millis() + 60_000;
    store.kept().put("pin:file:files/abc", later + ":" + "p".repeat(257),
        Duration.ofHours(1));

    assertThat(affinity().place(naming(FILE))).isEqualTo(new Placement.Discover(FILE));
  }

  @Test
  void anUploadPinFromTheStoreMustNameAKeyId() {
    long later = clock.millis() + 60_000;
    GeminiRequest chunk = request("POST", Route.UPLOAD_CONTINUE, List.of(UPLOAD), null, null);
    store.kept().put("pin:upload:AHxI-up1", later + ":not a key id", Duration.ofHours(1));
    assertThat(affinity().place(chunk)).isEqualTo(new Placement.Discover(UPLOAD));

    store.kept().put("pin:upload:AHxI-up1", later + ":k2", Duration.ofHours(1));
    assertThat(affinity().place(chunk)).isEqualTo(new Placement.PinnedKey("k2", UPLOAD));
  }

  @Test
  void aStoreValueWithAFarExpiryIsKeptNoLongerThanTheLongestPin() {
    store.kept().put("pin:file:files/abc", "99999999999999:p1", Duration.ofHours(1));
    ResourceAffinity affinity = affinity();
    assertThat(affinity.place(naming(FILE))).isEqualTo(pinned("p1", FILE));

    clock.advance(ResourceAffinity.MAX_PIN_LIFETIME);
    assertThat(affinity.place(naming(FILE))).isInstanceOf(Placement.Discover.class);
  }

  @Test
  void aStoreThatFailsOrAnExecutorThatRefusesLeavesTheLocalPinsWorking() {
    var failing = new SharedMemoryStore(clock) {
      @Override
      public String getValue(String name) {
        throw new IllegalStateException("down");
      }
    };
    ResourceAffinity affinity = ResourceAffinity.builder().clock(clock)
        .store(failing, task -> {
          throw new RejectedExecutionException("shut down");
        }).build();

    affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
        json("{\"file\": {\"name\": \"files/abc\"}}"));

    assertThat(affinity.place(naming(FILE))).isEqualTo(pinned("p1", FILE));
    assertThat(affinity.place(naming(CACHE))).isEqualTo(new Placement.Discover(CACHE));
  }

  @Test
  void withAStoreThatIsNotSharedNothingBlocksAndNothingIsWritten() {
    MemoryKeyStateStore memory = new MemoryKeyStateStore(clock);
    List<Runnable> tasks = new ArrayList<>();
    ResourceAffinity affinity = ResourceAffinity.builder().clock(clock)
        .store(memory, tasks::add).build();

    affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
        json("{\"file\": {\"name\": \"files/abc\"}}"));

    assertThat(affinity.mayBlock(naming(CACHE))).isFalse();
    assertThat(affinity.place(naming(FILE))).isEqualTo(pinned("p1", FILE));
    assertThat(tasks).isEmpty();
    assertThat(memory.values().orElseThrow().get("pin:file:files/abc")).isNull();
  }

  @Test
  void withoutAnExecutorPinsAreWrittenOnOneDaemonThreadOfItsOwnInOrder() {
    List<Boolean> daemon = java.util.Collections.synchronizedList(new ArrayList<>());
    SharedMemoryStore recording = new SharedMemoryStore(clock) {
      @Override
      public void putValue(String name, String value, Duration ttl) {
        daemon.add(Thread.currentThread().isDaemon());
        super.putValue(name, value, ttl);
      }
    };
    ResourceAffinity affinity = ResourceAffinity.builder().clock(clock).store(recording).build();

    for (int i = 0; i < 20; i++) {
      affinity.served(creating(ResourceKind.FILE_SEARCH_STORE), K1, 200, NO_HEADERS,
          json("{\"name\": \"fileSearchStores/s" + i + "\"}"));
    }
    affinity.served(deleting(ref(ResourceKind.FILE_SEARCH_STORE, "fileSearchStores/s19")), K1,
        200, NO_HEADERS, null);

    Eventually.until("the writes and the removal reach the store",
        () -> recording.writes.get() == 20 && recording.removals.get() == 1);
    assertThat(recording.threads).containsOnly(ResourceAffinity.WRITE_BEHIND_THREAD);
    assertThat(daemon).as("never keeps the JVM alive").containsOnly(true);
    assertThat(recording.kept().get("pin:file_search_store:fileSearchStores/s0")).isNotNull();
    assertThat(recording.kept().get("pin:file_search_store:fileSearchStores/s19"))
        .as("the removal ran after the write it follows").isNull();
  }

  // ------------------------------------------------------------------ configuration

  @Test
  void badSettingsAreRefusedWithAMessageNamingThem() {
    assertThatThrownBy(() -> ResourceAffinity.builder().maxPins(0))
        .hasMessage("maxPins must be >= 1 and <= 10000000 but was 0");
    assertThatThrownBy(() -> ResourceAffinity.builder().maxNotFound(-1))
        .hasMessage("maxNotFound must be >= 1 and <= 1000000 but was -1");
    assertThatThrownBy(() -> ResourceAffinity.builder().notFoundFor(Duration.ZERO))
        .hasMessageStartingWith("notFoundFor must be > 0 but was");
    assertThatThrownBy(() -> ResourceAffinity.builder().notFoundFor(Duration.ofHours(2)))
        .hasMessage("notFoundFor must be <= 1h but was 2h");
    assertThatThrownBy(() -> ResourceAffinity.builder().renewEvery(Duration.ofSeconds(-1)))
        .hasMessageStartingWith("renewEvery must be > 0 but was");
  }

  @Test
  void toStringShowsCountsAndTheStoreButNoKeySecret() {
    ResourceAffinity affinity = affinity();
    affinity.served(creating(ResourceKind.FILE), K1, 200, NO_HEADERS,
        json("{\"file\": {\"name\": \"files/abc\"}}"));

    assertThat(affinity.toString()).isEqualTo(
        "ResourceAffinity{pins=1, notFound=0, store=shared-memory: (shared)}");
    assertThat(affinity.toString()).doesNotContain(K1.secret());
  }
}
