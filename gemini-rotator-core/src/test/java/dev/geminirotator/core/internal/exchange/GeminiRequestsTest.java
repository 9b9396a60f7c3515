package dev.geminirotator.core.internal.exchange;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;

import dev.geminirotator.core.internal.exchange.GeminiRequest.Route;
import dev.geminirotator.testsupport.Allocations;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The request model over the request shapes real clients send: the Java SDK 2.0.0 (paths from its
 * {@code Models}, {@code Files}, {@code Caches}, {@code Batches}, {@code FileSearchStores}
 * constants), python-genai, the OpenAI-compatible surface, and the bodies of
 * {@code docs/gemini-resources.md}.
 */
class GeminiRequestsTest {

  private static final String URI = "https://generativelanguage.googleapis.com/v1beta/files/";

  /** One row: a request and what it must parse to. Resources as {@code KIND:name}. */
  record Row(String label, String method, String path, String query, String body, Route route,
      String version, String action, String model, List<String> resources, ResourceKind creates,
      String deletes) {

    @Override
    public String toString() {
      return label;
    }
  }

  private static Row row(String label, String method, String path, String query, String body,
      Route route, String version, String action, String model, ResourceKind creates,
      String deletes, String... resources) {
    return new Row(label, method, path, query, body, route, version, action, model,
        List.of(resources), creates, deletes);
  }

  static Stream<Row> requests() {
    String gen = "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"text\":\"hi\"}]}]}";
    return Stream.of(
        // ---- model calls (Java SDK 2.0.0 uses v1 by default; python v1beta) ----
        row("java sdk generateContent", "POST", "/v1/models/gemini-2.5-flash:generateContent",
            null, gen, Route.MODEL_CALL, "v1", "generateContent", "gemini-2.5-flash", null, null),
        row("python stream sse", "POST",
            "/v1beta/models/gemini-2.5-flash:streamGenerateContent", "alt=sse", gen,
            Route.MODEL_CALL, "v1beta", "streamGenerateContent", "gemini-2.5-flash", null, null),
        row("countTokens", "POST", "/v1beta/models/gemini-2.5-pro:countTokens", null, gen,
            Route.MODEL_CALL, "v1beta", "countTokens", "gemini-2.5-pro", null, null),
        row("embedContent", "POST", "/v1beta/models/text-embedding-004:embedContent", null,
            "{\"content\":{\"parts\":[{\"text\":\"x\"}]}}", Route.MODEL_CALL, "v1beta",
            "embedContent", "text-embedding-004", null, null),
        row("v1alpha", "POST", "/v1alpha/models/gemini-2.0-flash-exp:generateContent", null,
            null, Route.MODEL_CALL, "v1alpha", "generateContent", "gemini-2.0-flash-exp", null,
            null),
        row("escaped colon", "POST", "/v1beta/models/gemini-2.5-flash%3AgenerateContent", null,
            null, Route.MODEL_CALL, "v1beta", "generateContent", "gemini-2.5-flash", null, null),
        row("a prefix before the version", "POST",
            "/gemini/v1beta/models/gemini-2.5-flash:generateContent", null, null,
            Route.MODEL_CALL, "v1beta", "generateContent", "gemini-2.5-flash", null, null),
        row("vertex-style prefix", "POST",
            "/v1/projects/p/locations/us/publishers/google/models/gemini-2.5-flash:generateContent",
            null, null, Route.MODEL_CALL, "v1", "generateContent", "gemini-2.5-flash", null,
            null),
        row("models/ prefix twice spelled in case", "POST",
            "/v1beta/models/Gemini-2.5-FLASH:generateContent", null, null, Route.MODEL_CALL,
            "v1beta", "generateContent", "gemini-2.5-flash", null, null),
        row("the model list", "GET", "/v1beta/models", "pageSize=50", null, Route.MODELS,
            "v1beta", null, "*", null, null),
        row("one model's metadata is scoped to it", "GET", "/v1beta/models/gemini-2.5-pro",
            null, null, Route.MODELS, "v1beta", null, "gemini-2.5-pro", null, null),
        row("an empty model name", "POST", "/v1beta/models/:generateContent", null, null,
            Route.MODEL_CALL, "v1beta", "generateContent", "*", null, null),
        // ---- generate naming resources in the body ----
        row("java sdk fileData.fileUri", "POST", "/v1/models/gemini-2.5-flash:generateContent",
            null, "{\"contents\":[{\"role\":\"user\",\"parts\":[{\"fileData\":{\"mimeType\":"
                + "\"image/png\",\"fileUri\":\"" + URI + "abc123xyz\"}},"
                + "{\"text\":\"Describe\"}]}]}",
            Route.MODEL_CALL, "v1", "generateContent", "gemini-2.5-flash", null, null,
            "FILE:files/abc123xyz"),
        row("snake_case file_data.file_uri, bare name", "POST",
            "/v1beta/models/gemini-2.5-flash:generateContent", null,
            "{\"contents\":[{\"parts\":[{\"file_data\":{\"mime_type\":\"text/plain\","
                + "\"file_uri\":\"files/f-1\"}}]}]}",
            Route.MODEL_CALL, "v1beta", "generateContent", "gemini-2.5-flash", null, null,
            "FILE:files/f-1"),
        row("generated video uri with :download", "POST",
            "/v1beta/models/gemini-2.5-flash:generateContent", null,
            "{\"contents\":[{\"parts\":[{\"fileData\":{\"fileUri\":\"" + URI
                + "vid9:download?alt=media\"}}]}]}",
            Route.MODEL_CALL, "v1beta", "generateContent", "gemini-2.5-flash", null, null,
            "FILE:files/vid9"),
        row("not project-bound uris are ignored", "POST",
            "/v1beta/models/gemini-2.5-flash:generateContent", null,
            "{\"contents\":[{\"parts\":[{\"fileData\":{\"fileUri\":\"gs://b/files/x\"}},"
                + "{\"fileData\":{\"fileUri\":\"https://www.youtube.com/watch?v=1\"}},"
                + "{\"fileData\":{\"fileUri\":\"https://evil.example/v1beta/files/x\"}}]}]}",
            Route.MODEL_CALL, "v1beta", "generateContent", "gemini-2.5-flash", null, null),
        row("cachedContent", "POST", "/v1beta/models/gemini-2.5-flash:generateContent", null,
            "{\"cachedContent\":\"cachedContents/o239k1gxzz0juy9wqstndhncr85krehehf551hqh\","
                + "\"contents\":[{\"parts\":[{\"text\":\"q\"}]}]}",
            Route.MODEL_CALL, "v1beta", "generateContent", "gemini-2.5-flash", null, null,
            "CACHED_CONTENT:cachedContents/o239k1gxzz0juy9wqstndhncr85krehehf551hqh"),
        row("file search tool, both spellings", "POST",
            "/v1beta/models/gemini-2.5-flash:generateContent", null,
            "{\"contents\":[],\"tools\":[{\"fileSearch\":{\"fileSearchStoreNames\":"
                + "[\"fileSearchStores/5en07ei3kojo-yo8sjqgvx2xf\",\"fileSearchStores/b\"],"
                + "\"topK\":5}},{\"file_search\":{\"file_search_store_names\":"
                + "[\"fileSearchStores/c\"]}}]}",
            Route.MODEL_CALL, "v1beta", "generateContent", "gemini-2.5-flash", null, null,
            "FILE_SEARCH_STORE:fileSearchStores/5en07ei3kojo-yo8sjqgvx2xf",
            "FILE_SEARCH_STORE:fileSearchStores/b", "FILE_SEARCH_STORE:fileSearchStores/c"),
        row("a repeated name counts once", "POST",
            "/v1beta/models/gemini-2.5-flash:generateContent", null,
            "{\"contents\":[{\"parts\":[{\"fileData\":{\"fileUri\":\"files/a\"}},"
                + "{\"fileData\":{\"fileUri\":\"" + URI + "a\"}}]}]}",
            Route.MODEL_CALL, "v1beta", "generateContent", "gemini-2.5-flash", null, null,
            "FILE:files/a"),
        // ---- batches ----
        row("batch create inline", "POST", "/v1beta/models/gemini-2.5-flash:batchGenerateContent",
            null, "{\"batch\":{\"displayName\":\"job-1\",\"inputConfig\":{\"requests\":"
                + "{\"requests\":[{\"request\":{\"contents\":[{\"parts\":[{\"fileData\":"
                + "{\"fileUri\":\"" + URI + "in1\"}}]}]},\"metadata\":{\"key\":\"r1\"}}]}}}}",
            Route.MODEL_CALL, "v1beta", "batchGenerateContent", "gemini-2.5-flash",
            ResourceKind.BATCH, null, "FILE:files/in1"),
        row("batch create from a file", "POST",
            "/v1beta/models/gemini-2.5-flash:batchGenerateContent", null,
            "{\"batch\":{\"display_name\":\"j\",\"input_config\":{\"file_name\":\"files/in2\"}}}",
            Route.MODEL_CALL, "v1beta", "batchGenerateContent", "gemini-2.5-flash",
            ResourceKind.BATCH, null, "FILE:files/in2"),
        row("embed batch", "POST", "/v1beta/models/gemini-embedding-001:asyncBatchEmbedContent",
            null, "{\"batch\":{\"inputConfig\":{\"fileName\":\"files/e\"}}}", Route.MODEL_CALL,
            "v1beta", "asyncBatchEmbedContent", "gemini-embedding-001", ResourceKind.BATCH, null,
            "FILE:files/e"),
        row("batch get", "GET", "/v1beta/batches/123456", null, null, Route.RESOURCE, "v1beta",
            null, "*", null, null, "BATCH:batches/123456"),
        row("batch cancel", "POST", "/v1beta/batches/123456:cancel", null, null,
            Route.RESOURCE, "v1beta", "cancel", "*", null, null, "BATCH:batches/123456"),
        row("batch delete", "DELETE", "/v1beta/batches/123456", null, null, Route.RESOURCE,
            "v1beta", null, "*", null, "BATCH:batches/123456", "BATCH:batches/123456"),
        // ---- files and uploads ----
        row("upload start", "POST", "/upload/v1beta/files", null,
            "{\"file\":{\"displayName\":\"a.png\",\"mimeType\":\"image/png\"}}",
            Route.UPLOAD_START, "v1beta", null, "*", ResourceKind.UPLOAD, null),
        row("js sdk upload start on v1", "POST", "/upload/v1/files", null, null,
            Route.UPLOAD_START, "v1", null, "*", ResourceKind.UPLOAD, null),
        row("upload finalize", "POST", "/upload/v1beta/files",
            "upload_id=AHxI0nE-x_y.z~1&upload_protocol=resumable",
            "{\"fileData\":{\"fileUri\":\"files/never-read\"}}", Route.UPLOAD_CONTINUE, "v1beta",
            null, "*", ResourceKind.FILE, null, "UPLOAD:AHxI0nE-x_y.z~1"),
        row("file search upload start", "POST",
            "/upload/v1beta/fileSearchStores/s1:uploadToFileSearchStore", null, null,
            Route.UPLOAD_START, "v1beta", "uploadToFileSearchStore", "*", ResourceKind.UPLOAD,
            null, "FILE_SEARCH_STORE:fileSearchStores/s1"),
        row("file search upload finalize", "POST",
            "/upload/v1beta/fileSearchStores/s1:uploadToFileSearchStore",
            "upload_id=U1", null, Route.UPLOAD_CONTINUE, "v1beta", "uploadToFileSearchStore",
            "*", ResourceKind.OPERATION, null, "FILE_SEARCH_STORE:fileSearchStores/s1",
            "UPLOAD:U1"),
        row("file metadata create", "POST", "/v1beta/files", null, "{\"file\":{}}",
            Route.RESOURCE, "v1beta", null, "*", ResourceKind.FILE, null),
        row("file list", "GET", "/v1beta/files", "pageSize=10", null, Route.RESOURCE, "v1beta",
            null, "*", null, null),
        row("file get", "GET", "/v1beta/files/abc123xyz", null, null, Route.RESOURCE, "v1beta",
            null, "*", null, null, "FILE:files/abc123xyz"),
        row("file download", "GET", "/v1beta/files/vid9:download", "alt=media", null,
            Route.RESOURCE, "v1beta", "download", "*", null, null, "FILE:files/vid9"),
        row("file delete", "DELETE", "/v1beta/files/abc", null, null, Route.RESOURCE, "v1beta",
            null, "*", null, "FILE:files/abc", "FILE:files/abc"),
        // ---- caches ----
        row("cache create names its files", "POST", "/v1beta/cachedContents", null,
            "{\"model\":\"models/gemini-2.5-flash\",\"ttl\":\"300s\",\"contents\":[{\"role\":"
                + "\"user\",\"parts\":[{\"fileData\":{\"mimeType\":\"application/pdf\","
                + "\"fileUri\":\"" + URI + "doc1\"}}]}]}",
            Route.RESOURCE, "v1beta", null, "*", ResourceKind.CACHED_CONTENT, null,
            "FILE:files/doc1"),
        row("cache get", "GET", "/v1beta/cachedContents/c1", null, null, Route.RESOURCE,
            "v1beta", null, "*", null, null, "CACHED_CONTENT:cachedContents/c1"),
        row("cache patch", "PATCH", "/v1beta/cachedContents/c1", "updateMask=ttl",
            "{\"ttl\":\"600s\"}", Route.RESOURCE, "v1beta", null, "*", null, null,
            "CACHED_CONTENT:cachedContents/c1"),
        row("cache delete", "DELETE", "/v1beta/cachedContents/c1", null, null, Route.RESOURCE,
            "v1beta", null, "*", null, "CACHED_CONTENT:cachedContents/c1",
            "CACHED_CONTENT:cachedContents/c1"),
        // ---- file search stores ----
        row("store create", "POST", "/v1beta/fileSearchStores", null,
            "{\"displayName\":\"s\"}", Route.RESOURCE, "v1beta", null, "*",
            ResourceKind.FILE_SEARCH_STORE, null),
        row("store delete", "DELETE", "/v1beta/fileSearchStores/s1", "force=true", null,
            Route.RESOURCE, "v1beta", null, "*", null, "FILE_SEARCH_STORE:fileSearchStores/s1",
            "FILE_SEARCH_STORE:fileSearchStores/s1"),
        row("store import names the file", "POST", "/v1beta/fileSearchStores/s1:importFile",
            null, "{\"fileName\":\"files/abc\",\"chunkingConfig\":{}}", Route.RESOURCE, "v1beta",
            "importFile", "*", ResourceKind.OPERATION, null,
            "FILE_SEARCH_STORE:fileSearchStores/s1", "FILE:files/abc"),
        row("store document delete is the store's", "DELETE",
            "/v1beta/fileSearchStores/s1/documents/d1", null, null, Route.RESOURCE, "v1beta",
            null, "*", null, null, "FILE_SEARCH_STORE:fileSearchStores/s1"),
        row("store operation", "GET", "/v1beta/fileSearchStores/s1/upload/operations/op1", null,
            null, Route.RESOURCE, "v1beta", null, "*", null, null,
            "FILE_SEARCH_STORE:fileSearchStores/s1"),
        // ---- operations ----
        row("veo operation under its model", "GET",
            "/v1beta/models/veo-3.1-generate-preview/operations/vz341u0pmdlc", null, null,
            Route.RESOURCE, "v1beta", null, "*", null, null,
            "OPERATION:models/veo-3.1-generate-preview/operations/vz341u0pmdlc"),
        row("veo start", "POST", "/v1beta/models/veo-3.1-generate-preview:predictLongRunning",
            null, "{\"instances\":[{\"prompt\":\"x\"}]}", Route.MODEL_CALL, "v1beta",
            "predictLongRunning", "veo-3.1-generate-preview", ResourceKind.OPERATION, null),
        row("top-level operation", "GET", "/v1beta/operations/op-1", null, null, Route.RESOURCE,
            "v1beta", null, "*", null, null, "OPERATION:operations/op-1"),
        // ---- interactions ----
        row("interaction create", "POST", "/v1beta/interactions", null,
            "{\"model\":\"gemini-3-flash-preview\",\"input\":\"next\","
                + "\"previous_interaction_id\":\"v1_ChdXYZ\",\"tools\":[{\"type\":"
                + "\"file_search\",\"file_search_store_names\":[\"fileSearchStores/s2\"]}]}",
            Route.RESOURCE, "v1beta", null, "gemini-3-flash-preview", ResourceKind.INTERACTION,
            null, "INTERACTION:interactions/v1_ChdXYZ", "FILE_SEARCH_STORE:fileSearchStores/s2"),
        row("interaction with store=false keeps nothing", "POST", "/v1beta/interactions", null,
            "{\"model\":\"gemini-3-flash-preview\",\"input\":[{\"type\":\"image\",\"uri\":\""
                + URI + "img1\"}],\"store\":false}",
            Route.RESOURCE, "v1beta", null, "gemini-3-flash-preview", null, null,
            "FILE:files/img1"),
        row("interaction get", "GET", "/v1beta/interactions/v1_ChdXYZ", "stream=false", null,
            Route.RESOURCE, "v1beta", null, "*", null, null, "INTERACTION:interactions/v1_ChdXYZ"),
        row("interaction cancel", "POST", "/v1beta/interactions/v1_ChdXYZ/cancel", null, null,
            Route.RESOURCE, "v1beta", null, "*", null, null, "INTERACTION:interactions/v1_ChdXYZ"),
        // ---- tuned models ----
        row("tuned model create", "POST", "/v1beta/tunedModels", "tunedModelId=t1", "{}",
            Route.RESOURCE, "v1beta", null, "*", ResourceKind.TUNED_MODEL, null),
        row("tuned model call is a model and a resource", "POST",
            "/v1beta/tunedModels/my-tuned-1:generateContent", null, null, Route.MODEL_CALL,
            "v1beta", "generateContent", "tunedModels/my-tuned-1", null, null,
            "TUNED_MODEL:tunedModels/my-tuned-1"),
        row("tuned model get", "GET", "/v1beta/tunedModels/my-tuned-1", null, null,
            Route.RESOURCE, "v1beta", null, "tunedModels/my-tuned-1", null, null,
            "TUNED_MODEL:tunedModels/my-tuned-1"),
        row("tuned model delete", "DELETE", "/v1beta/tunedModels/t1", null, null,
            Route.RESOURCE, "v1beta", null, "tunedModels/t1", null, "TUNED_MODEL:tunedModels/t1",
            "TUNED_MODEL:tunedModels/t1"),
        row("tuned model operation", "GET", "/v1/tunedModels/az2mb0bpw6i/operations/000-111-222",
            null, null, Route.RESOURCE, "v1", null, "*", null, null,
            "TUNED_MODEL:tunedModels/az2mb0bpw6i"),
        // ---- the OpenAI-compatible surface ----
        row("openai chat on v1beta", "POST", "/v1beta/openai/chat/completions", null,
            "{\"model\":\"gemini-2.5-flash\",\"messages\":[{\"role\":\"user\","
                + "\"content\":\"hi\"}]}",
            Route.OPENAI, "v1beta", null, "gemini-2.5-flash", null, null),
        row("openai chat on v1, models/ prefix", "POST", "/v1/openai/chat/completions", null,
            "{\"messages\":[],\"model\":\"models/gemini-2.5-pro\"}", Route.OPENAI, "v1", null,
            "gemini-2.5-pro", null, null),
        row("openai model inside messages does not count", "POST",
            "/v1beta/openai/chat/completions", null,
            "{\"messages\":[{\"model\":\"x\"}],\"model\":\"gemini-2.5-flash\"}", Route.OPENAI,
            "v1beta", null, "gemini-2.5-flash", null, null),
        row("openai cached content, both places", "POST", "/v1beta/openai/chat/completions",
            null, "{\"model\":\"gemini-2.5-flash\",\"cached_content\":\"cachedContents/c1\","
                + "\"extra_body\":{\"google\":{\"cached_content\":\"cachedContents/c2\"}}}",
            Route.OPENAI, "v1beta", null, "gemini-2.5-flash", null, null,
            "CACHED_CONTENT:cachedContents/c1", "CACHED_CONTENT:cachedContents/c2"),
        row("openai embeddings", "POST", "/v1beta/openai/embeddings", null,
            "{\"input\":\"x\",\"model\":\"gemini-embedding-001\"}", Route.OPENAI, "v1beta", null,
            "gemini-embedding-001", null, null),
        row("openai models list", "GET", "/v1/openai/models", null, null, Route.OPENAI, "v1",
            null, "*", null, null),
        // ---- anything else ----
        row("ephemeral tokens", "POST", "/v1alpha/auth_tokens", null, "{\"uses\":1}",
            Route.OTHER, "v1alpha", null, "*", null, null),
        row("root", "GET", "/", null, null, Route.OTHER, null, null, "*", null, null),
        row("lower-case method", "delete", "/v1beta/files/abc", null, null, Route.RESOURCE,
            "v1beta", null, "*", null, "FILE:files/abc", "FILE:files/abc"));
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("requests")
  void readsEveryFieldOfRealRequestShapes(Row r) {
    byte[] body = r.body() == null ? null : r.body().getBytes(StandardCharsets.UTF_8);
    GeminiRequest q = GeminiRequests.parse(r.method(), r.path(), r.query(), body);
    assertThat(q.route()).as("route").isEqualTo(r.route());
    assertThat(q.version()).as("version").isEqualTo(r.version());
    assertThat(q.action()).as("action").isEqualTo(r.action());
    assertThat(q.model()).as("model").isEqualTo(r.model());
    assertThat(names(q.resources())).as("resources").isEqualTo(r.resources());
    assertThat(q.creates()).as("creates").isEqualTo(r.creates());
    assertThat(q.deletes() == null ? null : q.deletes().kind() + ":" + q.deletes().name())
        .as("deletes").isEqualTo(r.deletes());
    assertThat(q.method()).isEqualTo(r.method().toUpperCase());
    String host = "https://generativelanguage.googleapis.com";
    String url = host + r.path() + (r.query() == null ? "" : "?" + r.query()) + "#frag/x:y";
    assertThat(GeminiRequests.parse(r.method(), url, host.length(), r.query()))
        .as("read in place from the whole URL")
        .isEqualTo(GeminiRequests.parse(r.method(), r.path(), r.query(), null));
  }

  @Test
  void theLastSegmentsCustomMethodIsSplitOffWhereverItsColonIs() {
    GeminiRequest escaped = GeminiRequests.parse("POST",
        "/v1beta/models/gemini-2.5-flash%3AgenerateContent", null, null);
    assertThat(escaped.model()).isEqualTo("gemini-2.5-flash");
    assertThat(escaped.action()).isEqualTo("generateContent");
    assertThat(escaped.route()).isEqualTo(Route.MODEL_CALL);
    GeminiRequest trailingSlash = GeminiRequests.parse("POST",
        "/v1beta/models/gemini-2.5-flash:countTokens//", null, null);
    assertThat(trailingSlash.action()).isEqualTo("countTokens");
    assertThat(trailingSlash.model()).isEqualTo("gemini-2.5-flash");
    GeminiRequest rare = GeminiRequests.parse("POST", "/v1/models/m:someNewMethod", null, null);
    assertThat(rare.action()).isEqualTo("someNewMethod");
    assertThat(GeminiRequests.parse("POST", "/v1beta/models/m:not-a-method", null, null).action())
        .isNull();
    // a version segment that holds a colon is no version
    GeminiRequest notVersion = GeminiRequests.parse("GET", "/v1beta:x", null, null);
    assertThat(notVersion.version()).isNull();
    assertThat(notVersion.action()).isEqualTo("x");
    assertThat(notVersion.route()).isEqualTo(Route.OTHER);
  }

  @Test
  void readingAModelCallsPathInPlaceCopiesOnlyTheModelsName() throws Exception {
    String url = "https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
        + ":generateContent";
    int pathStart = url.indexOf("/v1beta");
    double bytes = Allocations.bytesPerRun(20_000, 20_000, () -> {
      if (GeminiRequests.parse("POST", url, pathStart, null).route() != Route.MODEL_CALL) {
        throw new AssertionError("not read as a model call");
      }
    });
    // the parse's state, its segment table, the model's name and the result: no copy of the
    // path, of its segments or of the method's name (it was about 600 B)
    // bound with room for a JIT that has not compiled everything yet on a loaded machine
    assertThat(bytes).as("bytes allocated per parse").isLessThanOrEqualTo(320);
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("requests")
  void theHeadParsedFirstThenTheBodyReadsTheSameAsOneParse(Row r) {
    byte[] body = r.body() == null ? null : r.body().getBytes(StandardCharsets.UTF_8);
    GeminiRequest head = GeminiRequests.parse(r.method(), r.path(), r.query(), null);
    assertThat(GeminiRequests.withBody(head, r.path(), r.query(), body))
        .isEqualTo(GeminiRequests.parse(r.method(), r.path(), r.query(), body));
  }

  @Test
  void aBodyThatCannotAddAnythingKeepsTheHeadsParse() {
    String path = "/v1beta/models/gemini-2.5-flash:generateContent";
    GeminiRequest head = GeminiRequests.parse("POST", path, null, null);
    byte[] plain = "{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}"
        .getBytes(StandardCharsets.UTF_8);
    assertThat(GeminiRequests.withBody(head, path, null, plain)).isSameAs(head);
    assertThat(GeminiRequests.withBody(head, path, null, new byte[0])).isSameAs(head);
    byte[] naming = ("{\"contents\":[{\"parts\":[{\"fileData\":{\"fileUri\":\"" + URI
        + "abc\"}}]}]}").getBytes(StandardCharsets.UTF_8);
    GeminiRequest read = GeminiRequests.withBody(head, path, null, naming);
    assertThat(names(read.resources())).containsExactly("FILE:files/abc");
    String openAi = "/v1beta/openai/chat/completions";
    GeminiRequest openAiHead = GeminiRequests.parse("POST", openAi, null, null);
    assertThat(GeminiRequests.withBody(openAiHead, openAi, null,
        "{\"model\":\"gemini-2.5-pro\"}".getBytes(StandardCharsets.UTF_8)).model())
        .as("the model read from a body without markers").isEqualTo("gemini-2.5-pro");
  }

  private static List<String> names(List<ResourceRef> refs) {
    List<String> out = new ArrayList<>();
    for (ResourceRef ref : refs) out.add(ref.kind() + ":" + ref.name());
    return out;
  }

  @Test
  void theBodyIsReadFromAnOffsetAndLength() {
    byte[] inner = "{\"cachedContent\":\"cachedContents/c9\"}".getBytes(StandardCharsets.UTF_8);
    byte[] framed = new byte[inner.length + 20];
    framed[0] = '{'; // junk before and after must not be read
    System.arraycopy(inner, 0, framed, 10, inner.length);
    GeminiRequest q = GeminiRequests.parse("POST",
        "/v1beta/models/gemini-2.5-flash:generateContent", null, framed, 10, inner.length);
    assertThat(names(q.resources())).containsExactly("CACHED_CONTENT:cachedContents/c9");
  }

  @Test
  void aBodyOnARouteThatNamesNothingIsNotRead() {
    // An upload chunk is file content, which may well look like a Gemini request.
    String json = "{\"cachedContent\":\"cachedContents/c1\"}";
    GeminiRequest chunk = GeminiRequests.parse("POST", "/upload/v1beta/files", "upload_id=u",
        json.getBytes(StandardCharsets.UTF_8));
    assertThat(names(chunk.resources())).containsExactly("UPLOAD:u");
    GeminiRequest get = GeminiRequests.parse("GET", "/v1beta/models/gemini-2.5-flash", null,
        json.getBytes(StandardCharsets.UTF_8));
    assertThat(get.resources()).isEmpty();
  }

  @Test
  void modelNamesHaveOneCanonicalSpelling() {
    assertThat(GeminiRequests.canonicalModel("models/gemini-2.5-flash"))
        .isEqualTo(GeminiRequests.canonicalModel("gemini-2.5-flash"))
        .isEqualTo(GeminiRequests.canonicalModel("Models/GEMINI-2.5-Flash"))
        .isEqualTo("gemini-2.5-flash");
    assertThat(GeminiRequests.canonicalModel("tunedModels/My-Tune"))
        .isEqualTo("tunedModels/my-tune");
    assertThat(GeminiRequests.canonicalModel("m".repeat(GeminiRequests.MAX_MODEL_LENGTH)))
        .hasSize(GeminiRequests.MAX_MODEL_LENGTH);
    for (String bad : new String[] {null, "", "models/", "m".repeat(129), "-x", ".x", "a b",
        "a/b", "gemini\u00e9", "x%41", "gemini:generateContent", "*", "tunedModels/",
        "models/models/x"}) {
      assertThat(GeminiRequests.canonicalModel(bad)).as(String.valueOf(bad)).isEqualTo("*");
    }
  }

  @Test
  void resourceNamesAreReadAsRefs() {
    assertThat(GeminiRequests.resource("files/abc")).isEqualTo(ref(ResourceKind.FILE, "files/abc"));
    assertThat(GeminiRequests.resource("fileSearchStores/s/documents/d"))
        .isEqualTo(ref(ResourceKind.FILE_SEARCH_STORE, "fileSearchStores/s"));
    assertThat(GeminiRequests.resource("tunedModels/t/operations/o"))
        .isEqualTo(ref(ResourceKind.TUNED_MODEL, "tunedModels/t"));
    assertThat(GeminiRequests.resource("batches/1:cancel"))
        .isEqualTo(ref(ResourceKind.BATCH, "batches/1"));
    assertThat(GeminiRequests.resource("generatedFiles/g/operations/o"))
        .isEqualTo(ref(ResourceKind.OPERATION, "generatedFiles/g/operations/o"));
    for (String bad : new String[] {null, "files", "files/", "files/a/b", "files/..",
        "files/a b", "models/m", "corpora/c", "files/" + "a".repeat(129), "cachedContents/%61"}) {
      assertThat(GeminiRequests.resource(bad)).as(String.valueOf(bad)).isNull();
    }
  }

  private static ResourceRef ref(ResourceKind kind, String name) {
    return new ResourceRef(kind, name);
  }

  // ---- adversarial input: never an exception, bounded results ----------------------------

  private static GeminiRequest generate(String body) {
    return generate(body.getBytes(StandardCharsets.UTF_8));
  }

  private static GeminiRequest generate(byte[] body) {
    return GeminiRequests.parse("POST", "/v1beta/models/gemini-2.5-flash:generateContent", null,
        body);
  }

  @Test
  void tenThousandFileUrisYieldAtMostTheBound() {
    StringBuilder b = new StringBuilder("{\"contents\":[{\"parts\":[");
    for (int i = 0; i < 10_000; i++) {
      if (i > 0) b.append(',');
      b.append("{\"fileData\":{\"fileUri\":\"files/f").append(i).append("\"}}");
    }
    GeminiRequest q = generate(b.append("]}]}").toString());
    assertThat(q.resources()).hasSize(GeminiRequests.MAX_RESOURCES);
    assertThat(q.resources().get(0).name()).isEqualTo("files/f0");
  }

  @Test
  void invalidCandidatesStopTheReadAfterTheirBound() {
    StringBuilder b = new StringBuilder("{\"contents\":[{\"parts\":[");
    for (int i = 0; i < 10_000; i++) {
      b.append("{\"fileData\":{\"fileUri\":\"files/bad id\"}},");
    }
    b.append("{\"fileData\":{\"fileUri\":\"files/late\"}}]}]}");
    assertThat(generate(b.toString()).resources()).isEmpty();
  }

  @Test
  void aHugeInlineBodyStillYieldsTheNamesAroundIt() {
    String data = "A".repeat(8 * 1024 * 1024);
    GeminiRequest q = generate("{\"cachedContent\":\"cachedContents/c1\",\"contents\":[{\"parts\":"
        + "[{\"inlineData\":{\"mimeType\":\"image/png\",\"data\":\"" + data + "\"}},"
        + "{\"fileData\":{\"fileUri\":\"files/after\"}}]}]}");
    assertThat(names(q.resources()))
        .containsExactly("CACHED_CONTENT:cachedContents/c1", "FILE:files/after");
  }

  @Test
  void anOversizedNameValueIsIgnored() {
    GeminiRequest q = generate("{\"cachedContent\":\"cachedContents/" + "a".repeat(100_000)
        + "\",\"contents\":[{\"parts\":[{\"fileData\":{\"fileUri\":\"files/" + "b".repeat(10_000)
        + "\"}}]}]}");
    assertThat(q.resources()).isEmpty();
  }

  @Test
  void deepNestingEndsTheReadWithWhatWasFound() {
    String deep = "{\"cachedContent\":\"cachedContents/c1\",\"x\":" + "[".repeat(100_000)
        + "]".repeat(100_000) + ",\"fileUri\":\"files/late\"}";
    assertThat(names(generate(deep).resources()))
        .containsExactly("CACHED_CONTENT:cachedContents/c1");
  }

  @Test
  void malformedJsonYieldsWhatWasFoundSoFar() {
    for (String body : new String[] {
        "{\"cachedContent\":\"cachedContents/c1\",",
        "{\"cachedContent\":\"cachedContents/c1\" \"x\"",
        "{\"cachedContent\":\"cachedContents/c1\"}}}}garbage",
        "{\"cachedContent\":\"cachedContents/c1\",\"t\":\"unterminated"}) {
      assertThat(names(generate(body).resources())).as(body)
          .containsExactly("CACHED_CONTENT:cachedContents/c1");
    }
    for (String body : new String[] {"", "null", "[]", "42", "\"s\"", "{", "}", "not json",
        "{\"fileUri\":", "{\"fileUri\":{\"fileUri\":[1,{}]}}", "\u0000\u0000\u0000"}) {
      assertThatCode(() -> generate(body)).as(body).doesNotThrowAnyException();
      assertThat(generate(body).resources()).as(body).isEmpty();
    }
  }

  @Test
  void invalidUtf8NeverThrows() {
    byte[] body = "{\"cachedContent\":\"cachedContents/c1\",\"t\":\"xx\"}"
        .getBytes(StandardCharsets.UTF_8);
    byte[] broken = body.clone();
    broken[body.length - 4] = (byte) 0xC3; // a lead byte followed by an ASCII byte
    broken[body.length - 3] = (byte) 0x28;
    assertThatCode(() -> generate(broken)).doesNotThrowAnyException();
    byte[] inName = "{\"fileUri\":\"files/\u00ff\u00fe\"}".getBytes(StandardCharsets.ISO_8859_1);
    assertThat(generate(inName).resources()).isEmpty();
  }

  @Test
  void percentEncodedPathsAreDecodedOnceAndCheckedAfterwards() {
    assertThat(names(GeminiRequests.parse("GET", "/v1beta/files/%61bc", null, null).resources()))
        .containsExactly("FILE:files/abc");
    // An encoded slash or dot does not make a name: the decoded segment fails the id check.
    for (String path : new String[] {"/v1beta/files/a%2Fb", "/v1beta/files/%2E%2E",
        "/v1beta/files/%zz", "/v1beta/files/%C3%28", "/v1beta/files/%", "/v1beta/files/\u00e9"}) {
      GeminiRequest q = GeminiRequests.parse("GET", path, null, null);
      assertThat(q.resources()).as(path).isEmpty();
      assertThat(q.route()).as(path).isEqualTo(Route.OTHER);
    }
    assertThat(GeminiRequests.parse("GET", "/v1beta/models/gemini%2D2.5-flash", null, null)
        .model()).isEqualTo("gemini-2.5-flash");
  }

  @Test
  void dotSegmentsNameNothing() {
    for (String path : new String[] {"/v1beta/files/..", "/v1beta/files/.",
        "/v1beta/cachedContents/../files/x", "/v1beta/models/..:generateContent"}) {
      GeminiRequest q = GeminiRequests.parse("GET", path, null, null);
      assertThat(names(q.resources())).as(path).doesNotContain("FILE:files/..");
      assertThat(q.model()).as(path).isEqualTo("*");
    }
    assertThat(GeminiRequests.parse("GET", "/v1beta/cachedContents/../files/x", null, null)
        .resources()).isEmpty();
  }

  @Test
  void aTenKilobyteModelNameIsTheAnyModelScope() {
    String name = "m".repeat(10 * 1024);
    assertThat(GeminiRequests.parse("POST", "/v1beta/models/" + name + ":generateContent", null,
        null).model()).isEqualTo("*");
    assertThat(GeminiRequests.parse("POST", "/v1beta/openai/chat/completions", null,
        ("{\"model\":\"" + name + "\"}").getBytes(StandardCharsets.UTF_8)).model())
        .isEqualTo("*");
    assertThat(GeminiRequests.parse("GET", "/v1beta/models/" + name, null, null).model())
        .isEqualTo("*");
  }

  @Test
  void pathsWithTooManySegmentsNameNothing() {
    String path = "/v1beta/files/abc" + "/x".repeat(10_000);
    GeminiRequest q = GeminiRequests.parse("GET", path, null, null);
    assertThat(q.route()).isEqualTo(Route.OTHER);
    assertThat(q.resources()).isEmpty();
  }

  @Test
  void oddUploadIdsAreIgnored() {
    for (String query : new String[] {"upload_id=", "upload_id=a%20b", "upload_id=%zz",
        "upload_id=" + "u".repeat(513), "upload_id=a/b", "xupload_id=u"}) {
      GeminiRequest q = GeminiRequests.parse("POST", "/upload/v1beta/files", query, null);
      assertThat(q.resources()).as(query).isEmpty();
      assertThat(q.route()).as(query).isEqualTo(Route.UPLOAD_START);
    }
    GeminiRequest later = GeminiRequests.parse("POST", "/upload/v1beta/files",
        "upload_protocol=resumable&upload_id=abc%2D1", null);
    assertThat(names(later.resources())).containsExactly("UPLOAD:abc-1");
  }

  @Test
  void nullAndEmptyPartsAreTolerated() {
    GeminiRequest q = GeminiRequests.parse(null, null, null, null);
    assertThat(q.route()).isEqualTo(Route.OTHER);
    assertThat(q.method()).isEqualTo("GET");
    assertThat(GeminiRequests.parse("POST", "", "", new byte[0]).route()).isEqualTo(Route.OTHER);
    assertThat(GeminiRequests.parse("POST", "/v1beta/openai/chat/completions", null,
        new byte[10], 5, 100).model()).isEqualTo("*"); // a bad range is not read
  }

  @Test
  void aStreamedBodyIsOpenedOnlyWhenTheRouteReadsOne() {
    int[] opened = {0};
    java.util.function.Supplier<java.io.InputStream> body = () -> {
      opened[0]++;
      return new java.io.ByteArrayInputStream(
          "{\"model\":\"gemini-2.5-pro\",\"cached_content\":\"cachedContents/c1\"}"
              .getBytes(StandardCharsets.UTF_8));
    };
    GeminiRequest chat = GeminiRequests.parseStream("POST", "/v1/openai/chat/completions", null,
        body);
    assertThat(chat.model()).isEqualTo("gemini-2.5-pro");
    assertThat(names(chat.resources())).containsExactly("CACHED_CONTENT:cachedContents/c1");
    assertThat(opened[0]).isEqualTo(1);
    GeminiRequest upload = GeminiRequests.parseStream("POST", "/upload/v1beta/files",
        "upload_id=u", body);
    GeminiRequest get = GeminiRequests.parseStream("GET", "/v1beta/files/a", null, body);
    assertThat(opened[0]).as("an upload chunk and a GET are not read").isEqualTo(1);
    assertThat(GeminiRequests.readsBody(upload)).isFalse();
    assertThat(GeminiRequests.readsBody(get)).isFalse();
    assertThat(GeminiRequests.readsBody(chat)).isTrue();
    assertThat(GeminiRequests.parseStream("POST", "/v1/openai/chat/completions", null, () -> null)
        .model()).isEqualTo("*");
    assertThat(GeminiRequests.parseStream("POST", "/v1/openai/chat/completions", null, () -> {
      throw new IllegalStateException("cannot replay");
    }).model()).isEqualTo("*");
  }

  @Test
  void onlyABodyHoldingAMarkerIsGivenToJackson() {
    // The prefilter must never hide a name (what it saves shows in RequestParseBenchmark).
    String fileAfterText = "{\"contents\":[{\"parts\":[{\"text\":\"hello\"},"
        + "{\"fileData\":{\"fileUri\":\"files/abc\"}}]}]}";
    assertThat(names(generate(fileAfterText).resources())).containsExactly("FILE:files/abc");
    assertThat(GeminiRequests.mayNameResources(bytes(fileAfterText), 0,
        fileAfterText.length())).isTrue();
    String noMarker = "{\"contents\":[{\"parts\":[{\"text\":\"a file\"}]}],"
        + "\"generationConfig\":{\"temperature\":0.2}}";
    assertThat(GeminiRequests.mayNameResources(bytes(noMarker), 0, noMarker.length())).isFalse();
    for (String marker : GeminiRequests.BODY_MARKERS) {
      byte[] b = bytes("xx" + marker + "yy");
      assertThat(GeminiRequests.mayNameResources(b, 0, b.length)).as(marker).isTrue();
      assertThat(GeminiRequests.mayNameResources(b, 0, b.length - 3)).as(marker + " cut")
          .isFalse();
      assertThat(GeminiRequests.mayNameResources(b, 3, b.length - 3)).as(marker + " cut")
          .isFalse();
    }
    byte[] camel = bytes("{\"previousInteractionId\":\"i1\"}");
    assertThat(names(GeminiRequests.parse("POST", "/v1beta/models/m:generateContent", null,
        camel).resources())).containsExactly("INTERACTION:interactions/i1");
    // Escaped slashes still hold the collection's name.
    assertThat(names(generate("{\"cachedContent\":\"cachedContents\\/c1\"}").resources()))
        .containsExactly("CACHED_CONTENT:cachedContents/c1");
  }

  @Test
  void namesInsideFreeFormStructsAreNeverRead() {
    // Review H1: a name in a Struct Gemini never reads as a resource must not pin or hide one.
    String victim = "\"fileSearchStoreNames\":[\"fileSearchStores/victim\"],"
        + "\"file_search_store_names\":[\"fileSearchStores/victim2\"],"
        + "\"cachedContent\":\"cachedContents/victim3\",\"fileUri\":\"files/victim4\","
        + "\"fileName\":\"files/victim5\",\"previous_interaction_id\":\"victim6\"";
    String body = "{\"contents\":[{\"parts\":[{\"functionResponse\":{\"name\":\"f\","
        + "\"response\":{" + victim + "}}},{\"functionCall\":{\"name\":\"g\",\"args\":{"
        + victim + "}}},{\"function_response\":{\"response\":{\"x\":[{" + victim + "}]}}}]}],"
        + "\"generationConfig\":{\"responseSchema\":{" + victim + "},"
        + "\"responseJsonSchema\":{" + victim + "}},"
        + "\"tools\":[{\"functionDeclarations\":[{\"name\":\"h\",\"parameters\":{"
        + victim + "},\"parametersJsonSchema\":{" + victim + "}}]}],"
        + "\"toolConfig\":{" + victim + "},\"x\":{" + victim + "},"
        + "\"contents2\":[{\"parts\":[{\"fileData\":{\"fileUri\":\"files/victim7\"}}]}]}";
    assertThat(generate(body).resources()).isEmpty();
    // The documented places around them still count.
    assertThat(names(generate("{\"contents\":[{\"parts\":[{\"functionResponse\":{\"response\":"
        + "{" + victim + "}}},{\"fileData\":{\"fileUri\":\"files/mine\"}}]}],"
        + "\"system_instruction\":{\"parts\":[{\"file_data\":{\"file_uri\":\"files/sys\"}}]},"
        + "\"tools\":[{\"file_search\":{\"file_search_store_names\":[\"fileSearchStores/s\"]}}],"
        + "\"generateContentRequest\":{\"cachedContent\":\"cachedContents/c\"}}").resources()))
        .containsExactly("FILE:files/mine", "FILE:files/sys", "FILE_SEARCH_STORE:fileSearchStores/s",
            "CACHED_CONTENT:cachedContents/c");
    // A batch's inline requests: their contents count, their metadata never does.
    GeminiRequest batch = GeminiRequests.parse("POST", "/v1beta/models/m:batchGenerateContent",
        null, bytes("{\"batch\":{\"input_config\":{\"requests\":{\"requests\":[{\"request\":"
            + "{\"cached_content\":\"cachedContents/b\"},\"metadata\":{" + victim + "}}]}}},"
            + "\"metadata\":{" + victim + "}}"));
    assertThat(names(batch.resources())).containsExactly("CACHED_CONTENT:cachedContents/b");
  }

  @Test
  void theModelIsReadFromABodyWithoutMarkers() {
    GeminiRequest chat = GeminiRequests.parse("POST", "/v1beta/openai/chat/completions", null,
        bytes("{\"model\":\"gemini-2.5-pro\"}"));
    assertThat(chat.model()).isEqualTo("gemini-2.5-pro");
    assertThat(GeminiRequests.readsModelFromBody(chat)).isTrue();
    GeminiRequest interaction = GeminiRequests.parse("POST", "/v1beta/interactions", null,
        bytes("{\"model\":\"gemini-3-flash-preview\",\"input\":\"hi\"}"));
    assertThat(interaction.model()).isEqualTo("gemini-3-flash-preview");
    assertThat(GeminiRequests.readsModelFromBody(
        GeminiRequests.parse("POST", "/v1beta/interactions", null, null))).isTrue();
    assertThat(GeminiRequests.readsModelFromBody(
        GeminiRequests.parse("POST", "/v1beta/models/m:generateContent", null, null))).isFalse();
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
