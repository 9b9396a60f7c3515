package dev.geminirotator.standalone.reliability;

import static dev.geminirotator.standalone.Harness.GENERATE;
import static dev.geminirotator.standalone.Harness.KEYS;
import static dev.geminirotator.standalone.Harness.json;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.api.CircuitGuard.State;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.guard.BreakerTransition;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.standalone.Harness;
import dev.geminirotator.standalone.Harness.Yaml;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** Faults that hit the whole pool or part of it: 429 and 503 storms, invalid keys among good. */
@ExtendWith(SecretScan.class)
class RateLimitAndOverloadTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String MODEL = "gemini-2.5-flash";

  Harness f;

  @AfterEach
  void stop() {
    if (f != null) f.close();
  }

  static String rateLimited(String retryDelay) {
    return Fixtures.geminiError("429-per-minute").replace("\"37s\"", "\"" + retryDelay + "\"")
        .replace("Please retry in 37.82626638s.", "");
  }

  /** Each key's secret to its id, k1.. in order. */
  static String idOf(String secret) {
    return "k" + (KEYS.indexOf(secret) + 1);
  }

  /** The instant the first key of the pool becomes usable again for the model. */
  Instant earliestRecovery() {
    Instant earliest = null;
    for (KeySnapshot k : f.proxy.rotator().snapshot()) {
      Instant until = Instant.EPOCH;
      for (String scope : List.of(MODEL, "*")) {
        Instant t = k.cooldowns().get(scope);
        if (t != null && t.isAfter(until)) until = t;
      }
      if (earliest == null || until.isBefore(earliest)) earliest = until;
    }
    return earliest;
  }

  static long ceilSeconds(Duration d) {
    return Math.max(1, (d.toMillis() + 999) / 1000);
  }

  void assertRetryAfterIsEarliestRecovery(HttpResponse<String> response, Instant before,
      Instant after) {
    Instant earliest = earliestRecovery();
    long retryAfter = Long.parseLong(response.headers().firstValue("Retry-After")
        .orElseThrow(() -> new AssertionError("no Retry-After on " + response.statusCode()
            + " " + response.body())));
    assertThat(retryAfter).as("Retry-After vs the earliest cooldown end")
        .isBetween(ceilSeconds(Duration.between(after, earliest)),
            ceilSeconds(Duration.between(before, earliest)));
  }

  @Test
  void aRateLimitStormOnEveryKeyCoolsThePoolTellsClientsWhenAndEndsByItself() throws Exception {
    // An IP-level block: every key answers 429, each with its own retry delay; k1 recovers first.
    AtomicBoolean blocked = new AtomicBoolean(true);
    Map<String, String> delays = Map.of("k1", "2s", "k2", "5s", "k3", "5s");
    List<String> seenKeys = Collections.synchronizedList(new ArrayList<>());
    f = Harness.start(Yaml.keys(3));
    f.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String id = idOf(request.getHeaders().get("x-goog-api-key"));
        seenKeys.add(id);
        return blocked.get() ? json(429, rateLimited(delays.get(id)))
            : json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    });

    Instant before = Instant.now();
    HttpResponse<String> exhausted = f.generate();
    Instant after = Instant.now();
    SecretScan.record(exhausted.headers().map() + exhausted.body());
    assertThat(exhausted.statusCode()).isEqualTo(429);
    assertThat(seenKeys).containsExactlyInAnyOrder("k1", "k2", "k3");
    // The client that ran into the storm learns when to come back, like the ones after it.
    assertRetryAfterIsEarliestRecovery(exhausted, before, after);

    before = Instant.now();
    HttpResponse<String> noKey = f.generate();
    after = Instant.now();
    assertThat(noKey.statusCode()).isEqualTo(429);
    JsonNode problem = Harness.problem(noKey.body());
    assertThat(problem.get("type").asText()).endsWith("no-key-available");
    assertRetryAfterIsEarliestRecovery(noKey, before, after);
    assertThat(seenKeys).hasSize(3); // no upstream call while the whole pool cools

    // Rate limits never make a key INVALID, even when the whole pool is hit at once.
    assertThat(f.proxy.rotator().snapshot()).extracting(KeySnapshot::state)
        .containsOnly(KeyState.RATE_LIMITED);

    // Upstream recovers; no operator action: k1 serves as soon as its cooldown is over.
    blocked.set(false);
    Eventually.until("k1's cooldown is over", () -> f.proxy.rotator().snapshot("k1")
        .orElseThrow().availableFor(MODEL, Instant.now()));
    HttpResponse<String> resumed = f.generate();
    assertThat(resumed.statusCode()).isEqualTo(200);
    assertThat(seenKeys.get(seenKeys.size() - 1)).isEqualTo("k1");
    assertThat(f.proxy.rotator().snapshot()).extracting(KeySnapshot::state)
        .doesNotContain(KeyState.INVALID, KeyState.UNHEALTHY);
  }

  @Test
  void anOverloadStormOpensTheBreakerKeepsKeysHealthyAndClosesOnRecovery() throws Exception {
    AtomicBoolean overloaded = new AtomicBoolean(true);
    f = Harness.start(Yaml.keys(3).section("""
        breaker:
          minimum-calls: 4
          sliding-window-size: 4
          failure-rate-threshold: 50
          wait-in-open: 300ms
          permitted-calls-in-half-open: 1
        """));
    f.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return overloaded.get() ? json(503, Fixtures.geminiError("503-overloaded"))
            : json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    });
    ResilientCircuitGuard guard = (ResilientCircuitGuard) f.proxy.guard();
    List<BreakerTransition> transitions = Collections.synchronizedList(new ArrayList<>());
    guard.addListener(transitions::add);

    int statusOfOverloaded = 0;
    for (int i = 0; i < 5 && guard.state(MODEL) != State.OPEN; i++) {
      statusOfOverloaded = f.generate().statusCode();
      assertThat(statusOfOverloaded).isEqualTo(503);
    }
    assertThat(guard.state(MODEL)).isEqualTo(State.OPEN);
    int callsWhenOpen = f.upstream.getRequestCount();

    HttpResponse<String> fast = f.generate();
    assertThat(fast.statusCode()).isEqualTo(503);
    assertThat(Harness.problem(fast.body()).get("type").asText()).endsWith("circuit-open");
    assertThat(fast.headers().firstValue("Retry-After")).isPresent();
    assertThat(f.upstream.getRequestCount()).isEqualTo(callsWhenOpen);
    // "Overloaded" is Gemini's state, not the keys': they stay HEALTHY.
    assertThat(f.proxy.rotator().snapshot()).extracting(KeySnapshot::state)
        .containsOnly(KeyState.HEALTHY);

    overloaded.set(false);
    // Once wait-in-open (300 ms) has passed, the next call half-opens the breaker and is its
    // trial; until then each call is refused at once, without reaching the upstream.
    AtomicReference<HttpResponse<String>> past = new AtomicReference<>();
    Eventually.untilAsserted("a call let through after wait-in-open", () -> {
      HttpResponse<String> r = f.generate();
      assertThat(Harness.problem(r.body()).path("type").asText())
          .as("refused by the open breaker: %s", r.body()).doesNotEndWith("circuit-open");
      past.set(r);
    });
    HttpResponse<String> trial = past.get();
    assertThat(trial.statusCode()).isEqualTo(200);
    assertThat(guard.state(MODEL)).isEqualTo(State.CLOSED);
    assertThat(transitions).extracting(t -> t.from() + "->" + t.to())
        .containsSubsequence("CLOSED->OPEN", "OPEN->HALF_OPEN", "HALF_OPEN->CLOSED");
    for (int i = 0; i < 3; i++) assertThat(f.generate().statusCode()).isEqualTo(200);
    assertThat(f.proxy.rotator().snapshot()).extracting(KeySnapshot::state)
        .containsOnly(KeyState.HEALTHY);
  }

  @Test
  void invalidKeysAmongGoodOnesEndInvalidAndNoClientRequestFails() throws Exception {
    f = Harness.start(Yaml.keys(5));
    Map<String, Integer> callsByKey = new ConcurrentHashMap<>();
    f.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        String id = idOf(request.getHeaders().get("x-goog-api-key"));
        callsByKey.merge(id, 1, Integer::sum);
        return id.equals("k2") || id.equals("k4")
            ? json(400, Fixtures.geminiError("400-api-key-invalid"))
            : json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    });

    int concurrency = 8;
    ExecutorService pool = Executors.newFixedThreadPool(concurrency);
    try {
      List<Future<Integer>> results = new ArrayList<>();
      for (int i = 0; i < 80; i++) results.add(pool.submit(() -> f.generate().statusCode()));
      for (Future<Integer> r : results) assertThat(r.get()).isEqualTo(200);
    } finally {
      pool.shutdownNow();
    }
    // Requests already in flight may have drawn an invalid key before its first 400 came back.
    assertThat(callsByKey.get("k2")).isBetween(1, concurrency);
    assertThat(callsByKey.get("k4")).isBetween(1, concurrency);
    Map<String, Integer> afterLoad = Map.copyOf(callsByKey);
    Map<String, KeyState> states = new java.util.TreeMap<>();
    f.proxy.rotator().snapshot().forEach(k -> states.put(k.id(), k.state()));
    assertThat(states).containsEntry("k2", KeyState.INVALID).containsEntry("k4", KeyState.INVALID)
        .containsEntry("k1", KeyState.HEALTHY).containsEntry("k3", KeyState.HEALTHY)
        .containsEntry("k5", KeyState.HEALTHY);
    // Once INVALID, a key is never sent again.
    for (int i = 0; i < 20; i++) assertThat(f.generate().statusCode()).isEqualTo(200);
    assertThat(callsByKey.get("k2")).isEqualTo(afterLoad.get("k2"));
    assertThat(callsByKey.get("k4")).isEqualTo(afterLoad.get("k4"));
    SecretScan.record(f.admin("GET", "/admin/keys").body());
  }
}
