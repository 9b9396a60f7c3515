package dev.geminirotator.core.internal.exchange;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.affinity.Placement;
import dev.geminirotator.core.internal.affinity.ResourceAffinity;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.internal.exchange.GeminiExchangeTest.Answer;
import dev.geminirotator.core.internal.exchange.GeminiExchangeTest.FakeTransport;
import dev.geminirotator.core.internal.exchange.GeminiExchangeTest.Handed;
import dev.geminirotator.core.rotation.CooldownPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * The attempt loop with a REAL {@link ResourceAffinity} (local tables, a fake clock) against an
 * in-test upstream that enforces project ownership as Gemini does (docs/gemini-resources.md §9):
 * a resource of another project, or none, is answered 403 naming it (files, stores) or 404
 * (batches, "Requested entity was not found."); an unknown model is 404 naming the model. Each
 * attack of the round-1 review is replayed here (H1, H2, M3, M4).
 */
class ExchangeWithResourceAffinityTest {

  private static final String MODEL = "gemini-2.5-flash";
  private static final String FILE_ID = "victimfile0123456789";
  private static final ResourceRef FILE = new ResourceRef(ResourceKind.FILE, "files/" + FILE_ID);
  private static final AttemptPolicy FAST = AttemptPolicy.builder()
      .backoffBase(Duration.ofMillis(1)).backoffMax(Duration.ofMillis(5)).build();

  private final FakeClock clock = FakeClock.standard();
  private final GeminiKeyRotator rotator = rotator();
  private final ResourceAffinity affinity = ResourceAffinity.builder().clock(clock).build();
  private final GeminiExchange exchange = GeminiExchange.builder().rotator(rotator)
      .policy(FAST).affinity(affinity).clock(clock).build();

  /** Who owns what upstream: resource name to project. */
  private final Map<String, String> owners = new HashMap<>();
  private int created;

  /** Six keys in three projects: a1, a2 in pa; b1, b2 in pb; c1, c2 in pc. */
  private GeminiKeyRotator rotator() {
    List<ApiKey> keys = new ArrayList<>();
    for (char p = 'a'; p <= 'c'; p++) {
      for (int i = 1; i <= 2; i++) {
        keys.add(ApiKey.builder("secret-" + p + i + "-0123456789").id("" + p + i)
            .project("p" + p).build());
      }
    }
    return GeminiKeyRotator.builder().keys(keys).clock(clock)
        .cooldowns(CooldownPolicy.builder().jitter(0).build()).build();
  }

  private static Answer error(int code, String status, String message) {
    return Answer.of(code, "{\"error\":{\"code\":" + code + ",\"message\":\"" + message
        + "\",\"status\":\"" + status + "\"}}");
  }

  private static Answer notVisible(ResourceRef r) {
    String id = r.name().substring(r.name().indexOf('/') + 1);
    return switch (r.kind()) {
      case FILE -> error(403, "PERMISSION_DENIED", "You do not have permission to access the"
          + " File " + id + " or it may not exist.");
      case FILE_SEARCH_STORE -> error(403, "PERMISSION_DENIED", "You do not have permission to"
          + " access the FileSearchStore " + id + " or it may not exist.");
      default -> error(404, "NOT_FOUND", "Requested entity was not found.");
    };
  }

  /** The upstream: enforces ownership of every resource the request names. */
  private Answer upstream(GeminiRequest q, ApiKey key) {
    if (q.route() == GeminiRequest.Route.MODEL_CALL && q.model().startsWith("no-such")) {
      return error(404, "NOT_FOUND", "models/" + q.model() + " is not found for API version"
          + " v1beta, or is not supported for generateContent.");
    }
    for (ResourceRef r : q.resources()) {
      if (!key.project().equals(owners.get(r.name()))) return notVisible(r);
    }
    if (q.creates() == ResourceKind.CACHED_CONTENT) {
      String name = "cachedContents/c" + (++created) + "-0123456789";
      owners.put(name, key.project());
      return Answer.of(200, "{\"name\":\"" + name + "\",\"expireTime\":\""
          + clock.instant().plusSeconds(3600) + "\"}");
    }
    if (q.deletes() != null) owners.remove(q.deletes().name());
    return Answer.of(200, "{}");
  }

  /** Runs one request to its end, reading a success's body as a client would. */
  private Sent run(GeminiRequest q) throws IOException {
    FakeTransport t = new FakeTransport(k -> upstream(q, k));
    Answer got = exchange.execute(q, true, t);
    for (Handed h : t.handed) {
      if (h.how().equals("served")) {
        byte[] body = h.answer().body().getBytes(StandardCharsets.UTF_8);
        if (h.attempt().teeing()) h.attempt().tee(body, 0, body.length);
        h.attempt().succeeded();
      }
    }
    return new Sent(got, t);
  }

  record Sent(Answer answer, FakeTransport transport) {
    List<String> projects() {
      return transport.sent.stream().map(id -> "p" + id.charAt(0)).toList();
    }
  }

  private static GeminiRequest parse(String method, String path, String body) {
    return GeminiRequests.parse(method, path, null,
        body == null ? null : body.getBytes(StandardCharsets.UTF_8));
  }

  private static GeminiRequest generateWithFile(String model, String fileId) {
    return parse("POST", "/v1beta/models/" + model + ":generateContent",
        "{\"contents\":[{\"parts\":[{\"fileData\":{\"fileUri\":\"files/" + fileId + "\"}}]}]}");
  }

  @Test
  void aCacheIsCreatedUsedOnlyInItsProjectDeletedAndThenRediscoveredAsGone() throws IOException {
    Sent create = run(parse("POST", "/v1beta/cachedContents",
        "{\"model\":\"models/" + MODEL + "\",\"ttl\":\"300s\"}"));
    assertThat(create.answer().status()).isEqualTo(200);
    String name = create.answer().body().substring(9, create.answer().body().indexOf("\",\""));
    String owner = owners.get(name);

    for (int i = 0; i < 12; i++) { // rotation would reach the other projects at once
      Sent use = run(parse("POST", "/v1beta/models/" + MODEL + ":generateContent",
          "{\"cachedContent\":\"" + name + "\"}"));
      assertThat(use.answer().status()).isEqualTo(200);
      assertThat(use.projects()).containsOnly(owner);
    }

    assertThat(run(parse("DELETE", "/v1beta/" + name, null)).answer().status()).isEqualTo(200);
    Sent gone = run(parse("GET", "/v1beta/" + name, null));
    assertThat(gone.answer().status()).isEqualTo(404); // the owner's own answer
    assertThat(gone.projects()).containsExactly(owner);

    clock.advance(ResourceAffinity.DEFAULT_NOT_FOUND_FOR);
    Sent rediscovered = run(parse("GET", "/v1beta/" + name, null));
    assertThat(rediscovered.projects()).hasSize(3).doesNotHaveDuplicates();
    assertThat(rediscovered.answer().status()).isEqualTo(404);
    Sent answeredLocally = run(parse("GET", "/v1beta/" + name, null));
    assertThat(answeredLocally.transport().sent).isEmpty();
    assertThat(answeredLocally.transport().locals).extracting(LocalAnswer::kind)
        .containsExactly(LocalAnswer.Kind.UNREACHABLE);
  }

  @Test
  void aStoreNamedInsideAFunctionResponseIsNeitherPinnedNorLooked() throws IOException {
    owners.put("fileSearchStores/victim-store", "pc");
    GeminiRequest attack = parse("POST", "/v1beta/models/" + MODEL + ":generateContent",
        "{\"contents\":[{\"parts\":[{\"functionResponse\":{\"name\":\"f\",\"response\":"
            + "{\"fileSearchStoreNames\":[\"fileSearchStores/victim-store\"]}}}]}]}");

    for (int i = 0; i < 6; i++) run(attack);

    assertThat(affinity.pinCount()).isZero();
    assertThat(affinity.place(parse("GET", "/v1beta/fileSearchStores/victim-store", null)))
        .isEqualTo(new Placement.Discover(new ResourceRef(ResourceKind.FILE_SEARCH_STORE,
            "fileSearchStores/victim-store")));
  }

  @Test
  void aResourceNamedBesideAPinnedOneIsNotPinnedToTheServingProject() throws IOException {
    Sent create = run(parse("POST", "/v1beta/cachedContents", "{\"model\":\"" + MODEL + "\"}"));
    String cache = create.answer().body().substring(9, create.answer().body().indexOf("\",\""));
    owners.put(FILE.name(), owners.get(cache)); // Gemini would answer 200 in that project only
    // A client names someone else's file next to its own cache... the answer pins nothing more.
    run(parse("POST", "/v1beta/models/" + MODEL + ":generateContent", "{\"cachedContent\":\""
        + cache + "\",\"contents\":[{\"parts\":[{\"fileData\":{\"fileUri\":\"" + FILE.name()
        + "\"}}]}]}"));

    assertThat(affinity.place(parse("GET", "/v1beta/" + FILE.name(), null)))
        .isEqualTo(new Placement.Discover(FILE));
  }

  @Test
  void anAsynchronousAcceptanceNeverPinsTheResourceItNames() throws IOException {
    // batchGenerateContent is accepted at once and checked later (review M3, H1b).
    GeminiExchange anyProjectAccepts = exchange;
    FakeTransport t = new FakeTransport(k -> Answer.of(200,
        "{\"name\":\"batches/b1\",\"metadata\":{}}"));
    GeminiRequest batch = parse("POST", "/v1beta/models/" + MODEL + ":batchGenerateContent",
        "{\"batch\":{\"inputConfig\":{\"fileName\":\"" + FILE.name() + "\"}}}");
    anyProjectAccepts.execute(batch, true, t);

    assertThat(affinity.place(generateWithFile(MODEL, FILE_ID)))
        .isEqualTo(new Placement.Discover(FILE));
  }

  @Test
  void aBogusModelNamingSomeoneElsesFileGetsItsOwn404AndHidesNothing() throws IOException {
    owners.put(FILE.name(), "pc");

    Sent attack = run(generateWithFile("no-such-model", FILE_ID));

    assertThat(attack.transport().sent).hasSize(1); // the client's answer at once
    assertThat(attack.answer().status()).isEqualTo(404);
    assertThat(attack.answer().body()).contains("no-such-model");
    assertThat(affinity.notFoundCount()).isZero();
    // Even a bogus model that echoes the file's id is about the model, not the file.
    Sent echo = run(generateWithFile("no-such-" + FILE_ID, FILE_ID));
    assertThat(echo.transport().sent).hasSize(1);
    assertThat(affinity.notFoundCount()).isZero();

    Sent owner = run(generateWithFile(MODEL, FILE_ID));
    assertThat(owner.answer().status()).isEqualTo(200);
    assertThat(owner.projects()).endsWith("pc");
    assertThat(affinity.place(generateWithFile(MODEL, FILE_ID)))
        .isEqualTo(new Placement.Pinned("pc", FILE));
  }

  @Test
  void aWrongPinHealsOnItsOwnPathsAnswer() throws IOException {
    owners.put(FILE.name(), "pc");
    GeminiRequest get = parse("GET", "/v1beta/" + FILE.name(), null);
    affinity.discovered(get, FILE, key("a1", "pa")); // a wrong pin, however it came

    Sent wrong = run(get);
    assertThat(wrong.projects()).containsOnly("pa");
    assertThat(wrong.answer().status()).isEqualTo(403); // passed on

    Sent healed = run(get);
    assertThat(healed.answer().status()).isEqualTo(200);
    assertThat(healed.projects()).endsWith("pc");
    assertThat(affinity.place(get)).isEqualTo(new Placement.Pinned("pc", FILE));
  }

  @Test
  void discoveryWhoseUnaskedProjectsOnlyCoolAnswersThePools429NotA404() throws IOException {
    owners.put(FILE.name(), "pc");
    KeyLease lease = rotator.acquire(RequestContext.forModel(MODEL).onlyKey("c1"));
    lease.complete(Outcome.rateLimited(Duration.ofSeconds(40), QuotaScope.PER_MINUTE));
    assertThat(rotator.snapshot("c2").orElseThrow().cooldowns()).isNotEmpty(); // pc cools

    Sent sent = run(generateWithFile(MODEL, FILE_ID));

    assertThat(sent.projects()).containsExactlyInAnyOrder("pa", "pb");
    assertThat(sent.answer().status()).isEqualTo(429);
    assertThat(sent.transport().locals.get(0).retryAfterSeconds()).isEqualTo(40);
    assertThat(affinity.notFoundCount()).isZero();
    assertThat(sent.transport().discarded).hasSize(2); // both 403s: neither is the answer

    clock.advance(Duration.ofSeconds(41));
    Sent later = run(generateWithFile(MODEL, FILE_ID));
    assertThat(later.answer().status()).isEqualTo(200);
    assertThat(later.projects()).endsWith("pc");
  }

  @Test
  void anUploadStartWhoseBodyIsClosedUnreadStillPinsTheUploadToItsKey() throws IOException {
    // Review M2: a header-only 2xx closed unread completes as cancelled; its head still teaches.
    GeminiRequest start = parse("POST", "/upload/v1beta/files", "{\"file\":{}}");
    FakeTransport t = new FakeTransport(k -> new Answer(200, Map.of("X-Goog-Upload-URL",
        "https://generativelanguage.googleapis.com/upload/v1beta/files?upload_id=AHxI-up1"
            + "&upload_protocol=resumable", "X-Goog-Upload-Status", "active"), ""));
    exchange.execute(start, true, t);
    t.handed.get(0).attempt().cancelled(); // the SDK closed the empty body without reading it

    GeminiRequest chunk = GeminiRequests.parse("POST", "/upload/v1beta/files",
        "upload_id=AHxI-up1&upload_protocol=resumable", null);
    assertThat(affinity.place(chunk)).isEqualTo(new Placement.PinnedKey(t.sent.get(0),
        new ResourceRef(ResourceKind.UPLOAD, "AHxI-up1")));
  }

  private static ApiKey key(String id, String project) {
    return ApiKey.builder("secret-" + id + "-0123456789").id(id).project(project).build();
  }
}
