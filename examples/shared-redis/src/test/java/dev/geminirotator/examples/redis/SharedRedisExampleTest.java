package dev.geminirotator.examples.redis;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.redis.RedisServer;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.ReadmeSnippets;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The example over a real redis-server and a fake Gemini whose first answer is a 429: instance B
 * never saw that 429, yet its first request must skip the cooled key. Alone, B's round-robin
 * would start at k1.
 */
class SharedRedisExampleTest {

  private static final String KEY_1 = "AIzaSyEXAMPLE-shared-redis-key-one1";
  private static final String KEY_2 = "AIzaSyEXAMPLE-shared-redis-key-two2";

  private RedisServer redis;
  private MockWebServer gemini;

  @BeforeEach
  void start() throws Exception {
    redis = RedisServer.startOnFreePort();
    gemini = new MockWebServer();
    gemini.start();
  }

  @AfterEach
  void stop() {
    gemini.close();
    redis.close();
  }

  @Test
  void aCooldownMetByInstanceAKeepsInstanceBOffTheKey() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));

    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    SharedRedisExample.run(redis.uri("/0"), gemini.url("/").toString().replaceAll("/$", ""),
        List.of(KEY_1, KEY_2), new PrintStream(bytes, true, StandardCharsets.UTF_8));
    String output = bytes.toString(StandardCharsets.UTF_8);

    assertThat(keyOf()).as("A's first attempt").isEqualTo(KEY_1);
    assertThat(keyOf()).as("A's retry").isEqualTo(KEY_2);
    assertThat(keyOf()).as("B's only attempt").isEqualTo(KEY_2);
    assertThat(gemini.getRequestCount()).isEqualTo(3);

    assertThat(output).contains("instance A store: redis://127.0.0.1:" + redis.port());
    assertThat(output).contains("instance A: HTTP 200").contains("instance B: HTTP 200");
    assertThat(output).containsPattern("instance B shares A's view after \\d+ ms");
    assertThat(output).contains("A sees {k1=RATE_LIMITED, k2=HEALTHY}")
        .contains("B sees {k1=RATE_LIMITED, k2=HEALTHY}");
    assertThat(output).doesNotContain(KEY_1).doesNotContain(KEY_2);
  }

  private String keyOf() throws InterruptedException {
    return gemini.takeRequest(5, TimeUnit.SECONDS).getHeaders().get("x-goog-api-key");
  }

  @Test
  void readmeShowsTheExamplesSnippetExactly() {
    ReadmeSnippets.assertInReadme(
        Path.of("src/main/java/dev/geminirotator/examples/redis/SharedRedisExample.java"),
        "shared-redis");
  }

  private static MockResponse json(int code, String body) {
    return new MockResponse.Builder().code(code).body(body)
        .addHeader("Content-Type", "application/json").build();
  }
}
