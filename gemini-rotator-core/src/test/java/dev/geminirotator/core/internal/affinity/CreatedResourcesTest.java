package dev.geminirotator.core.internal.affinity;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.core.internal.affinity.CreatedResources.Created;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequests;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.function.Function;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Every creating answer shape of docs/gemini-resources.md §0 (and the SDK sources it cites), and
 * what each pins.
 */
class CreatedResourcesTest {

  private static final Function<String, String> NO_HEADERS = name -> null;

  private static Function<String, String> headers(String... pairs) {
    Map<String, String> map = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    for (int i = 0; i < pairs.length; i += 2) map.put(pairs[i], pairs[i + 1]);
    return map::get;
  }

  private static byte[] json(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static ResourceRef ref(ResourceKind kind, String name) {
    return new ResourceRef(kind, name);
  }

  static Stream<Arguments> answers() {
    return Stream.of(
        Arguments.of("file: finalize of a resumable upload (§1 step 3)", ResourceKind.FILE,
            """
            {"file": {"name": "files/abc123xyz", "displayName": "a.png", "mimeType": "image/png",
              "sizeBytes": "1234", "createTime": "2026-12-07T10:00:00.000Z",
              "updateTime": "2026-12-07T10:00:00.000Z",
              "expirationTime": "2026-12-09T10:00:00.000Z", "sha256Hash": "ZmFrZQ==",
              "uri": "https://generativelanguage.googleapis.com/v1beta/files/abc123xyz",
              "state": "ACTIVE", "source": "UPLOADED"}}
            """,
            List.of(new Created(ref(ResourceKind.FILE, "files/abc123xyz"),
                Instant.parse("2026-12-09T10:00:00Z")))),
        Arguments.of("file: without expirationTime (only set if scheduled to expire)",
            ResourceKind.FILE, "{\"file\": {\"name\": \"files/n0-expiry\", \"state\": \"ACTIVE\"}}",
            List.of(new Created(ref(ResourceKind.FILE, "files/n0-expiry"), null))),
        Arguments.of("file search store upload finalize: its operation is the store's (§1)",
            ResourceKind.FILE,
            "{\"name\": \"fileSearchStores/docs-5en07ei3kojo/upload/operations/op-1\","
                + " \"done\": false}",
            List.of(new Created(ref(ResourceKind.FILE_SEARCH_STORE,
                "fileSearchStores/docs-5en07ei3kojo"), null))),
        Arguments.of("cached content create (§3): name and expireTime, nanos",
            ResourceKind.CACHED_CONTENT,
            """
            {"name": "cachedContents/o239k1gxzz0juy9wqstndhncr85krehehf551hqh",
             "model": "models/gemini-2.5-flash", "displayName": "doc",
             "createTime": "2026-12-07T10:00:00.123456Z", "updateTime": "2026-12-07T10:00:00Z",
             "expireTime": "2026-12-07T10:05:00.123456789Z",
             "usageMetadata": {"totalTokenCount": 12345}}
            """,
            List.of(new Created(ref(ResourceKind.CACHED_CONTENT,
                "cachedContents/o239k1gxzz0juy9wqstndhncr85krehehf551hqh"),
                Instant.parse("2026-12-07T10:05:00.123456789Z")))),
        Arguments.of("cached content: expireTime with an offset", ResourceKind.CACHED_CONTENT,
            "{\"expireTime\": \"2026-12-07T11:05:00+01:00\", \"name\": \"cachedContents/c1\"}",
            List.of(new Created(ref(ResourceKind.CACHED_CONTENT, "cachedContents/c1"),
                Instant.parse("2026-12-07T10:05:00Z")))),
        Arguments.of("batchGenerateContent (§4): an Operation named batches/{id}",
            ResourceKind.BATCH,
            """
            {"name": "batches/123456", "metadata": {
            "@type": "type.googleapis.com/google.ai.generativelanguage.v1main.GenerateContentBatch",
               "model": "models/gemini-2.5-flash", "displayName": "job-1",
               "state": "BATCH_STATE_PENDING", "createTime": "2026-12-07T10:00:00Z"},
             "done": false}
            """,
            List.of(new Created(ref(ResourceKind.BATCH, "batches/123456"), null))),
        Arguments.of("batch with its responses file: the file is the batch's project's (§4)",
            ResourceKind.BATCH,
            "{\"name\": \"batches/b-9\", \"metadata\": {\"state\": \"BATCH_STATE_SUCCEEDED\","
                + " \"output\": {\"responsesFile\": \"files/batch-abc\"}}, \"done\": true}",
            List.of(new Created(ref(ResourceKind.BATCH, "batches/b-9"), null),
                new Created(ref(ResourceKind.FILE, "files/batch-abc"), null))),
        Arguments.of("asyncBatchEmbedContent (§4)", ResourceKind.BATCH,
            "{\"metadata\": {\"@type\": \"x.EmbedContentBatch\"}, \"name\": \"batches/emb-1\"}",
            List.of(new Created(ref(ResourceKind.BATCH, "batches/emb-1"), null))),
        Arguments.of("fileSearchStores create (§5)", ResourceKind.FILE_SEARCH_STORE,
            "{\"name\": \"fileSearchStores/5en07ei3kojo-yo8sjqgvx2xf\", \"displayName\": \"s\","
                + " \"createTime\": \"2026-12-07T10:00:00Z\"}",
            List.of(new Created(ref(ResourceKind.FILE_SEARCH_STORE,
                "fileSearchStores/5en07ei3kojo-yo8sjqgvx2xf"), null))),
        Arguments.of("importFile operation: the store's (§5)", ResourceKind.OPERATION,
            "{\"name\": \"fileSearchStores/s1/operations/imp-1\"}",
            List.of(new Created(ref(ResourceKind.FILE_SEARCH_STORE, "fileSearchStores/s1"),
                null))),
        Arguments.of("predictLongRunning: a public model's operation is pinned whole (§6)",
            ResourceKind.OPERATION,
            "{\"name\": \"models/veo-3.1-generate-preview/operations/vz341u0pmdlc\"}",
            List.of(new Created(ref(ResourceKind.OPERATION,
                "models/veo-3.1-generate-preview/operations/vz341u0pmdlc"), null))),
        Arguments.of("interaction (§7): a bare id", ResourceKind.INTERACTION,
            "{\"id\": \"v1_ChdrY2Q1aWRfMTIz\", \"status\": \"completed\","
                + " \"model\": \"gemini-3-flash-preview\", \"previous_interaction_id\": \"old\"}",
            List.of(new Created(ref(ResourceKind.INTERACTION, "interactions/v1_ChdrY2Q1aWRfMTIz"),
                null))),
        Arguments.of("tunedModels create (§8): the operation names the tuned model",
            ResourceKind.TUNED_MODEL,
            "{\"name\": \"tunedModels/az2mb0bpw6i/operations/000-111-222\","
                + " \"metadata\": {\"tunedModel\": \"tunedModels/az2mb0bpw6i\"}}",
            List.of(new Created(ref(ResourceKind.TUNED_MODEL, "tunedModels/az2mb0bpw6i"),
                null))));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("answers")
  void aCreatingAnswerNamesWhatItCreated(String shape, ResourceKind kind, String body,
      List<Created> expected) {
    assertThat(CreatedResources.read(kind, NO_HEADERS, json(body), null))
        .containsExactlyElementsOf(expected);
  }

  @Test
  void anUploadStartIsNamedByTheUploadIdOfTheUrlHeaderInAnyCase() {
    var headers = headers("x-goog-upload-url",
        "https://generativelanguage.googleapis.com/upload/v1beta/files?upload_id=AHxI1nO-x_9"
            + "%2Bz&upload_protocol=resumable", "X-Goog-Upload-Status", "active");

    assertThat(CreatedResources.read(ResourceKind.UPLOAD, headers, new byte[0], null))
        .containsExactly(new Created(ref(ResourceKind.UPLOAD, "AHxI1nO-x_9+z"), null));
  }

  @Test
  void anUploadUrlThatCarriesTheKeyStillYieldsOnlyTheUploadId() {
    var headers = headers("X-Goog-Upload-URL", "https://g.example/upload/v1beta/files"
        + "?key=AIzaSyA-secret&upload_id=u-1&upload_protocol=resumable");

    assertThat(CreatedResources.read(ResourceKind.UPLOAD, headers, null, null))
        .containsExactly(new Created(ref(ResourceKind.UPLOAD, "u-1"), null));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "not a url", "https://g/upload?upload_id=", "https://g/upload",
      "https://g/upload?upload_id=%zz", "https://g/upload?upload_id=a%20b",
      "https://g/upload?x=1&upload_id=%0Aevil"})
  void anUploadUrlWithoutAUsableIdPinsNothing(String url) {
    assertThat(CreatedResources.read(ResourceKind.UPLOAD, headers("X-Goog-Upload-URL", url),
        null, null)).isEmpty();
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "null", "[]", "\"files/a\"", "{", "{\"name\": 5}",
      "{\"name\": \"models/gemini-2.5-flash\"}", "{\"name\": \"files/../x\"}",
      "{\"name\": \"files/a/b\"}", "{\"name\": \"files/\"}", "{\"name\": \"unknown/x\"}",
      "{\"name\": \"files/a b\"}", "{\"name\": \"files/a\\nb\"}",
      "{\"name\": {\"name\": \"files/a\"}}", "{\"file\": \"files/a\"}",
      "{\"name\": \"models/m/operations/\"}"})
  void anAnswerThatNamesNoProjectResourcePinsNothing(String body) {
    assertThat(CreatedResources.read(ResourceKind.FILE, NO_HEADERS, json(body), null)).isEmpty();
  }

  @Test
  void anAnswersNameAndALaterRequestsNameForOneResourceAgree() {
    // Review L5: one rule for both sides, so what an answer pins is what a request names.
    for (String raw : new String[] {"AHxI1nO-x_9%2Bz", "AHxI+raw=", "u~.-_1"}) {
      var created = CreatedResources.read(ResourceKind.UPLOAD, headers("X-Goog-Upload-URL",
          "https://g.example/upload/v1beta/files?upload_id=" + raw + "&upload_protocol=resumable"),
          null, null);
      GeminiRequest next = GeminiRequests.parse("POST", "/upload/v1beta/files",
          "upload_id=" + raw + "&upload_protocol=resumable", null);
      assertThat(created).as(raw).singleElement()
          .satisfies(c -> assertThat(next.resources()).containsExactly(c.ref()));
    }
    for (String name : new String[] {"cachedContents/" + "a".repeat(128),
        "cachedContents/" + "a".repeat(129), "files/.hidden", "files/ok.1"}) {
      var created = CreatedResources.read(ResourceKind.CACHED_CONTENT, NO_HEADERS,
          json("{\"name\": \"" + name + "\"}"), null);
      GeminiRequest get = GeminiRequests.parse("GET", "/v1beta/" + name, null, null);
      assertThat(created.stream().map(Created::ref).toList()).as(name)
          .isEqualTo(get.resources());
    }
  }

  @Test
  void anOverlongIdIsRefused() {
    String id = "a".repeat(CreatedResources.MAX_ID_CHARS + 1);
    assertThat(CreatedResources.read(ResourceKind.CACHED_CONTENT, NO_HEADERS,
        json("{\"name\": \"cachedContents/" + id + "\"}"), null)).isEmpty();
    String ok = "a".repeat(CreatedResources.MAX_ID_CHARS);
    assertThat(CreatedResources.read(ResourceKind.CACHED_CONTENT, NO_HEADERS,
        json("{\"name\": \"cachedContents/" + ok + "\"}"), null)).hasSize(1);
  }

  @Test
  void anAnswerCutShortAtTheReadLimitYieldsWhatCameBeforeTheCut() {
    String start = "{\"name\": \"batches/long-1\", \"metadata\": {\"inlined\": \"";
    byte[] body = Arrays.copyOf(json(start), Affinity.MAX_ANSWER_BYTES);
    Arrays.fill(body, start.length(), body.length, (byte) 'x');

    assertThat(CreatedResources.read(ResourceKind.BATCH, NO_HEADERS, body, null))
        .containsExactly(new Created(ref(ResourceKind.BATCH, "batches/long-1"), null));
  }

  @Test
  void nestingBeyondTheLimitStopsTheReadWithoutAnError() {
    String deep = "[".repeat(10_000);
    byte[] body = json("{\"name\": \"files/f1\", \"x\": " + deep);

    assertThat(CreatedResources.read(ResourceKind.FILE, NO_HEADERS, body, null))
        .containsExactly(new Created(ref(ResourceKind.FILE, "files/f1"), null));
  }

  @Test
  void aCachePatchAnsweredWithoutItsNameMovesTheRequestsCache() {
    ResourceRef cache = ref(ResourceKind.CACHED_CONTENT, "cachedContents/c1");

    assertThat(CreatedResources.read(ResourceKind.CACHED_CONTENT, NO_HEADERS,
        json("{\"expireTime\": \"2026-12-07T12:00:00Z\"}"), cache))
        .containsExactly(new Created(cache, Instant.parse("2026-12-07T12:00:00Z")));
    assertThat(CreatedResources.read(ResourceKind.CACHED_CONTENT, NO_HEADERS,
        json("{\"displayName\": \"d\"}"), cache)).as("no expiry: nothing to move").isEmpty();
  }

  @Test
  void anUnreadableExpiryLeavesTheKindsLifetime() {
    assertThat(CreatedResources.read(ResourceKind.CACHED_CONTENT, NO_HEADERS,
        json("{\"name\": \"cachedContents/c\", \"expireTime\": \"tomorrow\"}"), null))
        .containsExactly(new Created(ref(ResourceKind.CACHED_CONTENT, "cachedContents/c"),
            null));
  }
}
