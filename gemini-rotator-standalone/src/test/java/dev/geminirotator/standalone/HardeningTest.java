package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Regressions from review: client input that must never reach upstream or answer 5xx. */
class HardeningTest {

  private Harness h;

  @BeforeEach
  void start() throws Exception {
    h = new Harness("");
  }

  @AfterEach
  void stop() {
    h.close();
  }

  private String auth() {
    return "x-goog-api-key: " + Harness.TOKEN + "\r\n";
  }

  @Test
  void dotSegmentsNeverReachUpstreamWithAPoolKey() throws Exception {
    for (String path : new String[] {"/v1beta/../admin/keys", "/v1beta/models/./x",
        "/v1beta/models;/../../admin/keys"}) {
      String raw = h.raw("GET " + path + " HTTP/1.1\r\nHost: x\r\n" + auth()
          + "Connection: close\r\n\r\n");
      assertThat(raw).as(path).startsWith("HTTP/1.1 400");
      assertThat(raw).as(path).doesNotContain("HTTP/1.1 200").doesNotContain("HTTP/1.1 5");
    }
    assertThat(h.upstream.getRequestCount()).isZero();
  }

  @Test
  void unknownMethodsAre405AndDoNotGrowTheMetrics() throws Exception {
    for (int i = 0; i < 3; i++) {
      String raw = h.raw("FOO" + i + " /v1beta/models HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
      assertThat(raw).startsWith("HTTP/1.1 405").contains("Allow: GET, HEAD, POST, PUT, PATCH, DELETE");
    }
    assertThat(h.upstream.getRequestCount()).isZero();
    HttpResponse<String> metrics = h.get("/metrics");
    assertThat(metrics.body()).doesNotContain("FOO0").doesNotContain("FOO1");
  }

  @Test
  void queryCharactersJavaNetUriRejectsAreForwardedEncoded() throws Exception {
    h.enqueue(200, Fixtures.geminiResponse("models-list.json"));
    String raw = h.raw("GET /v1beta/models?filter=a|b&x={y} HTTP/1.1\r\nHost: x\r\n" + auth()
        + "Connection: close\r\n\r\n");
    assertThat(raw).startsWith("HTTP/1.1 200");
    RecordedRequest recorded = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(recorded.getTarget()).isEqualTo("/v1beta/models?filter=a%7Cb&x=%7By%7D");
  }

  @Test
  void upstream401IsAKeyRejectionNotATransportError() throws Exception {
    String body = Fixtures.geminiError("400-api-key-invalid").replace("\"code\": 400", "\"code\": 401")
        .replace("INVALID_ARGUMENT", "UNAUTHENTICATED");
    h.enqueue(401, body);
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    HttpResponse<String> response = h.post("/v1beta/models/gemini-2.5-flash:generateContent",
        "{}", "x-goog-api-key", Harness.TOKEN);
    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
    HttpResponse<String> keys = h.admin("GET", "/admin/keys", null);
    assertThat(keys.body()).contains("INVALID");
  }
}
