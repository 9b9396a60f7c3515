package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.FAST;
import static dev.geminirotator.okhttp.Pools.client;
import static dev.geminirotator.okhttp.Pools.generate;
import static dev.geminirotator.okhttp.Pools.json;
import static dev.geminirotator.okhttp.Pools.keyOf;
import static dev.geminirotator.okhttp.Pools.take;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The interceptor reads the model and the route with core's request parser, as the proxy does:
 * the two transports had drifted ({@code GET models/{m}} was scoped to any model here and to the
 * model in the proxy; {@code /v1/openai} was recognised here and not there).
 */
class ModelScopeTest {

  private final FakeClock clock = FakeClock.standard();
  private MockWebServer server;
  private GeminiKeyRotator rotator;
  private OkHttpClient client;

  @BeforeEach
  void start() throws IOException {
    server = new MockWebServer();
    server.start();
    rotator = Pools.rotator(clock, 1);
    client = client(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock).policy(FAST)
        .build());
  }

  @AfterEach
  void stop() {
    server.close();
    rotator.close();
  }

  @Test
  void getModelIsScopedToThatModel() throws Exception {
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute"))); // k1 cools for flash
    client.newCall(generate(server)).execute().close();
    take(server);
    server.enqueue(json(200, "{\"name\":\"models/gemini-2.5-flash\"}")); // if it were sent

    for (String path : new String[] {"/v1beta/models/gemini-2.5-flash",
        "/v1/models/Gemini-2.5-FLASH"}) {
      try (Response flash = client.newCall(new Request.Builder().url(server.url(path)).build())
          .execute()) {
        assertThat(flash.code()).as(path).isEqualTo(429);
        assertThat(flash.header(LocalErrors.SOURCE_HEADER)).as(path)
            .isEqualTo("no-key-available");
      }
    }
    assertThat(server.getRequestCount()).as("answered by the pool, not sent").isEqualTo(1);

    try (Response pro = client.newCall(new Request.Builder()
        .url(server.url("/v1beta/models/gemini-2.5-pro")).build()).execute()) {
      assertThat(pro.code()).isEqualTo(200);
    }
    assertThat(take(server).getTarget()).isEqualTo("/v1beta/models/gemini-2.5-pro");
  }

  @Test
  void openAiOnV1GetsThePoolKeyAsBearer() throws Exception {
    server.enqueue(json(200, Fixtures.geminiResponse("openai-chat-completion.json")));
    Request chat = new Request.Builder().url(server.url("/v1/openai/chat/completions"))
        .post(RequestBody.create("{\"model\":\"gemini-2.5-flash\",\"messages\":[]}",
            Pools.JSON))
        .build();

    try (Response response = client.newCall(chat).execute()) {
      assertThat(response.code()).isEqualTo(200);
    }
    RecordedRequest r = take(server);
    assertThat(r.getHeaders().get("Authorization")).isEqualTo("Bearer " + Pools.secret(1));
    assertThat(keyOf(r)).isEqualTo("none");
  }
}
