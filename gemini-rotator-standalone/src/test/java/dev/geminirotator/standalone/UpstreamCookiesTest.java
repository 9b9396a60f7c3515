package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.Test;

/**
 * Cookies never cross the proxy: the upstream client keeps none (a Set-Cookie the upstream sent
 * while answering one client must never be replayed upstream on another client's request, nor on
 * another key's), upstream Set-Cookie headers are not returned (they belong to the pool key's
 * session), and a client's Cookie, a credential, is not forwarded. Neither is X-Forwarded-Host,
 * which describes the client's hop to the proxy.
 */
class UpstreamCookiesTest {

  @Test
  void anUpstreamCookieIsNotSentWithTheNextRequest() throws Exception {
    try (Harness h = new Harness("")) {
      h.upstream.enqueue(new MockResponse.Builder().code(200)
          .addHeader("Content-Type", "application/json")
          .addHeader("Set-Cookie", "session=from-upstream; Path=/")
          .body("{}").build());
      h.enqueue(200, "{}");
      h.enqueue(200, "{}");

      HttpResponse<String> first = h.post("/v1beta/models/m:generateContent", "{}",
          "x-goog-api-key", Harness.TOKEN);
      HttpResponse<String> second = h.post("/v1beta/models/m:generateContent", "{}",
          "x-goog-api-key", Harness.TOKEN);
      HttpResponse<String> third = h.post("/v1beta/models/m:generateContent", "{}",
          "x-goog-api-key", Harness.TOKEN, "Cookie", "mine=1",
          "X-Forwarded-Host", "evil.example");

      assertThat(first.statusCode()).isEqualTo(200);
      assertThat(first.headers().allValues("Set-Cookie")).isEmpty();
      assertThat(second.statusCode()).isEqualTo(200);
      assertThat(third.statusCode()).isEqualTo(200);
      RecordedRequest r1 = h.upstream.takeRequest(5, TimeUnit.SECONDS);
      RecordedRequest r2 = h.upstream.takeRequest(5, TimeUnit.SECONDS);
      assertThat(r1).isNotNull();
      assertThat(r2).isNotNull();
      assertThat(r2.getHeaders().get("Cookie")).isNull();
      // A client's own cookie is a credential too: it stays here.
      RecordedRequest r3 = h.upstream.takeRequest(5, TimeUnit.SECONDS);
      assertThat(r3.getHeaders().get("Cookie")).isNull();
      assertThat(r3.getHeaders().get("X-Forwarded-Host")).isNull();
    }
  }
}
