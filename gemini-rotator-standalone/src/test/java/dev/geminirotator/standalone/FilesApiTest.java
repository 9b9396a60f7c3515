package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URI;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class FilesApiTest {

  static final String FILE_JSON = "{\"file\":{\"name\":\"files/abc123\","
      + "\"mimeType\":\"text/plain\","
      + "\"uri\":\"https://generativelanguage.googleapis.com/v1beta/files/abc123\"}}";

  Harness h;

  @BeforeEach
  void start() throws Exception {
    h = new Harness("");
  }

  @AfterEach
  void stop() throws Exception {
    h.close();
  }

  String keyOf(RecordedRequest r) {
    return r.getHeaders().get("x-goog-api-key");
  }

  @Test
  void resumableUploadUrlPointsBackAtTheProxyAndFollowUpsKeepTheStartingKey() throws Exception {
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .addHeader("X-Goog-Upload-URL", h.baseUrl() + "/upload/v1beta/files?key=" + Harness.KEY_1
            + "&upload_id=UP-1&upload_protocol=resumable")
        .addHeader("X-Goog-Upload-Status", "active").body("").build());
    h.enqueue(200, "{}");
    h.enqueue(200, FILE_JSON);
    h.enqueue(200, "{}");
    h.enqueue(200, "{}");
    h.enqueue(200, "{}");

    HttpResponse<String> started = h.send(h.request("/upload/v1beta/files")
        .header("x-goog-api-key", Harness.TOKEN)
        .header("X-Goog-Upload-Protocol", "resumable")
        .header("X-Goog-Upload-Command", "start")
        .header("X-Goog-Upload-Header-Content-Length", "5")
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"file\":{\"display_name\":\"t\"}}"))
        .build());
    assertThat(started.statusCode()).isEqualTo(200);
    String uploadUrl = started.headers().firstValue("X-Goog-Upload-URL").orElseThrow();
    assertThat(uploadUrl).startsWith(h.proxy.uri() + "/upload/v1beta/files?")
        .contains("upload_id=UP-1").doesNotContain("key=").doesNotContain(Harness.KEY_1);
    String startKey = keyOf(h.upstream.takeRequest(5, TimeUnit.SECONDS));

    for (String command : new String[] {"upload", "upload, finalize"}) {
      HttpResponse<String> r = h.send(HttpRequest.newBuilder(URI.create(uploadUrl))
          .header("x-goog-api-key", Harness.TOKEN)
          .header("X-Goog-Upload-Command", command)
          .header("X-Goog-Upload-Offset", "0")
          .POST(HttpRequest.BodyPublishers.ofString("hello")).build());
      assertThat(r.statusCode()).isEqualTo(200);
      RecordedRequest follow = h.upstream.takeRequest(5, TimeUnit.SECONDS);
      assertThat(follow.getTarget()).contains("upload_id=UP-1");
      assertThat(keyOf(follow)).isEqualTo(startKey);
    }

    // The file now lives in the project of the key that uploaded it.
    for (int i = 0; i < 3; i++) {
      h.post("/v1beta/models/gemini-2.5-flash:generateContent", "{\"contents\":[{\"parts\":"
              + "[{\"fileData\":{\"fileUri\":\"https://generativelanguage.googleapis.com/v1beta/"
              + "files/abc123\"}}]}]}", "x-goog-api-key", Harness.TOKEN);
      assertThat(keyOf(h.upstream.takeRequest(5, TimeUnit.SECONDS))).isEqualTo(startKey);
    }
  }

  @Test
  void behindATrustedProxyTheUploadUrlUsesTheForwardedHost() throws Exception {
    h.close();
    h = new Harness(Harness.withServer("  trusted-proxies: [127.0.0.1]\n"), java.util.Map.of());
    for (int i = 0; i < 2; i++) {
      h.upstream.enqueue(new MockResponse.Builder().code(200)
          .addHeader("X-Goog-Upload-URL", h.baseUrl() + "/upload/v1beta/files?upload_id=UP-2"
              + "&upload_protocol=resumable").body("").build());
    }

    HttpResponse<String> forwarded = h.post("/upload/v1beta/files", "{}", "x-goog-api-key",
        Harness.TOKEN, "X-Forwarded-Proto", "https", "X-Forwarded-Host", "gemini.example.com");
    HttpResponse<String> direct = h.post("/upload/v1beta/files", "{}", "x-goog-api-key",
        Harness.TOKEN);

    assertThat(forwarded.headers().firstValue("X-Goog-Upload-URL")).hasValue(
        "https://gemini.example.com/upload/v1beta/files?upload_id=UP-2&upload_protocol=resumable");
    assertThat(direct.headers().firstValue("X-Goog-Upload-URL")).hasValue(
        h.proxy.uri() + "/upload/v1beta/files?upload_id=UP-2&upload_protocol=resumable");
  }
}
