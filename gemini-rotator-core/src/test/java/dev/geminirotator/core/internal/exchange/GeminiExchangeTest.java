package dev.geminirotator.core.internal.exchange;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.affinity.Affinity;
import dev.geminirotator.core.internal.affinity.Placement;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.rotation.CooldownPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.net.ConnectException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

/**
 * The attempt loop itself, through a small in-test transport (the loop is the thing under test):
 * every decision, the breaker hearing each request once, the pool's and the pinned project's
 * answers, discovery and its bound, and what the affinity learns.
 */
class GeminiExchangeTest {

  private static final String MODEL = "gemini-2.5-flash";
  private static final GeminiRequest GENERATE = new GeminiRequest("POST", "v1beta",
      GeminiRequest.Route.MODEL_CALL, "generateContent", MODEL, List.of(), null, null);
  private static final ResourceRef FILE = new ResourceRef(ResourceKind.FILE, "files/abc");
  /** {@code GET files/abc}: a 403/404 to it is about the file itself (review H2). */
  private static final GeminiRequest GET_FILE = new GeminiRequest("GET", "v1beta",
      GeminiRequest.Route.RESOURCE, null, "*", List.of(FILE), null, null);
  private static final AttemptPolicy FAST = AttemptPolicy.builder()
      .backoffBase(Duration.ofMillis(1)).backoffMax(Duration.ofMillis(5)).build();

  private final FakeClock clock = FakeClock.standard();
  private final RecordingGuard guard = new RecordingGuard();
  private final ScheduledExecutorService scheduler = Executors.newSingleThreadScheduledExecutor();

  @AfterEach
  void stopScheduler() {
    scheduler.shutdownNow();
  }

  // ---------------------------------------------------------------------------------------------
  // Fixtures

  /** An upstream answer: status, headers, body. */
  record Answer(int status, Map<String, String> headers, String body) {
    static Answer of(int status, String body) {
      return new Answer(status, Map.of("Content-Type", "application/json"), body);
    }
  }

  /** What the transport handed the caller, and how. */
  record Handed(String how, Answer answer, long retryAfter, Attempt attempt) {
  }

  /** Grants every permission (unless told to refuse) and records what each was answered with. */
  static final class RecordingGuard implements CircuitGuard {
    final List<Outcome.Kind> reports = new CopyOnWriteArrayList<>();
    volatile CircuitOpenException refusal;

    @Override
    public void acquirePermission(String model) {
      if (refusal != null) throw refusal;
    }

    @Override
    public void onOutcome(String model, Outcome outcome, Duration elapsed) {
      reports.add(outcome.kind());
    }

    @Override
    public State state(String model) {
      return refusal != null ? State.OPEN : State.CLOSED;
    }

    /** What a breaker counts: successes and upstream or transport errors. */
    List<Outcome.Kind> recorded() {
      return reports.stream().filter(k -> k == Outcome.Kind.SUCCESS
          || k == Outcome.Kind.UPSTREAM_ERROR || k == Outcome.Kind.TRANSPORT_ERROR).toList();
    }
  }

  /** An affinity double: a fixed placement, and what it was told. */
  static final class RecordingAffinity implements Affinity {
    final Placement placement;
    final boolean blocks;
    final boolean reads;
    final List<String> servedBy = new CopyOnWriteArrayList<>();
    final List<byte[]> servedBodies = new CopyOnWriteArrayList<>();
    final List<String> servedHeaders = new CopyOnWriteArrayList<>();
    final List<ResourceRef> notFound = new CopyOnWriteArrayList<>();
    volatile Thread placedOn;

    RecordingAffinity(Placement placement, boolean blocks, boolean reads) {
      this.placement = placement;
      this.blocks = blocks;
      this.reads = reads;
    }

    @Override
    public boolean mayBlock(GeminiRequest request) {
      return blocks;
    }

    @Override
    public Placement place(GeminiRequest request) {
      placedOn = Thread.currentThread();
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
      servedHeaders.add(headers.apply("content-type"));
      servedBodies.add(body);
    }

    @Override
    public void notFound(GeminiRequest request, ResourceRef resource) {
      notFound.add(resource);
    }
  }

  /**
   * The in-test transport: answers each send from {@code upstream} (by key), records the keys
   * sent with and what it handed on. Sync and async.
   */
  static class FakeTransport extends Recording implements Transport.Blocking<Answer> {

    FakeTransport(Function<ApiKey, Object> upstream) {
      super(upstream);
    }

    @Override
    public Answer send(ApiKey key) throws IOException {
      sent.add(key.id());
      Object a = upstream.apply(key);
      if (a instanceof IOException e) throw e;
      return (Answer) a;
    }
  }

  /** What both fakes share: everything but the send. */
  abstract static class Recording implements Transport<Answer> {
    final Function<ApiKey, Object> upstream; // an Answer, or an IOException to throw
    final List<String> sent = new CopyOnWriteArrayList<>();
    final List<Handed> handed = new CopyOnWriteArrayList<>();
    final List<Answer> discarded = new CopyOnWriteArrayList<>();
    final List<LocalAnswer> locals = new CopyOnWriteArrayList<>();
    final List<Outcome.Kind> retried = new CopyOnWriteArrayList<>();
    volatile boolean cancelled;
    /** Whether each peek holds the whole body (false: a long error body, still streaming). */
    volatile boolean peekedWhole = true;

    Recording(Function<ApiKey, Object> upstream) {
      this.upstream = upstream;
    }

    @Override
    public int status(Answer response) {
      return response.status();
    }

    @Override
    public String header(Answer response, String name) {
      for (Map.Entry<String, String> e : response.headers().entrySet()) {
        if (e.getKey().equalsIgnoreCase(name)) return e.getValue();
      }
      return null;
    }

    @Override
    public String peek(Answer response) {
      return response.body();
    }

    @Override
    public Answer serve(Answer response, Attempt attempt) {
      handed.add(new Handed("served", response, -1, attempt));
      return response;
    }

    @Override
    public Answer pass(Answer response, Attempt attempt, long retryAfterSeconds) {
      handed.add(new Handed("passed", response, retryAfterSeconds, attempt));
      return response;
    }

    @Override
    public Answer keep(Answer response, Attempt attempt) {
      return response;
    }

    @Override
    public Answer passKept(Answer kept, long retryAfterSeconds) {
      handed.add(new Handed("kept", kept, retryAfterSeconds, null));
      return kept;
    }

    @Override
    public void discard(Answer response) {
      discarded.add(response);
    }

    @Override
    public Answer local(LocalAnswer answer) {
      locals.add(answer);
      return new Answer(answer.status(), Map.of(), answer.message());
    }

    @Override
    public boolean cancelled() {
      return cancelled;
    }

    @Override
    public boolean peekedWhole(Answer response) {
      return peekedWhole;
    }

    @Override
    public void retrying(Outcome outcome) {
      retried.add(outcome.kind());
    }
  }

  /** The async face of a fake transport: each send completes on another thread. */
  static final class AsyncFake extends Recording implements Transport.Async<Answer> {
    final ScheduledExecutorService io;

    AsyncFake(Function<ApiKey, Object> upstream, ScheduledExecutorService io) {
      super(upstream);
      this.io = io;
    }

    @Override
    public CompletionStage<Answer> send(ApiKey key) {
      sent.add(key.id());
      CompletableFuture<Answer> f = new CompletableFuture<>();
      Object a = upstream.apply(key);
      if (a == null) return f; // never answers
      io.execute(() -> {
        if (a instanceof IOException e) {
          f.completeExceptionally(e);
        } else {
          f.complete((Answer) a);
        }
      });
      return f;
    }
  }

  /** Six keys in three projects: a1, a2 in pa; b1, b2 in pb; c1, c2 in pc. */
  private GeminiKeyRotator rotator(int projects) {
    List<ApiKey> keys = new ArrayList<>();
    for (int p = 0; p < projects; p++) {
      String name = String.valueOf((char) ('a' + p));
      for (int i = 1; i <= 2; i++) {
        keys.add(ApiKey.builder("secret-" + name + i + "-0123456789").id(name + i)
            .project("p" + name).build());
      }
    }
    return GeminiKeyRotator.builder().keys(keys).clock(clock)
        .cooldowns(CooldownPolicy.builder().jitter(0).build()).build();
  }

  private GeminiExchange exchange(GeminiKeyRotator rotator, Affinity affinity,
      AttemptPolicy policy) {
    return GeminiExchange.builder().rotator(rotator).guard(guard).policy(policy)
        .affinity(affinity).clock(clock).build();
  }

  private static Object ok() {
    return Answer.of(200, "{\"candidates\":[]}");
  }

  private static Answer error(int status, String fixture) {
    return Answer.of(status, Fixtures.geminiError(fixture));
  }

  private static void assertAllHealthy(GeminiKeyRotator rotator) {
    for (KeySnapshot k : rotator.snapshot()) {
      assertThat(k.state()).as("state of %s", k.id()).isEqualTo(KeyState.HEALTHY);
      assertThat(k.failures()).as("failures of %s", k.id()).isZero();
      assertThat(k.inFlight()).as("in flight on %s", k.id()).isZero();
    }
  }

  private static String project(String keyId) {
    return "p" + keyId.charAt(0);
  }

  private static GeminiRequest generate(String model) {
    return new GeminiRequest("POST", "v1beta", GeminiRequest.Route.MODEL_CALL,
        "generateContent", model, List.of(), null, null);
  }

  @Test
  void callsForOneModelShareTheirFirstContextAndAClientMintingModelsFillsOnlyABoundedSet() {
    GeminiKeyRotator rotator = rotator(1);
    GeminiExchange exchange = exchange(rotator, Affinity.NONE, FAST);

    RequestContext first = exchange.firstContext(GENERATE);

    assertThat(exchange.firstContext(generate(new String(MODEL)))).isSameAs(first);
    assertThat(first.model()).isEqualTo(MODEL);
    assertThat(first.triedKeyIds()).isEmpty();
    assertThat(first.constrained()).isFalse();
    for (int i = 0; i < GeminiExchange.MAX_SHARED_CONTEXTS + 10; i++) {
      assertThat(exchange.firstContext(generate("m" + i)).model()).isEqualTo("m" + i);
    }
    String late = "m" + (GeminiExchange.MAX_SHARED_CONTEXTS + 5);
    assertThat(exchange.firstContext(generate(late)))
        .as("a model past the bound gets a context of its own each time")
        .isNotSameAs(exchange.firstContext(generate(late)));
    assertThat(exchange.firstContext(GENERATE)).isSameAs(first);
  }

  // ---------------------------------------------------------------------------------------------

  @Nested
  class Decisions {

    @Test
    void aSuccessIsServedAndItsLeaseCompletesWhenTheBodyEnds() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      FakeTransport t = new FakeTransport(k -> ok());

      Answer got = exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, true, t);

      assertThat(got.status()).isEqualTo(200);
      assertThat(t.handed).extracting(Handed::how).containsExactly("served");
      assertThat(guard.recorded()).containsExactly(Outcome.Kind.SUCCESS); // at the headers
      Attempt attempt = t.handed.get(0).attempt();
      assertThat(attempt.done()).isFalse(); // the body still streams
      assertThat(rotator.snapshot(attempt.key().id()).orElseThrow().inFlight()).isEqualTo(1);

      attempt.succeeded();
      attempt.succeeded(); // once only

      assertThat(attempt.done()).isTrue();
      assertThat(rotator.stats().outcomes()).containsEntry(Outcome.Kind.SUCCESS, 1L);
      assertThat(guard.reports).containsExactly(Outcome.Kind.SUCCESS);
      assertAllHealthy(rotator);
    }

    @Test
    void aRateLimitedKeyIsRetriedAtOnceOnAnotherKeyWithoutSpendingTheBudget() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      AttemptPolicy one = FAST.toBuilder().maxAttempts(1).build();
      FakeTransport t = new FakeTransport(
          k -> k.project().equals("pa") ? error(429, "429-per-minute") : ok());

      Answer got = exchange(rotator, Affinity.NONE, one).execute(GENERATE, true, t);

      assertThat(got.status()).isEqualTo(200);
      assertThat(t.sent.size()).isBetween(2, 3);
      assertThat(t.sent.subList(0, t.sent.size() - 1)).allMatch(id -> id.startsWith("a"));
      assertThat(guard.recorded()).containsExactly(Outcome.Kind.SUCCESS);
    }

    @Test
    void upstreamErrorsAreRetriedAfterABackoffUntilTheBudgetAndTheLastOneIsPassedOn()
        throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      AttemptPolicy two = FAST.toBuilder().maxAttempts(2).build();
      FakeTransport t = new FakeTransport(k -> error(503, "503-overloaded"));

      Answer got = exchange(rotator, Affinity.NONE, two).execute(GENERATE, true, t);

      assertThat(got.status()).isEqualTo(503);
      assertThat(t.sent).hasSize(2).doesNotHaveDuplicates();
      assertThat(t.handed).extracting(Handed::how).containsExactly("passed");
      assertThat(t.handed.get(0).retryAfter()).isPositive(); // the pool's Retry-After
      assertThat(guard.recorded()).containsExactly(Outcome.Kind.UPSTREAM_ERROR); // once
    }

    @Test
    void theLastTransportFailureIsThrownWhenTheBudgetIsSpent() {
      GeminiKeyRotator rotator = rotator(3);
      AttemptPolicy two = FAST.toBuilder().maxAttempts(2).build();
      FakeTransport t = new FakeTransport(k -> new ConnectException("refused " + k.id()));

      assertThatThrownBy(() -> exchange(rotator, Affinity.NONE, two).execute(GENERATE, true, t))
          .isInstanceOf(ConnectException.class).hasMessage("refused " + t.sent.get(1));
      assertThat(t.sent).hasSize(2);
      assertThat(guard.recorded()).containsExactly(Outcome.Kind.TRANSPORT_ERROR);
    }

    @Test
    void aClientErrorIsPassedOnAtOnceAndBlamesNoKey() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      FakeTransport t = new FakeTransport(k -> error(400, "400-invalid-argument"));

      Answer got = exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, true, t);

      assertThat(got.status()).isEqualTo(400);
      assertThat(t.sent).hasSize(1);
      assertThat(t.handed.get(0).retryAfter()).isEqualTo(-1);
      assertThat(guard.recorded()).isEmpty();
      assertAllHealthy(rotator);
    }

    @Test
    void aBodyThatCannotBeReplayedGetsOneAttempt() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      FakeTransport t = new FakeTransport(k -> error(429, "429-per-minute"));

      Answer got = exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, false, t);

      assertThat(got.status()).isEqualTo(429);
      assertThat(t.sent).hasSize(1);
    }

    @Test
    void whenEveryKeyIsRateLimitedTheCallerGetsThePoolsAnswerNotOneKeys() throws IOException {
      GeminiKeyRotator rotator = rotator(2);
      FakeTransport t = new FakeTransport(k -> error(429, "429-per-minute"));

      Answer got = exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, true, t);

      assertThat(t.sent).hasSize(2);
      assertThat(got.status()).isEqualTo(429);
      assertThat(t.locals).singleElement().satisfies(a -> {
        assertThat(a.kind()).isEqualTo(LocalAnswer.Kind.NO_KEY);
        assertThat(a.reason()).isEqualTo("no-key-available");
        assertThat(a.statusName()).isEqualTo("RESOURCE_EXHAUSTED");
        assertThat(a.retryAfterSeconds()).isPositive();
      });
      assertThat(t.discarded).hasSize(2); // both kept 429s: the pool answers instead
      assertThat(guard.recorded()).isEmpty();
    }

    @Test
    void anOpenBreakerIsAnsweredLocallyWithoutSending() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      guard.refusal = new CircuitOpenException(MODEL, clock.instant().plusSeconds(7));
      FakeTransport t = new FakeTransport(k -> ok());

      Answer got = exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, true, t);

      assertThat(got.status()).isEqualTo(503);
      assertThat(t.sent).isEmpty();
      assertThat(t.locals).singleElement().satisfies(a -> {
        assertThat(a.kind()).isEqualTo(LocalAnswer.Kind.CIRCUIT_OPEN);
        assertThat(a.retryAfterSeconds()).isEqualTo(7);
        assertThat(a.cause()).isSameAs(guard.refusal);
      });
      assertThat(rotator.stats().acquisitions()).isZero(); // no key's quota spent
    }

    @Test
    void aTransportThatFailsToHandTheAnswerOnReleasesTheLeaseBlamingNobody() {
      GeminiKeyRotator rotator = rotator(3);
      FakeTransport t = new FakeTransport(k -> ok()) {
        @Override
        public Answer serve(Answer response, Attempt attempt) {
          throw new IllegalStateException("a bug in the transport");
        }
      };

      assertThatThrownBy(() -> exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, true, t))
          .hasMessage("a bug in the transport");
      assertThat(rotator.stats().outcomes()).containsEntry(Outcome.Kind.CANCELLED, 1L);
      assertAllHealthy(rotator); // nothing left in flight
    }

    @Test
    void anAnswerTheTransportFailedToHandOnIsDiscarded() {
      // Review L2: the lease was released but the upstream answer (a pooled connection) leaked.
      GeminiKeyRotator rotator = rotator(3);
      Answer upstream = Answer.of(400, "{\"error\":{\"code\":400}}");
      FakeTransport t = new FakeTransport(k -> upstream) {
        @Override
        public Answer pass(Answer response, Attempt attempt, long retryAfterSeconds) {
          throw new IllegalStateException("a bug in the transport");
        }
      };

      assertThatThrownBy(() -> exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, true, t))
          .hasMessage("a bug in the transport");
      assertThat(t.discarded).containsExactly(upstream);
      assertAllHealthy(rotator);
    }

    @Test
    void aCancelledCallerEndsTheLoopWithoutBlamingTheKey() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      FakeTransport[] self = new FakeTransport[1];
      FakeTransport t = new FakeTransport(k -> {
        self[0].cancelled = true;
        return new IOException("Canceled");
      });
      self[0] = t;

      assertThatThrownBy(() -> exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, true, t))
          .hasMessage("Canceled");
      assertThat(t.sent).hasSize(1);
      assertThat(rotator.stats().outcomes()).containsEntry(Outcome.Kind.CANCELLED, 1L);
      assertThat(guard.recorded()).isEmpty();
      assertAllHealthy(rotator);
    }
  }

  @Nested
  class PinnedProjects {

    @Test
    void aPinnedRequestGoesOnlyToItsProjectsKeys() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Pinned("pb", FILE), false,
          false);
      FakeTransport t = new FakeTransport(k -> k.project().equals("pb")
          ? error(429, "429-per-minute") : ok());

      Answer got = exchange(rotator, affinity, FAST).execute(GENERATE, true, t);

      // A 429 cools the whole project (quotas are per project): no other key may serve.
      assertThat(t.sent).singleElement().satisfies(id -> assertThat(id).startsWith("b"));
      assertThat(got.status()).isEqualTo(429); // never another project's key
      assertThat(t.locals).singleElement().satisfies(a -> {
        assertThat(a.kind()).isEqualTo(LocalAnswer.Kind.NO_KEY_FOR_PROJECT);
        assertThat(a.message()).contains("pb", "files/abc");
      });
    }

    @Test
    void aPinnedProjectWithEveryKeyRateLimitedIsNamedWithItsOwnCooldown() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      KeyLease lease = rotator.acquire(RequestContext.forModel(MODEL).onlyKey("b1"));
      lease.complete(Outcome.rateLimited(Duration.ofSeconds(40), QuotaScope.PER_MINUTE));
      assertThat(rotator.snapshot("b2").orElseThrow().cooldowns()).isNotEmpty(); // pb cools
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Pinned("pb", FILE), false,
          false);
      FakeTransport t = new FakeTransport(k -> ok());

      Answer got = exchange(rotator, affinity, FAST).execute(GENERATE, true, t);

      assertThat(t.sent).isEmpty();
      assertThat(got.status()).isEqualTo(429);
      LocalAnswer a = t.locals.get(0);
      assertThat(a.message()).startsWith("no usable key in project pb, which holds files/abc")
          .contains("frees at " + clock.instant().plusSeconds(40));
      assertThat(a.retryAfterSeconds()).isEqualTo(40); // pb's cooldown, though pa and pc are free
    }

    @Test
    void aGemini429PassedOnUnderAPinCarriesThePinnedProjectsRetryAfterNotThePools()
        throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Pinned("pb", FILE), false,
          false);
      FakeTransport t = new FakeTransport(k -> error(429, "429-per-minute")); // retryDelay 37s

      Answer got = exchange(rotator, affinity, FAST).execute(GENERATE, false, t); // one attempt

      assertThat(got.status()).isEqualTo(429);
      assertThat(t.handed).singleElement().satisfies(h -> {
        assertThat(h.how()).isEqualTo("passed");
        assertThat(h.retryAfter()).as("pb cools 37 s; pa and pc could serve now, but may not")
            .isEqualTo(37);
      });
    }

    @Test
    void aGemini429PassedOnUnderAPinnedKeyCarriesThatKeysRetryAfter() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(
          new Placement.PinnedKey("c2", new ResourceRef(ResourceKind.UPLOAD, "AHxI-up")), false,
          false);
      FakeTransport t = new FakeTransport(k -> error(429, "429-per-minute"));

      exchange(rotator, affinity, FAST).execute(GENERATE, false, t);

      assertThat(t.sent).containsExactly("c2");
      assertThat(t.handed).singleElement()
          .satisfies(h -> assertThat(h.retryAfter()).isEqualTo(37));
    }

    @Test
    void withoutAPinAPassedOn429CarriesThePoolsRetryAfter() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      FakeTransport t = new FakeTransport(k -> error(429, "429-per-minute"));

      exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, false, t);

      assertThat(t.handed).singleElement()
          .satisfies(h -> assertThat(h.retryAfter()).as("two projects serve now").isEqualTo(1));
    }

    @Test
    void aPinnedProjectWhoseKeysAreAllDisabledSaysOnlyAnOperatorCanHelp() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      rotator.disable("b1");
      rotator.disable("b2");
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Pinned("pb", FILE), false,
          false);
      FakeTransport t = new FakeTransport(k -> ok());

      Answer got = exchange(rotator, affinity, FAST).execute(GENERATE, true, t);

      assertThat(got.status()).isEqualTo(503);
      assertThat(t.locals.get(0).message()).contains("pb", "only an operator can help");
      assertThat(t.locals.get(0).retryAfterSeconds()).isEqualTo(-1);
    }

    @Test
    void underAPinA404IsTheClientsAnswer() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Pinned("pb", FILE), false,
          false);
      FakeTransport t = new FakeTransport(k -> Answer.of(404, "{\"error\":{\"code\":404}}"));

      Answer got = exchange(rotator, affinity, FAST).execute(GENERATE, true, t);

      assertThat(got.status()).isEqualTo(404);
      assertThat(t.sent).hasSize(1);
      assertThat(affinity.notFound).isEmpty();
    }

    @Test
    void anUnreachableResourceIsAnsweredWithoutAnAttempt() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      FakeTransport t = new FakeTransport(k -> ok());

      exchange(rotator, new RecordingAffinity(new Placement.Unreachable(FILE,
          clock.instant().plusSeconds(30)), false, false), FAST).execute(GENERATE, true, t);

      assertThat(t.sent).isEmpty();
      assertThat(t.locals).extracting(LocalAnswer::status).containsExactly(404);
      assertThat(t.locals.get(0).retryAfterSeconds()).isEqualTo(30);
      assertThat(t.locals.get(0).message()).contains("files/abc", "not found in any project");
      assertThat(t.locals).extracting(LocalAnswer::reason).containsOnly("resource-unreachable");
    }

    @Test
    void aPinnedProjectWithNoKeyInThePoolSaysOnlyAnOperatorCanHelp() throws IOException {
      // What Unreachable(project) once stood for: the rotator has no key of that project.
      GeminiKeyRotator rotator = rotator(3);
      FakeTransport t = new FakeTransport(k -> ok());

      exchange(rotator, new RecordingAffinity(new Placement.Pinned("pz", FILE), false, false),
          FAST).execute(GENERATE, true, t);

      assertThat(t.sent).isEmpty();
      assertThat(t.locals).singleElement().satisfies(a -> {
        assertThat(a.status()).isEqualTo(503);
        assertThat(a.message()).contains("files/abc", "pz", "only an operator");
      });
    }

  }

  @Nested
  class Discovery {

    @Test
    void wrongProjects403And404MoveOnWithoutBlamingAKeyAndTheOwnerIsLearnt() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Discover(FILE), false,
          false);
      List<String> projects = new ArrayList<>();
      FakeTransport t = new FakeTransport(k -> {
        projects.add(k.project());
        return switch (projects.size()) {
          case 1 -> Answer.of(404, "{\"error\":{\"code\":404,\"status\":\"NOT_FOUND\"}}");
          case 2 -> error(403, "403-file-permission");
          default -> ok();
        };
      });
      AttemptPolicy one = FAST.toBuilder().maxAttempts(1).build();

      Answer got = exchange(rotator, affinity, one).execute(GET_FILE, true, t);

      assertThat(got.status()).isEqualTo(200);
      assertThat(projects).hasSize(3).doesNotHaveDuplicates(); // one key per project
      t.handed.get(0).attempt().succeeded();
      assertThat(affinity.servedBy).containsExactly(t.sent.get(2));
      assertThat(guard.recorded()).containsExactly(Outcome.Kind.SUCCESS);
      assertThat(rotator.stats().outcomes()).containsEntry(Outcome.Kind.CANCELLED, 2L)
          .containsEntry(Outcome.Kind.CLIENT_ERROR, 0L).containsEntry(Outcome.Kind.KEY_REJECTED, 0L);
      assertAllHealthy(rotator);
    }

    @Test
    void whenNoProjectHoldsItTheAffinityHearsAndTheLast404IsPassedOn() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Discover(FILE), false,
          false);
      FakeTransport t = new FakeTransport(k -> Answer.of(404, "{\"from\":\"" + k.id() + "\"}"));

      Answer got = exchange(rotator, affinity, FAST).execute(GET_FILE, true, t);

      assertThat(t.sent).hasSize(3);
      assertThat(t.sent.stream().map(GeminiExchangeTest::project)).doesNotHaveDuplicates();
      assertThat(got.body()).contains(t.sent.get(2)); // the last 404, as Gemini gave it
      assertThat(t.handed).extracting(Handed::how).containsExactly("kept");
      assertThat(t.handed.get(0).retryAfter()).isEqualTo(-1);
      assertThat(affinity.notFound).containsExactly(FILE);
      assertThat(guard.recorded()).isEmpty();
      assertAllHealthy(rotator);
    }

    @Test
    void aKeptAnswerHandedOnIsTheCallersAndNeverDiscarded() throws IOException {
      // Review L3: passKept may wrap the kept answer, sharing its body; the loop must not close it.
      GeminiKeyRotator rotator = rotator(3);
      FakeTransport t = new FakeTransport(k -> Answer.of(404, "{\"error\":{\"message\":"
          + "\"File abc not found (" + k.id() + ")\"}}")) {
        @Override
        public Answer passKept(Answer kept, long retryAfterSeconds) {
          super.passKept(kept, retryAfterSeconds);
          return new Answer(kept.status(), Map.of("X-Wrapped", "1"), kept.body());
        }
      };

      Answer got = exchange(rotator, new RecordingAffinity(new Placement.Discover(FILE), false,
          false), FAST).execute(GET_FILE, true, t);

      assertThat(got.headers()).containsKey("X-Wrapped");
      Answer handedOn = t.handed.get(t.handed.size() - 1).answer();
      assertThat(t.discarded).hasSize(2).doesNotContain(handedOn); // the two replaced misses
    }

    @Test
    void discoveryStopsAtItsBoundOnALargePool() throws IOException {
      GeminiKeyRotator rotator = rotator(20);
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Discover(FILE), false,
          false);
      FakeTransport t = new FakeTransport(k -> Answer.of(404, "{}"));
      AttemptPolicy bounded = FAST.toBuilder().maxDiscoveryAttempts(3).build();

      Answer got = exchange(rotator, affinity, bounded).execute(GET_FILE, true, t);

      assertThat(got.status()).isEqualTo(404);
      assertThat(t.sent).hasSize(3);
      assertThat(affinity.notFound).isEmpty(); // not every project was asked
      assertAllHealthy(rotator);
    }

    @Test
    void theDefaultBoundIsEightCalls() throws IOException {
      GeminiKeyRotator rotator = rotator(20);
      FakeTransport t = new FakeTransport(k -> Answer.of(404, "{}"));

      exchange(rotator, new RecordingAffinity(new Placement.Discover(FILE), false, false), FAST)
          .execute(GET_FILE, true, t);

      assertThat(AttemptPolicy.DEFAULT_MAX_DISCOVERY_ATTEMPTS).isEqualTo(8);
      assertThat(t.sent).hasSize(8);
    }

    @Test
    void aKeyLevel403UnderDiscoveryStillBlamesTheKey() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      List<String> sent = new ArrayList<>();
      FakeTransport t = new FakeTransport(k -> {
        sent.add(k.id());
        return sent.size() == 1 ? Answer.of(403, "{\"error\":{\"code\":403,\"status\":"
            + "\"PERMISSION_DENIED\",\"message\":\"Requests to this API are blocked.\","
            + "\"details\":[{\"@type\":\"type.googleapis.com/google.rpc.ErrorInfo\","
            + "\"reason\":\"API_KEY_SERVICE_BLOCKED\",\"domain\":\"googleapis.com\"}]}}")
            : ok();
      });

      exchange(rotator, new RecordingAffinity(new Placement.Discover(FILE), false, false), FAST)
          .execute(GET_FILE, true, t);

      assertThat(rotator.snapshot(sent.get(0)).orElseThrow().state())
          .isNotEqualTo(KeyState.HEALTHY);
    }
  }

  @Nested
  class WhatTheAffinityLearns {

    @Test
    void aServedAnswerTeesAtMostTheFirstBytesAndItsHeaders() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(Placement.ANY, false, true);
      FakeTransport t = new FakeTransport(k -> ok());

      exchange(rotator, affinity, FAST).execute(GENERATE, true, t);
      Attempt attempt = t.handed.get(0).attempt();
      assertThat(attempt.teeing()).isTrue();
      byte[] chunk = new byte[40 * 1024];
      chunk[0] = 'x';
      attempt.tee(chunk, 0, chunk.length);
      attempt.tee(chunk, 0, chunk.length);
      assertThat(attempt.teeing()).isFalse();
      assertThat(affinity.servedBy).isEmpty(); // not before the body ends
      attempt.succeeded();

      assertThat(affinity.servedBy).containsExactly(attempt.key().id());
      assertThat(affinity.servedBodies.get(0)).hasSize(Affinity.MAX_ANSWER_BYTES);
      assertThat(affinity.servedBodies.get(0)[0]).isEqualTo((byte) 'x');
      assertThat(affinity.servedHeaders).containsExactly("application/json");
    }

    @Test
    void aBodyThatFailsTeachesNothing() throws IOException {
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(Placement.ANY, false, false);
      FakeTransport t = new FakeTransport(k -> ok());

      exchange(rotator, affinity, FAST).execute(GENERATE, true, t);
      Attempt attempt = t.handed.get(0).attempt();
      assertThat(attempt.teeing()).isFalse();
      attempt.failed(new IOException("reset"));

      assertThat(affinity.servedBy).isEmpty();
      assertThat(rotator.stats().outcomes()).containsEntry(Outcome.Kind.TRANSPORT_ERROR, 1L);
      assertThat(guard.recorded()).containsExactly(Outcome.Kind.SUCCESS); // settled at headers
    }
  }

  @Nested
  class PartlyReadAnswers {
    @Test
    void aPartlyReadUpstreamErrorIsPassedOnWholeWhenNoNextAttemptCanBeHad() throws IOException {
      GeminiKeyRotator rotator = rotator(1); // a1, a2
      FakeTransport t = new FakeTransport(k -> error(503, "503-overloaded"));
      t.peekedWhole = false;

      Answer got = exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, true, t);

      assertThat(got.status()).isEqualTo(503);
      assertThat(t.sent).containsExactlyInAnyOrder("a1", "a2");
      // The second 503 could not be replaced: it goes on as it streams, not as a kept copy.
      assertThat(t.handed).singleElement().satisfies(h -> assertThat(h.how()).isEqualTo("passed"));
      assertThat(t.retried).containsExactly(Outcome.Kind.UPSTREAM_ERROR);
      assertThat(rotator.snapshot()).allSatisfy(k -> assertThat(k.inFlight()).isZero());
    }

    @Test
    void aPartlyReadRateLimitWithNoKeyLeftGetsThePoolsAnswer() throws IOException {
      GeminiKeyRotator rotator = rotator(2); // a per-minute 429 cools the key's whole project
      FakeTransport t = new FakeTransport(k -> error(429, "429-per-minute"));
      t.peekedWhole = false;

      Answer got = exchange(rotator, Affinity.NONE, FAST).execute(GENERATE, true, t);

      assertThat(got.status()).isEqualTo(429);
      assertThat(t.sent).hasSize(2);
      assertThat(t.handed).isEmpty(); // no key's own 429 reaches the caller
      assertThat(t.locals).extracting(LocalAnswer::kind).containsExactly(LocalAnswer.Kind.NO_KEY);
      assertThat(rotator.snapshot()).allSatisfy(k -> assertThat(k.inFlight()).isZero());
    }

    @Test
    void theKeyReservedDuringABackoffIsReleasedWhenTheCallerCancels() throws Exception {
      GeminiKeyRotator rotator = rotator(3);
      AttemptPolicy slow = FAST.toBuilder().backoffBase(Duration.ofSeconds(30))
          .backoffMax(Duration.ofSeconds(30)).build();
      ScheduledExecutorService io = Executors.newSingleThreadScheduledExecutor();
      try {
        AsyncFake t = new AsyncFake(k -> error(503, "503-overloaded"), io);
        t.peekedWhole = false;

        CompletableFuture<Answer> f = exchange(rotator, Affinity.NONE, slow)
            .executeAsync(GENERATE, true, t, scheduler);
        Eventually.until("the next key is reserved during the backoff", () ->
            rotator.snapshot().stream().mapToInt(KeySnapshot::inFlight).sum() == 1
                && t.retried.size() == 1);
        f.cancel(true);

        assertThat(rotator.snapshot()).allSatisfy(k -> assertThat(k.inFlight()).isZero());
        assertThat(t.sent).hasSize(1);
      } finally {
        io.shutdownNow();
      }
    }
  }

  @Nested
  class Async {

    private final ScheduledExecutorService io = Executors.newSingleThreadScheduledExecutor();

    @AfterEach
    void stopIo() {
      io.shutdownNow();
    }

    @Test
    void anUpstreamErrorIsRetriedAfterAScheduledBackoff() throws Exception {
      GeminiKeyRotator rotator = rotator(3);
      List<String> sent = Collections.synchronizedList(new ArrayList<>());
      AsyncFake t = new AsyncFake(k -> {
        sent.add(k.id());
        return sent.size() == 1 ? error(503, "503-overloaded") : ok();
      }, io);

      Answer got = exchange(rotator, Affinity.NONE, FAST)
          .executeAsync(GENERATE, true, t, scheduler).get(30, TimeUnit.SECONDS);

      assertThat(got.status()).isEqualTo(200);
      assertThat(t.sent).hasSize(2).doesNotHaveDuplicates();
      assertThat(t.discarded).hasSize(1); // the kept 503, not needed
      assertThat(guard.recorded()).containsExactly(Outcome.Kind.SUCCESS);
    }

    @Test
    void theAsyncLoopAnswersLikeTheBlockingOne() throws Exception {
      GeminiKeyRotator rotator = rotator(2);
      AsyncFake t = new AsyncFake(k -> error(429, "429-per-minute"), io);

      Answer got = exchange(rotator, Affinity.NONE, FAST)
          .executeAsync(GENERATE, true, t, scheduler).get(30, TimeUnit.SECONDS);

      assertThat(got.status()).isEqualTo(429);
      assertThat(t.sent).hasSize(2);
      assertThat(t.locals).extracting(LocalAnswer::kind).containsExactly(LocalAnswer.Kind.NO_KEY);
    }

    @Test
    void aTransportFailureCompletesTheFutureExceptionally() {
      GeminiKeyRotator rotator = rotator(3);
      AttemptPolicy one = FAST.toBuilder().maxAttempts(1).build();
      AsyncFake t = new AsyncFake(k -> new ConnectException("refused"), io);

      CompletableFuture<Answer> f = exchange(rotator, Affinity.NONE, one)
          .executeAsync(GENERATE, true, t, scheduler);

      assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS))
          .isInstanceOf(ExecutionException.class).hasCauseInstanceOf(ConnectException.class);
      assertThat(guard.recorded()).containsExactly(Outcome.Kind.TRANSPORT_ERROR);
    }

    @Test
    void cancellingStopsTheLoopAndReleasesTheLeaseAsCancelled() {
      GeminiKeyRotator rotator = rotator(3);
      AsyncFake t = new AsyncFake(k -> null, io); // the upstream never answers

      CompletableFuture<Answer> f = exchange(rotator, Affinity.NONE, FAST)
          .executeAsync(GENERATE, true, t, scheduler);
      Eventually.until("the attempt is sent", () -> t.sent.size() == 1);
      assertThat(rotator.snapshot(t.sent.get(0)).orElseThrow().inFlight()).isEqualTo(1);
      f.cancel(true);

      assertThat(rotator.snapshot(t.sent.get(0)).orElseThrow().inFlight()).isZero();
      assertThat(rotator.stats().outcomes()).containsEntry(Outcome.Kind.CANCELLED, 1L);
      assertThat(guard.recorded()).isEmpty();
      assertThat(t.sent).hasSize(1);
      assertAllHealthy(rotator);
    }

    @Test
    void aSchedulerThatRefusesThePlacedStartFailsTheFuture() throws Exception {
      // Review L1: the rejection was swallowed on the placer's thread; the future never ended.
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Pinned("pc", FILE), true,
          false);
      ScheduledExecutorService dead = Executors.newSingleThreadScheduledExecutor();
      dead.shutdown();
      AsyncFake t = new AsyncFake(k -> ok(), io);

      CompletableFuture<Answer> f = exchange(rotator, affinity, FAST).executeAsync(GENERATE,
          true, t, dead);

      assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
          .hasCauseInstanceOf(java.util.concurrent.RejectedExecutionException.class);
      assertThat(t.sent).isEmpty();
    }

    @Test
    void aSchedulerThatRefusesTheNextAttemptFailsTheFutureAndFreesEverything() throws Exception {
      GeminiKeyRotator rotator = rotator(3);
      ScheduledExecutorService dead = Executors.newSingleThreadScheduledExecutor();
      dead.shutdown();
      Answer overloaded = error(503, "503-overloaded");
      AsyncFake t = new AsyncFake(k -> overloaded, io);

      CompletableFuture<Answer> f = exchange(rotator, Affinity.NONE, FAST).executeAsync(GENERATE,
          true, t, dead);

      assertThatThrownBy(() -> f.get(30, TimeUnit.SECONDS)).isInstanceOf(ExecutionException.class)
          .hasCauseInstanceOf(java.util.concurrent.RejectedExecutionException.class);
      assertThat(t.sent).hasSize(1);
      assertThat(t.discarded).containsExactly(overloaded); // the kept 503
      for (KeySnapshot k : rotator.snapshot()) {
        assertThat(k.inFlight()).as("in flight on %s", k.id()).isZero();
      }
    }

    @Test
    void aPlacementThatMayBlockRunsOffTheCallersThread() throws Exception {
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Pinned("pc", FILE), true,
          false);
      AsyncFake t = new AsyncFake(k -> ok(), io);

      Answer got = exchange(rotator, affinity, FAST).executeAsync(GENERATE, true, t, scheduler)
          .get(30, TimeUnit.SECONDS);

      assertThat(got.status()).isEqualTo(200);
      assertThat(affinity.placedOn).isNotNull().isNotSameAs(Thread.currentThread());
      assertThat(t.sent).singleElement().satisfies(id -> assertThat(id).startsWith("c"));
    }

    @Test
    void discoveryWalksTheProjectsAsynchronouslyToo() throws Exception {
      GeminiKeyRotator rotator = rotator(3);
      RecordingAffinity affinity = new RecordingAffinity(new Placement.Discover(FILE), false,
          false);
      AsyncFake t = new AsyncFake(k -> Answer.of(404, "{}"), io);

      Answer got = exchange(rotator, affinity, FAST).executeAsync(GET_FILE, true, t, scheduler)
          .get(30, TimeUnit.SECONDS);

      assertThat(got.status()).isEqualTo(404);
      assertThat(t.sent.stream().map(GeminiExchangeTest::project)).hasSize(3)
          .doesNotHaveDuplicates();
      assertThat(affinity.notFound).containsExactly(FILE);
      assertAllHealthy(rotator);
    }
  }
}
