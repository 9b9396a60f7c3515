package dev.geminirotator.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.affinity.AffinityPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor.KeyPlacement;
import dev.geminirotator.testsupport.FakeGemini;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The interceptor's resource affinity as it comes by default, over real sockets against a fake
 * Gemini that enforces project ownership and the resumable upload protocol (6 keys in 3
 * projects): an upload's chunks go to the key that started it, with the key the upload URL carries
 * taken out and never forwarded next to the pool key, and no pool key reaches the caller through
 * that URL; a disabled {@link AffinityPolicy} turns it off.
 */
class DefaultAffinityTest {

  private static final MediaType JSON = MediaType.get("application/json");

  private FakeGemini fake;
  private MockWebServer server;
  private GeminiKeyRotator rotator;

  @BeforeEach
  void start() {
    fake = FakeGemini.of(3, 2);
    server = fake.start();
    List<ApiKey> keys = new ArrayList<>();
    for (String id : fake.keyIds()) {
      keys.add(ApiKey.builder(fake.secret(id)).id(id).project(fake.projectOf(id)).build());
    }
    rotator = GeminiKeyRotator.builder().keys(keys).build();
  }

  @AfterEach
  void stop() {
    fake.close();
    rotator.close();
  }

  private OkHttpClient client(GeminiKeyInterceptor interceptor) {
    return new OkHttpClient.Builder().addInterceptor(interceptor).build();
  }

  private Response call(OkHttpClient client, Request request) throws IOException {
    return client.newCall(request).execute();
  }

  private Request generate() {
    return new Request.Builder()
        .url(fake.baseUrl().resolve("/v1beta/models/gemini-2.5-flash:generateContent"))
        .post(RequestBody.create("{\"contents\":[{\"parts\":[{\"text\":\"hi\"}]}]}", JSON))
        .build();
  }

  /** Every request the fake got so far, in order; the queue is left empty. */
  private List<RecordedRequest> drain() throws InterruptedException {
    List<RecordedRequest> all = new ArrayList<>();
    for (RecordedRequest r; (r = server.takeRequest(0, java.util.concurrent.TimeUnit.SECONDS))
        != null; ) {
      all.add(r);
    }
    return all;
  }

  @ParameterizedTest
  @EnumSource(KeyPlacement.class)
  void anUploadsChunksGoToTheKeyThatStartedItAndTheUrlsKeyIsNeitherForwardedNorShown(
      KeyPlacement placement) throws Exception {
    OkHttpClient client = client(GeminiKeyInterceptor.builder().rotator(rotator)
        .keyPlacement(placement).build());
    byte[] data = "hello, upload".getBytes(java.nio.charset.StandardCharsets.UTF_8);

    String uploadUrl;
    try (Response started = call(client, new Request.Builder()
        .url(fake.baseUrl().resolve("/upload/v1beta/files"))
        .header("X-Goog-Upload-Protocol", "resumable")
        .header("X-Goog-Upload-Command", "start")
        .header("X-Goog-Upload-Header-Content-Length", Integer.toString(data.length))
        .header("X-Goog-Upload-Header-Content-Type", "text/plain")
        .post(RequestBody.create("{\"file\":{\"displayName\":\"a.txt\"}}", JSON)).build())) {
      assertThat(started.code()).isEqualTo(200);
      uploadUrl = started.header("X-Goog-Upload-URL");
    }
    String starter = fake.served().get(0).keyId();
    assertThat(uploadUrl).as("the URL the caller gets").isNotNull()
        .doesNotContain(fake.secrets().toArray(new String[0]));
    // Rotation moves on meanwhile: round robin would give the next call to k6, in project-3.
    for (int i = 0; i < 4; i++) {
      try (Response r = call(client, generate())) {
        assertThat(r.code()).isEqualTo(200);
      }
    }
    drain();

    try (Response finished = call(client, new Request.Builder().url(HttpUrl.get(uploadUrl))
        .header("X-Goog-Upload-Command", "upload, finalize")
        .header("X-Goog-Upload-Offset", "0")
        .post(RequestBody.create(data, MediaType.get("text/plain"))).build())) {
      assertThat(finished.code()).as("finalized by the key that started it").isEqualTo(200);
      assertThat(finished.body().string()).contains("\"files/");
    }

    List<RecordedRequest> chunk = drain();
    assertThat(chunk).as("one attempt, no discovery").hasSize(1);
    RecordedRequest sent = chunk.get(0);
    List<String> credentials = new ArrayList<>(sent.getHeaders().values("x-goog-api-key"));
    credentials.addAll(sent.getUrl().queryParameterValues("key"));
    assertThat(credentials).as("one credential: the starting key's, the URL's own key removed")
        .containsExactly(fake.secret(starter));
    assertThat(fake.served().get(fake.served().size() - 1).keyId()).isEqualTo(starter);
  }

  @Test
  void aCacheCreatedThroughTheInterceptorIsUsedOnlyByItsProjectsKeys() throws Exception {
    OkHttpClient client = client(GeminiKeyInterceptor.of(rotator));
    String name = createCache(client);
    String owner = fake.owner(name).orElseThrow().project();

    for (int i = 0; i < 6; i++) {
      try (Response r = call(client, new Request.Builder()
          .url(fake.baseUrl().resolve("/v1beta/" + name)).build())) {
        assertThat(r.code()).isEqualTo(200);
      }
    }
    assertThat(fake.served().subList(1, 7)).extracting(FakeGemini.Served::project)
        .containsOnly(owner);
  }

  @Test
  void affinityNoneLetsEveryKeyServeSoAnotherProjectsKeyGetsGeminisAnswer() throws Exception {
    OkHttpClient client = client(GeminiKeyInterceptor.builder().rotator(rotator)
        .affinity(AffinityPolicy.builder().enabled(false).build()).build());
    String name = createCache(client);

    List<Integer> codes = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      try (Response r = call(client, new Request.Builder()
          .url(fake.baseUrl().resolve("/v1beta/" + name)).build())) {
        codes.add(r.code());
      }
    }
    assertThat(codes).as("round robin reaches the two other projects").contains(200)
        .anyMatch(code -> code == 403 || code == 404);
  }

  private String createCache(OkHttpClient client) throws IOException {
    try (Response created = call(client, new Request.Builder()
        .url(fake.baseUrl().resolve("/v1beta/cachedContents"))
        .post(RequestBody.create("{\"model\":\"models/gemini-2.5-flash\",\"contents\":[{\"parts\":"
            + "[{\"text\":\"a long context\"}]}],\"ttl\":\"600s\"}", JSON)).build())) {
      assertThat(created.code()).isEqualTo(200);
      String body = created.body().string();
      int at = body.indexOf("cachedContents/");
      return body.substring(at, body.indexOf('"', at));
    }
  }
}
