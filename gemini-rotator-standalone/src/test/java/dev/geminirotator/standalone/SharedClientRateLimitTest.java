package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.testsupport.redis.RedisServer;
import dev.geminirotator.testsupport.Eventually;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.RedisClient;

/** Per-client limits with {@code storage: redis://...}: one global limit over several proxies. */
class SharedClientRateLimitTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PATH = "/v1beta/models/gemini-2.5-flash:generateContent";
  private static final int LIMIT = 100;

  private RedisServer redis;
  private final List<Harness> proxies = new ArrayList<>();

  @BeforeEach
  void startRedis() {
    redis = RedisServer.startOnFreePort();
  }

  @AfterEach
  void stop() throws Exception {
    for (Harness h : proxies) h.close();
    redis.close();
  }

  private Harness proxy(int limit) throws Exception {
    Harness h = new Harness("storage: \"" + redis.uri("/0?retry=50ms&timeout=500ms") + "\"\n"
        + "rate-limit:\n  requests-per-minute: " + limit + "\n");
    proxies.add(h);
    for (int i = 0; i < 6 * LIMIT; i++) h.enqueue(200, "{}");
    return h;
  }

  /** What two proxies answered to {@code total} requests of one client, sent to each in turn. */
  private record Run(int admitted, List<HttpResponse<String>> refused, boolean oneMinute,
      int upstreamCalls) {
  }

  private static Run run(Harness one, Harness two, String token, int total) throws Exception {
    int upstreamBefore = one.upstream.getRequestCount() + two.upstream.getRequestCount();
    Instant start = Instant.now();
    int admitted = 0;
    List<HttpResponse<String>> refused = new ArrayList<>();
    for (int i = 0; i < total; i++) {
      HttpResponse<String> answer = (i % 2 == 0 ? one : two).post(PATH, "{}", "x-goog-api-key",
          token);
      if (answer.statusCode() == 200) {
        admitted++;
      } else {
        assertThat(answer.statusCode()).as(answer.body()).isEqualTo(429);
        refused.add(answer);
      }
    }
    boolean oneMinute = start.truncatedTo(ChronoUnit.MINUTES)
        .equals(Instant.now().truncatedTo(ChronoUnit.MINUTES));
    return new Run(admitted, refused, oneMinute,
        one.upstream.getRequestCount() + two.upstream.getRequestCount() - upstreamBefore);
  }

  @Test
  void twoProxiesOnOneRedisHoldOneLimitPerClient() throws Exception {
    Harness one = proxy(LIMIT);
    Harness two = proxy(LIMIT);
    // 4x the limit: a request that finds its proxy's block spent while the next block is being
    // claimed is refused (see SharedQuotas), so on a loaded machine 2x could end short of it
    Run run = run(one, two, Harness.TOKEN, 4 * LIMIT);
    if (!run.oneMinute()) {
      // the run crossed a minute, so two windows counted: run again, as another client
      run = run(one, two, Harness.TOKEN_2, 4 * LIMIT);
    }
    assertThat(run.oneMinute()).isTrue();

    assertThat(run.admitted()).as("admitted by both proxies together")
        .isBetween((int) (LIMIT * 0.95), (int) (LIMIT * 1.05));
    assertThat(run.upstreamCalls()).isEqualTo(run.admitted());
    HttpResponse<String> limited = run.refused().get(0);
    assertThat(limited.headers().firstValue("Content-Type")).hasValueSatisfying(
        type -> assertThat(type).startsWith("application/json"));
    assertThat(Long.parseLong(limited.headers().firstValue("Retry-After").orElseThrow()))
        .isBetween(1L, 60L);
    JsonNode problem = Harness.problem(limited.body());
    assertThat(problem.get("type").asText()).endsWith("client-rate-limited");
    assertThat(problem.get("status").asInt()).isEqualTo(429);
    assertThat(problem.path("error").path("status").asText()).isEqualTo("RESOURCE_EXHAUSTED");
    // both proxies refused some: the limit is global, not per proxy
    assertThat(run.refused().stream().map(r -> r.uri().getPort()).distinct()).hasSize(2);

    try (RedisClient client = RedisClient.create(redis.uri())) {
      assertThat(client.keys("gemini_rotator:counter:client:*:1m:*")).isNotEmpty()
          .allSatisfy(key -> assertThat(client.pttl(key)).isBetween(1L, 61_000L));
    }
  }

  @Test
  void proxiesWithTheSameTokensInAnotherOrderCountAClientTogether() throws Exception {
    int limit = 4;
    Harness one = proxy(limit);
    String reversed = Harness.defaultYaml().replace(
        "tokens: [" + Harness.TOKEN + ", " + Harness.TOKEN_2 + "]",
        "tokens: [" + Harness.TOKEN_2 + ", " + Harness.TOKEN + "]");
    assertThat(reversed).isNotEqualTo(Harness.defaultYaml());
    Harness two = new Harness(reversed + "storage: \"" + redis.uri("/0?retry=50ms&timeout=500ms")
        + "\"\nrate-limit:\n  requests-per-minute: " + limit + "\n", Map.of());
    proxies.add(two);
    for (int i = 0; i < 4 * LIMIT; i++) two.enqueue(200, "{}");

    Run run = run(one, two, Harness.TOKEN, 3 * limit);
    if (!run.oneMinute()) run = run(one, two, Harness.TOKEN_2, 3 * limit);
    assertThat(run.oneMinute()).isTrue();
    // one limit for the client on both proxies (at most one request over it per other proxy,
    // on credit), not one limit per proxy
    assertThat(run.admitted()).isBetween(limit, limit + 1);

    try (RedisClient client = RedisClient.create(redis.uri())) {
      assertThat(client.keys("gemini_rotator:counter:client:*")).isNotEmpty()
          .allSatisfy(key -> assertThat(key)
              .matches("gemini_rotator:counter:client:token-[0-9a-f]{12}:1m:.*")
              .doesNotContain(Harness.TOKEN).doesNotContain(Harness.TOKEN_2)
              .doesNotContain(Harness.TOKEN.substring(0, 12))
              .doesNotContain(Harness.TOKEN_2.substring(0, 12)));
    }
  }

  @Test
  void whenRedisIsDownEachProxyLimitsItsClientsOnItsOwnAndNothingFails() throws Exception {
    Harness one = proxy(3);
    redis.kill();
    Eventually.until("the proxy's store notices Redis is gone",
        () -> !one.proxy.rotator().store().isAvailable());

    List<Integer> statuses = new ArrayList<>();
    HttpResponse<String> last = null;
    for (int i = 0; i < 5; i++) {
      last = one.post(PATH, "{}", "x-goog-api-key", Harness.TOKEN);
      statuses.add(last.statusCode());
    }
    assertThat(statuses).containsExactly(200, 200, 200, 429, 429);
    assertThat(last.headers().firstValue("Retry-After")).isPresent();
    assertThat(Harness.problem(last.body()).get("type").asText()).endsWith("client-rate-limited");
  }
}
