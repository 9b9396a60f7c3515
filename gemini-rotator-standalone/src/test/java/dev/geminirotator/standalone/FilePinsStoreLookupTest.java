package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.redis.RedisServer;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * A request naming many files the proxy has no pin for costs a bounded number of blocking store
 * reads: each miss is a Redis round trip on a blocking thread, so an unbounded count lets one
 * request (any prompt text mentioning "files/...") hold a thread for as long as its body is big.
 * Since issue 16 the pins are core's ResourceAffinity (at most one store read per request) and the
 * request model reads only the fields that name resources, not prompt text.
 */
class FilePinsStoreLookupTest {

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
  void aBodyNamingThousandsOfUnknownFilesReadsTheStoreABoundedNumberOfTimes() throws Exception {
    try (Harness proxy = new Harness(yamlFor(), Map.of())) {
      StringBuilder text = new StringBuilder();
      for (int i = 0; i < 3000; i++) text.append("files/unknown-").append(i).append(' ');
      String body = "{\"contents\":[{\"parts\":[{\"text\":\"" + text + "\"}]}]}";
      proxy.enqueue(200, "{\"candidates\":[]}");
      long before = redis.commandCalls();
      assertThat(proxy.post("/v1beta/models/gemini-2.5-flash:generateContent", body,
          "x-goog-api-key", Harness.TOKEN).statusCode()).isEqualTo(200);
      long calls = redis.commandCalls() - before;
      assertThat(proxy.upstream.takeRequest(5, TimeUnit.SECONDS)).isNotNull();
      // Background traffic (heartbeats, state writes) is a few dozen calls at most.
      assertThat(calls).as("Redis commands during one request").isLessThan(300);
    }
  }

  private static String yamlFor() {
    return Harness.defaultYaml() + "storage: \"" + redis.uri() + "\"\n";
  }
}
