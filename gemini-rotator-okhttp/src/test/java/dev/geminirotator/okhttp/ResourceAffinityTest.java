package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.FAST;
import static dev.geminirotator.okhttp.Pools.generate;
import static dev.geminirotator.okhttp.Pools.json;
import static dev.geminirotator.okhttp.Pools.keyOf;
import static dev.geminirotator.okhttp.Pools.secret;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.core.internal.affinity.Affinity;
import dev.geminirotator.core.internal.affinity.Placement;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import dev.geminirotator.core.rotation.CooldownPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttpClient;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Resource affinity through the interceptor, over real sockets: a pinned request goes only to its
 * project's keys, discovery asks one key per project and blames none for a wrong project's
 * 403/404, and a pinned project without a usable key is named in the answer.
 */
class ResourceAffinityTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ResourceRef FILE = new ResourceRef(ResourceKind.FILE, "files/abc");
  private static final String NOT_FOUND = "{\"error\":{\"code\":404,\"message\":\"File abc not"
      + " found.\",\"status\":\"NOT_FOUND\"}}";

  private final FakeClock clock = FakeClock.standard();
  private final List<Outcome.Kind> guardHeard = new CopyOnWriteArrayList<>();
  private MockWebServer server;
  private GeminiKeyRotator rotator;

  @BeforeEach
  void startServer() throws IOException {
    server = new MockWebServer();
    server.start();
  }

  @AfterEach
  void stop() {
    server.close();
    if (rotator != null) rotator.close();
  }

  /** A placement double: always the same answer; records what it was told. */
  static final class FixedAffinity implements Affinity {
    final Placement placement;
    final boolean reads;
    final List<String> servedBy = new CopyOnWriteArrayList<>();
    final List<String> servedBodies = new CopyOnWriteArrayList<>();
    final List<ResourceRef> notFound = new CopyOnWriteArrayList<>();

    FixedAffinity(Placement placement, boolean reads) {
      this.placement = placement;
      this.reads = reads;
    }

    @Override
    public boolean mayBlock(GeminiRequest request) {
      return false;
    }

    @Override
    public Placement place(GeminiRequest request) {
      return placement;
    }

    @Override
    public boolean readsAnswer(GeminiRequest request) {
      return reads;
    }

    @Override
    public void served(GeminiRequest request, ApiKey key, int status,
        Function<String, String> headers, byte[] body) {
      servedBy.add(key.id());
      servedBodies.add(body == null ? "" : new String(body, StandardCharsets.UTF_8));
    }

    @Override
    public void notFound(GeminiRequest request, ResourceRef resource) {
      notFound.add(resource);
    }
  }

  /** {@code projects} projects of two keys each: k1, k2 in p0; k3, k4 in p1; ... */
  private OkHttpClient client(int projects, Affinity affinity, AttemptPolicy policy) {
    List<ApiKey> keys = new ArrayList<>();
    for (int i = 1; i <= projects * 2; i++) {
      keys.add(ApiKey.builder(secret(i)).id("k" + i).project(project("k" + i)).build());
    }
    rotator = GeminiKeyRotator.builder().keys(keys).clock(clock)
        .cooldowns(CooldownPolicy.builder().jitter(0).build()).build();
    CircuitGuard guard = new CircuitGuard() {
      @Override
      public void acquirePermission(String model) {
      }

      @Override
      public void onOutcome(String model, Outcome outcome, Duration elapsed) {
        guardHeard.add(outcome.kind());
      }

      @Override
      public State state(String model) {
        return State.CLOSED;
      }
    };
    return Pools.client(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock).policy(policy)
        .guard(guard).customAffinity(affinity).build());
  }

  private static String project(String keyId) {
    return "p" + (Integer.parseInt(keyId.substring(1)) - 1) / 2;
  }

  /** Answers by the project of the key a request carries. */
  private void answerBy(Function<String, MockResponse> byProject) {
    server.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        return byProject.apply(project(keyOf(request)));
      }
    });
  }

  private List<String> keysSent() throws InterruptedException {
    List<String> keys = new ArrayList<>();
    for (int i = server.getRequestCount(); i > 0; i--) keys.add(keyOf(Pools.take(server)));
    return keys;
  }

  private void assertNoKeyBlamed() {
    for (KeySnapshot k : rotator.snapshot()) {
      assertThat(k.state()).as("state of %s", k.id()).isEqualTo(KeyState.HEALTHY);
      assertThat(k.failures()).as("failures of %s", k.id()).isZero();
      assertThat(k.inFlight()).as("in flight on %s", k.id()).isZero();
    }
    assertThat(guardHeard).doesNotContain(Outcome.Kind.UPSTREAM_ERROR,
        Outcome.Kind.TRANSPORT_ERROR);
  }

  @Test
  void aPinnedRequestGoesOnlyToTheKeysOfItsProject() throws Exception {
    OkHttpClient client = client(3, new FixedAffinity(new Placement.Pinned("p1", FILE), false),
        FAST);
    answerBy(p -> json(200, Fixtures.geminiResponse("generate-content.json")));

    for (int i = 0; i < 10; i++) {
      try (Response response = client.newCall(generate(server)).execute()) {
        assertThat(response.code()).isEqualTo(200);
        response.body().string();
      }
    }

    assertThat(keysSent()).hasSize(10).containsOnly("k3", "k4").contains("k3", "k4");
  }

  @Test
  void discoveryAsksOneKeyPerProjectOn403And404AndBlamesNone() throws Exception {
    FixedAffinity affinity = new FixedAffinity(new Placement.Discover(FILE), true);
    OkHttpClient client = client(3, affinity, FAST);
    answerBy(p -> switch (p) {
      case "p2" -> json(200, "{\"name\":\"files/abc\"}");
      // Gemini's 403 for another project's file, naming the file this request names (review H2:
      // only a 403/404 about the resource itself moves discovery on).
      case "p0" -> json(403, Fixtures.geminiError("403-file-permission").replace("abc123xyz",
          "abc"));
      default -> json(404, NOT_FOUND);
    });

    int requests = 6;
    for (int i = 0; i < requests; i++) {
      int before = server.getRequestCount();
      try (Response response = client.newCall(generate(server)).execute()) {
        assertThat(response.code()).isEqualTo(200);
        assertThat(response.body().string()).isEqualTo("{\"name\":\"files/abc\"}");
      }
      assertThat(server.getRequestCount() - before).as("calls of request %d", i).isBetween(1, 3);
    }

    List<String> sent = keysSent();
    // Some requests asked p0 (403) or p1 (404) first, and moved on to the next project.
    assertThat(sent.stream().map(ResourceAffinityTest::project))
        .contains("p0", "p1", "p2").hasSizeGreaterThan(requests);
    assertThat(affinity.servedBy).hasSize(requests)
        .allSatisfy(id -> assertThat(project(id)).isEqualTo("p2"));
    assertThat(affinity.servedBodies).containsOnly("{\"name\":\"files/abc\"}"); // teed
    assertThat(guardHeard).hasSize(requests).containsOnly(Outcome.Kind.SUCCESS);
    assertNoKeyBlamed();
  }

  @Test
  void discoveryStopsAtItsBoundAndPassesOnTheLast404() throws Exception {
    FixedAffinity affinity = new FixedAffinity(new Placement.Discover(FILE), false);
    OkHttpClient client = client(10, affinity, FAST.toBuilder().maxDiscoveryAttempts(4).build());
    answerBy(p -> json(404, NOT_FOUND));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(404);
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isNull(); // Gemini's own
      assertThat(response.body().string()).isEqualTo(NOT_FOUND);
    }

    List<String> sent = keysSent();
    assertThat(sent).hasSize(4);
    assertThat(sent.stream().map(ResourceAffinityTest::project)).doesNotHaveDuplicates();
    assertThat(affinity.notFound).isEmpty(); // six projects were never asked
    assertNoKeyBlamed();
  }

  @Test
  void whenNoProjectHoldsTheResourceTheAffinityHearsIt() throws Exception {
    FixedAffinity affinity = new FixedAffinity(new Placement.Discover(FILE), false);
    OkHttpClient client = client(2, affinity, FAST);
    answerBy(p -> json(404, NOT_FOUND));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(404);
    }

    assertThat(keysSent()).hasSize(2);
    assertThat(affinity.notFound).containsExactly(FILE);
    assertNoKeyBlamed();
  }

  @Test
  void aPinnedProjectWhoseKeysAreRateLimitedGetsA429NamingItWithItsOwnRetryAfter()
      throws Exception {
    OkHttpClient client = client(3, new FixedAffinity(new Placement.Pinned("p1", FILE), false),
        FAST);
    answerBy(p -> p.equals("p1") ? json(429, Fixtures.geminiError("429-per-minute"))
        : json(200, Fixtures.geminiResponse("generate-content.json")));
    try (Response first = client.newCall(generate(server)).execute()) {
      assertThat(first.code()).isEqualTo(429); // p1 now cools for the fixture's 37 s
    }
    clock.advance(Duration.ofSeconds(7));

    try (Response response = client.newCall(generate(server)).execute()) {
      assertThat(response.code()).isEqualTo(429);
      assertThat(response.header("Retry-After")).isEqualTo("30"); // p1's cooldown, not p0's
      assertThat(response.header(LocalErrors.SOURCE_HEADER)).isEqualTo("no-key-for-project");
      JsonNode error = JSON.readTree(response.body().string()).path("error");
      assertThat(error.path("status").asText()).isEqualTo("RESOURCE_EXHAUSTED");
      assertThat(error.path("message").asText())
          .startsWith("no usable key in project p1, which holds files/abc")
          .contains("frees at " + clock.instant().plusSeconds(30));
    }
    assertThat(keysSent()).singleElement().satisfies(id -> assertThat(project(id)).isEqualTo("p1"));
  }
}
