package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.redis.RedisServer;
import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * Files API pins live in the shared store: an upload started, or a file created, through one
 * proxy instance is routed the same way by another instance on the same Redis.
 */
class SharedFilePinsTest {

  private static RedisServer redis;

  @BeforeAll
  static void startRedis() {
    redis = RedisServer.startOnFreePort();
  }

  @AfterAll
  static void stopRedis() {
    redis.close();
  }

  static String yaml() {
    return Harness.defaultYaml()
        .replace("    secret: " + Harness.KEY_1 + "\n",
            "    secret: " + Harness.KEY_1 + "\n    project: project-one\n")
        .replace("    secret: " + Harness.KEY_2 + "\n",
            "    secret: " + Harness.KEY_2 + "\n    project: project-two\n")
        + "storage: \"" + redis.uri() + "\"\n";
  }

  static String keyOf(RecordedRequest r) {
    return r.getHeaders().get("x-goog-api-key");
  }

  @Test
  void aFileCreatedThroughOneInstanceIsServedByItsProjectThroughAnother() throws Exception {
    try (Harness first = new Harness(yaml(), Map.of());
        Harness second = new Harness(yaml(), Map.of())) {
      first.enqueue(200, "{\"file\":{\"name\":\"files/shared-doc-1\",\"mimeType\":\"text/plain\"}}");
      assertThat(first.post("/upload/v1beta/files?uploadType=multipart", "{}", "x-goog-api-key",
          Harness.TOKEN).statusCode()).isEqualTo(200);
      String uploader = keyOf(first.upstream.takeRequest(5, TimeUnit.SECONDS));

      for (int i = 0; i < 6; i++) {
        second.enqueue(200, "{}");
        assertThat(second.get("/v1beta/files/shared-doc-1", "x-goog-api-key", Harness.TOKEN)
            .statusCode()).isEqualTo(200);
        RecordedRequest r = second.upstream.takeRequest(5, TimeUnit.SECONDS);
        assertThat(keyOf(r)).as("request " + i).isEqualTo(uploader);
      }
    }
  }

  @Test
  void anUploadStartedThroughOneInstanceContinuesOnItsKeyThroughAnother() throws Exception {
    try (Harness first = new Harness(yaml(), Map.of());
        Harness second = new Harness(yaml(), Map.of())) {
      first.upstream.enqueue(new MockResponse.Builder().code(200)
          .addHeader("X-Goog-Upload-URL", first.baseUrl()
              + "/upload/v1beta/files?upload_id=SHARED-UP-1&upload_protocol=resumable")
          .body("").build());
      HttpResponse<String> started = first.post("/upload/v1beta/files", "{}", "x-goog-api-key",
          Harness.TOKEN, "X-Goog-Upload-Protocol", "resumable", "X-Goog-Upload-Command", "start");
      assertThat(started.statusCode()).isEqualTo(200);
      String starter = keyOf(first.upstream.takeRequest(5, TimeUnit.SECONDS));
      String path = URI.create(started.headers().firstValue("X-Goog-Upload-URL").orElseThrow())
          .getRawPath() + "?upload_id=SHARED-UP-1&upload_protocol=resumable";

      for (int i = 0; i < 4; i++) {
        second.enqueue(200, "{}");
        HttpResponse<String> chunk = second.send(second.request(path)
            .header("x-goog-api-key", Harness.TOKEN)
            .header("X-Goog-Upload-Command", "upload")
            .header("X-Goog-Upload-Offset", Integer.toString(i * 5))
            .POST(HttpRequest.BodyPublishers.ofString("hello")).build());
        assertThat(chunk.statusCode()).isEqualTo(200);
        assertThat(keyOf(second.upstream.takeRequest(5, TimeUnit.SECONDS))).as("chunk " + i)
            .isEqualTo(starter);
      }
    }
  }
}
