package dev.geminirotator.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockWebServer;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The fake Gemini through plain HTTP on a real socket: credentials, the resumable upload
 * protocol, and project ownership of every kind of resource.
 */
class FakeGeminiTest {

  static final MediaType JSON_TYPE = MediaType.get("application/json");
  static final MediaType BYTES = MediaType.get("application/octet-stream");
  static final String MODEL = "gemini-2.5-flash";
  static final ObjectMapper JSON = new ObjectMapper();

  final FakeClock clock = FakeClock.standard();
  FakeGemini fake;
  MockWebServer server;
  final OkHttpClient http = new OkHttpClient.Builder().readTimeout(10, TimeUnit.SECONDS).build();

  /** k1, k2 in project-1; k3, k4 in project-2. */
  @BeforeEach
  void start() {
    fake = FakeGemini.builder().projects(2, 2, RealLookingKeys::key).clock(clock).build();
    server = fake.start();
  }

  @AfterEach
  void stop() {
    http.dispatcher().executorService().shutdown();
    http.connectionPool().evictAll();
    fake.close();
  }

  record Answer(int code, String body, okhttp3.Headers headers) {
    JsonNode json() throws IOException {
      return JSON.readTree(body);
    }

    String status() throws IOException {
      return json().at("/error/status").asText();
    }
  }

  Answer call(String method, String path, String keyId, String body) throws IOException {
    return call(new Request.Builder().url(server.url(path)), method, keyId, body);
  }

  Answer call(Request.Builder b, String method, String keyId, String body) throws IOException {
    if (keyId != null) b.header("x-goog-api-key", fake.secret(keyId));
    b.method(method, body == null ? (method.equals("POST") ? RequestBody.create("", JSON_TYPE)
        : null) : RequestBody.create(body, JSON_TYPE));
    try (Response r = http.newCall(b.build()).execute()) {
      return new Answer(r.code(), r.body().string(), r.headers());
    }
  }

  Answer generate(String keyId, String body) throws IOException {
    return call("POST", "/v1beta/models/" + MODEL + ":generateContent", keyId, body);
  }

  /** Starts a resumable upload of {@code size} bytes with {@code keyId}; returns the answer. */
  Answer startUpload(String keyId, int size) throws IOException {
    return call(new Request.Builder().url(server.url("/upload/v1beta/files"))
        .header("X-Goog-Upload-Protocol", "resumable")
        .header("X-Goog-Upload-Command", "start")
        .header("X-Goog-Upload-Header-Content-Length", Integer.toString(size))
        .header("X-Goog-Upload-Header-Content-Type", "text/plain"),
        "POST", keyId, "{\"file\":{\"displayName\":\"notes.txt\"}}");
  }

  /** Sends a chunk to the upload URL, keeping its own key, or replacing it with {@code keyId}. */
  Answer chunk(String uploadUrl, String keyId, String command, long offset, String bytes)
      throws IOException {
    HttpUrl url = HttpUrl.get(uploadUrl);
    if (keyId != null) url = url.newBuilder().removeAllQueryParameters("key").build();
    Request.Builder b = new Request.Builder().url(url)
        .header("X-Goog-Upload-Command", command)
        .header("X-Goog-Upload-Offset", Long.toString(offset))
        .post(RequestBody.create(bytes, BYTES));
    if (keyId != null) b.header("x-goog-api-key", fake.secret(keyId));
    try (Response r = http.newCall(b.build()).execute()) {
      return new Answer(r.code(), r.body().string(), r.headers());
    }
  }

  /** Uploads a file with {@code keyId} and returns its {@code file} object. */
  JsonNode upload(String keyId) throws IOException {
    String url = startUpload(keyId, 5).headers().get("X-Goog-Upload-URL");
    Answer done = chunk(url, null, "upload, finalize", 0, "hello");
    assertThat(done.code()).as(done.body()).isEqualTo(200);
    return done.json().get("file");
  }

  static String fileData(String uri) {
    return "{\"contents\":[{\"parts\":[{\"fileData\":{\"mimeType\":\"text/plain\",\"fileUri\":\""
        + uri + "\"}},{\"text\":\"describe\"}]}]}";
  }

  @Test
  void anUnknownKeyGetsGeminisApiKeyInvalid() throws IOException {
    Answer a = call(new Request.Builder().url(server.url("/v1beta/files"))
        .header("x-goog-api-key", "AIzaNotAKeyOfThisFakeAtAll000000000000"), "GET", null, null);
    assertThat(a.code()).isEqualTo(400);
    assertThat(a.json().at("/error/details/0/reason").asText()).isEqualTo("API_KEY_INVALID");
    assertThat(call("GET", "/v1beta/files", null, null).code()).as("no key at all")
        .isEqualTo(403);
  }

  @Test
  void aKeyIsTakenFromTheHeaderTheQueryOrABearerToken() throws IOException {
    String secret = fake.secret("k3");
    assertThat(call("GET", "/v1beta/files?key=" + secret, null, null).code()).isEqualTo(200);
    assertThat(call(new Request.Builder().url(server.url("/v1/files"))
        .header("Authorization", "Bearer " + secret), "GET", null, null).code()).isEqualTo(200);
    assertThat(call("GET", "/v1alpha/files", "k3", null).code()).isEqualTo(200);
    assertThat(call("GET", "/v1beta/files?key=" + fake.secret("k1"), "k3", null).code())
        .as("two different keys").isEqualTo(400);
    assertThat(fake.served()).extracting(FakeGemini.Served::keyId)
        .containsExactly("k3", "k3", "k3", null);
    assertThat(fake.served()).extracting(FakeGemini.Served::project)
        .containsExactly("project-2", "project-2", "project-2", null);
    assertThat(SecretScanner.of(fake.secrets()).findings(fake.served().toString())).isEmpty();
  }

  @Test
  void aResumableUploadGivesAUrlCarryingTheStartingKeyAndFinalizesToAFile() throws IOException {
    Answer started = startUpload("k2", 10);
    assertThat(started.code()).isEqualTo(200);
    assertThat(started.headers().get("X-Goog-Upload-Status")).isEqualTo("active");
    HttpUrl url = HttpUrl.get(started.headers().get("X-Goog-Upload-URL"));
    assertThat(url.host()).isEqualTo(server.getHostName());
    assertThat(url.port()).isEqualTo(server.getPort());
    assertThat(url.encodedPath()).isEqualTo("/upload/v1beta/files");
    assertThat(url.queryParameter("key")).isEqualTo(fake.secret("k2"));
    assertThat(url.queryParameter("upload_protocol")).isEqualTo("resumable");
    String uploadId = url.queryParameter("upload_id");
    assertThat(fake.owner("uploads/" + uploadId)).contains(new FakeGemini.Owner("k2",
        "project-1"));

    Answer first = chunk(url.toString(), null, "upload", 0, "hello");
    assertThat(first.code()).isEqualTo(200);
    assertThat(first.headers().get("X-Goog-Upload-Status")).isEqualTo("active");
    Answer wrongOffset = chunk(url.toString(), null, "upload", 0, "world");
    assertThat(wrongOffset.code()).isEqualTo(400);
    assertThat(wrongOffset.json().at("/error/message").asText()).contains("X-Goog-Upload-Offset")
        .contains("5").contains("0");

    Answer done = chunk(url.toString(), null, "upload, finalize", 5, "world");
    assertThat(done.code()).as(done.body()).isEqualTo(200);
    assertThat(done.headers().get("X-Goog-Upload-Status")).isEqualTo("final");
    JsonNode file = done.json().get("file");
    String name = file.get("name").asText();
    assertThat(name).matches("files/[a-z0-9]{12}");
    assertThat(file.get("uri").asText())
        .isEqualTo("https://generativelanguage.googleapis.com/v1beta/" + name);
    assertThat(file.get("state").asText()).isEqualTo("ACTIVE");
    assertThat(file.get("sizeBytes").asText()).isEqualTo("10");
    assertThat(file.get("mimeType").asText()).isEqualTo("text/plain");
    assertThat(file.get("displayName").asText()).isEqualTo("notes.txt");
    assertThat(file.get("expirationTime").asText())
        .isEqualTo(clock.instant().plus(Duration.ofHours(48)).toString());
    assertThat(fake.owner(name)).contains(new FakeGemini.Owner("k2", "project-1"));
    assertThat(fake.owner("uploads/" + uploadId)).as("finalized").isEmpty();
    assertThat(chunk(url.toString(), null, "upload", 10, "x").code()).as("after finalize")
        .isEqualTo(404);
  }

  @Test
  void anUploadContinuesOnlyWithTheKeyThatStartedIt() throws IOException {
    String url = startUpload("k1", 5).headers().get("X-Goog-Upload-URL");
    Answer foreign = chunk(url, "k3", "upload, finalize", 0, "hello");
    assertThat(foreign.code()).isEqualTo(403);
    assertThat(foreign.status()).isEqualTo("PERMISSION_DENIED");
    assertThat(foreign.headers().get("X-Goog-Upload-Status")).isEqualTo("final");
    assertThat(chunk(url, "k2", "upload, finalize", 0, "hello").code()).as("same project")
        .isEqualTo(403);
    Answer unknown = chunk(server.url("/upload/v1beta/files?upload_id=AHxInope&"
        + "upload_protocol=resumable").toString(), "k1", "upload", 0, "hello");
    assertThat(unknown.code()).isEqualTo(404);
    assertThat(unknown.status()).isEqualTo("NOT_FOUND");
    assertThat(chunk(url, "k1", "upload, finalize", 0, "hello").code()).isEqualTo(200);
  }

  @Test
  void anUploadThatIsNotResumableOrOverItsDeclaredSizeIsRefusedByName() throws IOException {
    Answer simple = call("POST", "/upload/v1beta/files", "k1", "{}");
    assertThat(simple.code()).isEqualTo(400);
    assertThat(simple.json().at("/error/message").asText()).contains("X-Goog-Upload-Protocol");
    String url = startUpload("k1", 3).headers().get("X-Goog-Upload-URL");
    Answer over = chunk(url, null, "upload, finalize", 0, "hello");
    assertThat(over.code()).isEqualTo(400);
    assertThat(over.json().at("/error/message").asText()).contains("declared 3");
  }

  @Test
  void aFileIsVisibleOnlyToKeysOfItsProject() throws IOException {
    JsonNode file = upload("k1");
    String name = file.get("name").asText();
    String uri = file.get("uri").asText();

    assertThat(call("GET", "/v1beta/" + name, "k2", null).json().get("name").asText())
        .isEqualTo(name);
    Answer foreign = call("GET", "/v1beta/" + name, "k3", null);
    assertThat(foreign.code()).isEqualTo(403);
    assertThat(foreign.status()).isEqualTo("PERMISSION_DENIED");
    assertThat(call("GET", "/v1beta/files", "k2", null).json().get("files")).hasSize(1);
    assertThat(call("GET", "/v1beta/files", "k4", null).json().get("files")).isEmpty();

    assertThat(generate("k2", fileData(uri)).code()).isEqualTo(200);
    Answer foreignUse = generate("k4", fileData(uri));
    assertThat(foreignUse.code()).isEqualTo(403);
    assertThat(foreignUse.status()).isEqualTo("PERMISSION_DENIED");
    assertThat(generate("k4", fileData("https://example.com/files/abc")).code())
        .as("a file elsewhere is not Gemini's").isEqualTo(200);

    assertThat(call("DELETE", "/v1beta/" + name, "k3", null).code()).isEqualTo(403);
    assertThat(call("DELETE", "/v1beta/" + name, "k2", null).code()).isEqualTo(200);
    assertThat(call("GET", "/v1beta/" + name, "k1", null).code()).as("deleted").isEqualTo(403);
    assertThat(fake.owner(name)).isEmpty();
  }

  @Test
  void aFileExpiresAfter48Hours() throws IOException {
    String name = upload("k1").get("name").asText();
    clock.advance(Duration.ofHours(48).minusMillis(1));
    assertThat(call("GET", "/v1beta/" + name, "k1", null).code()).isEqualTo(200);
    clock.advance(Duration.ofMillis(1));
    assertThat(call("GET", "/v1beta/" + name, "k1", null).code()).isEqualTo(403);
    assertThat(fake.resources(FakeGemini.Kind.FILE)).isEmpty();
  }

  @Test
  void aCacheServesItsProjectAndModelUntilItsExpireTime() throws IOException {
    Answer created = call("POST", "/v1beta/cachedContents", "k3",
        "{\"model\":\"models/" + MODEL + "\",\"displayName\":\"doc\",\"ttl\":\"300s\","
            + "\"contents\":[{\"parts\":[{\"text\":\"long document\"}]}]}");
    assertThat(created.code()).as(created.body()).isEqualTo(200);
    JsonNode cache = created.json();
    String name = cache.get("name").asText();
    assertThat(name).matches("cachedContents/[a-z0-9]{40}");
    assertThat(cache.get("model").asText()).isEqualTo("models/" + MODEL);
    assertThat(cache.get("expireTime").asText())
        .isEqualTo(clock.instant().plusSeconds(300).toString());
    assertThat(cache.at("/usageMetadata/totalTokenCount").asInt()).isPositive();
    assertThat(fake.owner(name)).contains(new FakeGemini.Owner("k3", "project-2"));

    String use = "{\"cachedContent\":\"" + name + "\",\"contents\":[{\"parts\":[{\"text\":\"q\"}]}]}";
    assertThat(generate("k4", use).code()).isEqualTo(200);
    Answer foreign = generate("k1", use);
    assertThat(foreign.code()).isEqualTo(403);
    assertThat(foreign.status()).isEqualTo("PERMISSION_DENIED");
    assertThat(call("POST", "/v1beta/models/gemini-2.5-pro:generateContent", "k3", use).code())
        .as("another model").isEqualTo(400);
    assertThat(call("GET", "/v1beta/" + name, "k2", null).code()).isEqualTo(403);
    assertThat(call("PATCH", "/v1beta/" + name, "k1", "{\"ttl\":\"600s\"}").code())
        .isEqualTo(403);

    Answer patched = call("PATCH", "/v1beta/" + name, "k4", "{\"ttl\":\"600s\"}");
    assertThat(patched.json().get("expireTime").asText())
        .isEqualTo(clock.instant().plusSeconds(600).toString());
    clock.advance(Duration.ofSeconds(599));
    assertThat(call("GET", "/v1beta/" + name, "k3", null).code()).isEqualTo(200);
    clock.advance(Duration.ofSeconds(1));
    assertThat(call("GET", "/v1beta/" + name, "k3", null).code()).as("expired").isEqualTo(403);
  }

  @Test
  void aCacheIsDeletedOnlyByItsProjectAndMayNameOnlyItsProjectsFiles() throws IOException {
    String uri = upload("k1").get("uri").asText();
    Answer foreignFile = call("POST", "/v1beta/cachedContents", "k3", "{\"model\":\"models/"
        + MODEL + "\"," + fileData(uri).substring(1));
    assertThat(foreignFile.code()).isEqualTo(403);
    String name = call("POST", "/v1beta/cachedContents", "k1", "{\"model\":\"models/" + MODEL
        + "\"," + fileData(uri).substring(1)).json().get("name").asText();
    assertThat(call("DELETE", "/v1beta/" + name, "k3", null).code()).isEqualTo(403);
    assertThat(call("DELETE", "/v1beta/" + name, "k2", null).code()).isEqualTo(200);
    assertThat(fake.owner(name)).isEmpty();
    assertThat(call("POST", "/v1beta/cachedContents", "k1", "{\"ttl\":\"300s\"}").json()
        .at("/error/message").asText()).contains("model");
  }

  @Test
  void aBatchIsAnOperationOfItsProjectAndAnotherProjectGets404() throws IOException {
    Answer created = call("POST", "/v1beta/models/" + MODEL + ":batchGenerateContent", "k2",
        "{\"batch\":{\"displayName\":\"job-1\",\"inputConfig\":{\"requests\":{\"requests\":["
            + "{\"request\":{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]},"
            + "\"metadata\":{\"key\":\"r1\"}}]}}}}");
    assertThat(created.code()).as(created.body()).isEqualTo(200);
    String name = created.json().get("name").asText();
    assertThat(name).matches("batches/[a-z0-9]{24}");
    assertThat(created.json().at("/metadata/state").asText()).isEqualTo("BATCH_STATE_PENDING");
    assertThat(created.json().at("/metadata/model").asText()).isEqualTo("models/" + MODEL);
    assertThat(fake.owner(name)).contains(new FakeGemini.Owner("k2", "project-1"));

    assertThat(call("GET", "/v1beta/" + name, "k1", null).code()).isEqualTo(200);
    Answer foreign = call("GET", "/v1beta/" + name, "k4", null);
    assertThat(foreign.code()).isEqualTo(404);
    assertThat(foreign.status()).isEqualTo("NOT_FOUND");
    assertThat(call("DELETE", "/v1beta/" + name, "k3", null).code()).isEqualTo(404);
    assertThat(call("DELETE", "/v1beta/" + name, "k1", null).code()).isEqualTo(200);
    assertThat(call("GET", "/v1beta/" + name, "k1", null).code()).isEqualTo(404);

    String uri = upload("k1").get("uri").asText();
    assertThat(call("POST", "/v1beta/models/" + MODEL + ":batchGenerateContent", "k3",
        "{\"batch\":{\"inputConfig\":{\"requests\":{\"requests\":[{\"request\":"
            + fileData(uri) + "}]}}}}").code()).as("an inline request naming a foreign file")
        .isEqualTo(403);
    assertThat(call("POST", "/v1beta/models/" + MODEL + ":batchGenerateContent", "k1",
        "{\"batch\":{}}").code()).isEqualTo(400);
  }

  @Test
  void aFileSearchStoreIsVisibleOnlyToItsProjectAlsoAsAGenerationTool() throws IOException {
    Answer created = call("POST", "/v1beta/fileSearchStores", "k4",
        "{\"displayName\":\"My Store\"}");
    assertThat(created.code()).isEqualTo(200);
    String name = created.json().get("name").asText();
    assertThat(name).matches("fileSearchStores/mystore-[a-z0-9]{12}");
    assertThat(created.json().get("displayName").asText()).isEqualTo("My Store");

    assertThat(call("GET", "/v1beta/" + name, "k3", null).code()).isEqualTo(200);
    Answer foreign = call("GET", "/v1beta/" + name, "k2", null);
    assertThat(foreign.code()).isEqualTo(403);
    assertThat(foreign.status()).isEqualTo("PERMISSION_DENIED");
    String tool = "{\"contents\":[{\"parts\":[{\"text\":\"q\"}]}],\"tools\":[{\"fileSearch\":"
        + "{\"fileSearchStoreNames\":[\"" + name + "\"]}}]}";
    assertThat(generate("k3", tool).code()).isEqualTo(200);
    assertThat(generate("k1", tool).code()).isEqualTo(403);
    assertThat(call("DELETE", "/v1beta/" + name, "k1", null).code()).isEqualTo(403);
    assertThat(call("DELETE", "/v1beta/" + name + "?force=true", "k3", null).code())
        .isEqualTo(200);
    assertThat(fake.owner(name)).isEmpty();
  }

  @Test
  void generationAndStreamingAnswerInGeminisShapes() throws IOException {
    Answer sse = call("POST", "/v1beta/models/" + MODEL + ":streamGenerateContent?alt=sse", "k1",
        "{\"contents\":[]}");
    assertThat(sse.headers().get("Content-Type")).startsWith("text/event-stream");
    assertThat(sse.body()).startsWith("data: {");
    Answer array = call("POST", "/v1beta/models/" + MODEL + ":streamGenerateContent", "k1",
        "{\"contents\":[]}");
    assertThat(array.json().isArray()).isTrue();
    assertThat(array.json()).hasSize(3);
    assertThat(generate("k1", "{not json").code()).isEqualTo(400);
    Answer unknown = call("GET", "/v1beta/tunedModels/x", "k1", null);
    assertThat(unknown.code()).isEqualTo(404);
    assertThat(unknown.status()).isEqualTo("NOT_FOUND");
  }
}
