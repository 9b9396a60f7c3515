package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.redis.RedisServer;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpResponse;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;

/** The proxy with {@code storage: redis://...}: a real redis-server, state shared through it. */
class RedisStorageTest {

  private static RedisServer redis;

  @BeforeAll
  static void startRedis() {
    redis = RedisServer.startOnFreePort();
  }

  @AfterAll
  static void stopRedis() {
    redis.close();
  }

  @Test
  void aRateLimitSeenByOneProxyIsInRedisAndKeepsASecondProxyOffTheKey() throws Exception {
    String storage = "storage: \"" + redis.uri() + "\"\n";
    try (Harness first = new Harness(storage); Harness second = new Harness(storage)) {
      first.enqueue(429, Fixtures.geminiError("429-per-minute"));
      first.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
      HttpResponse<String> answer = first.post("/v1beta/models/gemini-2.5-flash:generateContent",
          "{}", "x-goog-api-key", Harness.TOKEN);
      assertThat(answer.statusCode()).isEqualTo(200);
      String cooled = first.upstream.takeRequest().getHeaders().get("x-goog-api-key");

      try (RedisClient jedis = RedisClient.create(redis.uri())) {
        Set<String> keys = Eventually.value("the cooldown written to Redis",
            () -> jedis.keys("gemini_rotator:cooldown:*"), k -> !k.isEmpty());
        assertThat(keys).singleElement().asString().endsWith(":gemini-2.5-flash");
      }

      // The second proxy learned the cooldown through Redis: it never sends the cooled key.
      Eventually.untilAsserted("the second proxy lists the cooled key", () -> assertThat(
          second.admin("GET", "/admin/keys", null).body()).contains("RATE_LIMITED"));
      for (int i = 0; i < 4; i++) {
        second.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
        assertThat(second.post("/v1beta/models/gemini-2.5-flash:generateContent", "{}",
            "x-goog-api-key", Harness.TOKEN).statusCode()).isEqualTo(200);
        assertThat(second.upstream.takeRequest().getHeaders().get("x-goog-api-key"))
            .isNotEqualTo(cooled);
      }
      assertThat(second.get("/health/detailed").body()).contains("\"status\":\"UP\"")
          .contains("redis://");
    }
  }
}
