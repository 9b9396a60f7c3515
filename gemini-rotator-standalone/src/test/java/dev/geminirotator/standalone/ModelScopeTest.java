package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpResponse;
import java.util.concurrent.TimeUnit;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The proxy reads the model and the route with core's request parser, as the interceptor does:
 * the two transports had drifted ({@code /v1/openai} was not recognised here, {@code GET
 * models/{m}} was scoped to the model in one transport and not the other).
 */
class ModelScopeTest {

  private static final String CHAT = "{\"model\":\"gemini-2.5-flash\",\"messages\":"
      + "[{\"role\":\"user\",\"content\":\"hi\"}]}";

  Harness h;

  @BeforeEach
  void start() throws Exception {
    h = new Harness("");
  }

  @AfterEach
  void stop() throws Exception {
    h.close();
  }

  /** Both keys answer 429 for gemini-2.5-flash: the model cools on the whole pool. */
  private void coolFlashOnEveryKey() throws Exception {
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    HttpResponse<String> cooled = h.generate();
    assertThat(cooled.statusCode()).isEqualTo(429);
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);
    h.upstream.takeRequest(5, TimeUnit.SECONDS);
    h.upstream.takeRequest(5, TimeUnit.SECONDS);
  }

  @Test
  void openAiOnV1GetsThePoolKeyAsBearer() throws Exception {
    h.enqueue(200, Fixtures.geminiResponse("openai-chat-completion.json"));

    HttpResponse<String> response = h.post("/v1/openai/chat/completions", CHAT,
        "Authorization", "Bearer " + Harness.TOKEN);

    assertThat(response.statusCode()).isEqualTo(200);
    RecordedRequest r = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(r.getTarget()).isEqualTo("/v1/openai/chat/completions");
    assertThat(r.getHeaders().get("Authorization"))
        .isIn("Bearer " + Harness.KEY_1, "Bearer " + Harness.KEY_2);
    assertThat(r.getHeaders().get("x-goog-api-key")).isNull();
    assertThat(h.get("/metrics").body()).containsPattern(
        "gemini_proxy_requests_seconds_count\\{[^}]*route=\"openai\"[^}]*status=\"200\"");
  }

  @Test
  void openAiOnV1HonoursTheCooldownOfTheModelInItsBody() throws Exception {
    coolFlashOnEveryKey();
    h.enqueue(200, Fixtures.geminiResponse("openai-chat-completion.json")); // if it were sent

    HttpResponse<String> chat = h.post("/v1/openai/chat/completions", CHAT,
        "Authorization", "Bearer " + Harness.TOKEN);

    assertThat(chat.statusCode()).isEqualTo(429);
    assertThat(h.upstream.getRequestCount()).as("answered by the pool, not sent").isEqualTo(2);
  }

  @Test
  void getModelIsScopedToThatModel() throws Exception {
    coolFlashOnEveryKey();
    h.enqueue(200, "{\"name\":\"models/gemini-2.5-pro\"}"); // if flash were sent

    HttpResponse<String> flash = h.get("/v1beta/models/gemini-2.5-flash",
        "x-goog-api-key", Harness.TOKEN);
    assertThat(flash.statusCode()).isEqualTo(429);
    HttpResponse<String> spelledOtherwise = h.get("/v1/models/models%2Fgemini-2.5-flash",
        "x-goog-api-key", Harness.TOKEN);
    assertThat(spelledOtherwise.statusCode()).as("%2F is refused before any key").isEqualTo(400);
    HttpResponse<String> upperCase = h.get("/v1/models/Gemini-2.5-FLASH",
        "x-goog-api-key", Harness.TOKEN);
    assertThat(upperCase.statusCode()).as("one canonical spelling").isEqualTo(429);
    assertThat(h.upstream.getRequestCount()).isEqualTo(2);

    HttpResponse<String> pro = h.get("/v1beta/models/gemini-2.5-pro",
        "x-goog-api-key", Harness.TOKEN);
    assertThat(pro.statusCode()).isEqualTo(200);
    assertThat(h.upstream.takeRequest(5, TimeUnit.SECONDS).getTarget())
        .isEqualTo("/v1beta/models/gemini-2.5-pro");
  }
}
