package dev.geminirotator.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.genai.Client;
import dev.geminirotator.testsupport.GenAiResourceScenarios.Report;
import dev.geminirotator.testsupport.GenAiResourceScenarios.Result;
import dev.geminirotator.testsupport.GenAiResourceScenarios.Scenario;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import okhttp3.HttpUrl;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The scenario runner with the official SDK straight against the fake, with stand-in key
 * interceptors of known behaviour: one key passes every step (so the fake's answers are what the
 * SDK parses), keys alternating between projects fail the steps that name a resource, and a key
 * in an answer is reported as a leak.
 */
class GenAiResourceScenariosTest {

  FakeGemini fake;
  final SdkTraffic traffic = new SdkTraffic();
  Client client;

  @BeforeEach
  void start() {
    fake = FakeGemini.of(3, 2);
    fake.start();
  }

  @AfterEach
  void stop() {
    if (client != null) client.close();
    fake.close();
  }

  /**
   * Sends every request with the secret of the next key of {@code keyIds}, in turn, and takes
   * the key out of the upload URL the fake answers with (as a transport must).
   */
  Interceptor keys(String... keyIds) {
    AtomicInteger next = new AtomicInteger();
    return chain -> {
      String secret = fake.secret(keyIds[next.getAndIncrement() % keyIds.length]);
      Request r = chain.request();
      HttpUrl url = r.url().newBuilder().removeAllQueryParameters("key").build();
      Response response =
          chain.proceed(r.newBuilder().url(url).header("x-goog-api-key", secret).build());
      String upload = response.header("X-Goog-Upload-URL");
      if (upload == null) return response;
      return response.newBuilder().header("X-Goog-Upload-URL",
          HttpUrl.get(upload).newBuilder().removeAllQueryParameters("key").build().toString())
          .build();
    };
  }

  Report run(Interceptor keys, int rounds) {
    client = GenAiResourceScenarios.throughInterceptor(keys, fake.baseUrl().toString(), traffic);
    return GenAiResourceScenarios.run(client, fake, traffic, rounds);
  }

  @Test
  void everyStepPassesWithOneKeyAndTheSdkParsesEveryAnswer() {
    Report report = run(keys("k3"), 2);

    assertThat(report.failures()).as(report.summary()).isEmpty();
    assertThat(report.steps()).hasSize(2 * 14);
    assertThat(report.leaks()).isEmpty();
    assertThat(fake.served()).allSatisfy(s -> assertThat(s.keyId()).isEqualTo("k3"));
    assertThat(fake.served()).extracting(FakeGemini.Served::status).containsOnly(200);
    assertThat(fake.resources(FakeGemini.Kind.FILE)).as("all deleted").isEmpty();
    assertThat(fake.resources(FakeGemini.Kind.CACHED_CONTENT)).isEmpty();
    assertThat(fake.resources(FakeGemini.Kind.BATCH)).isEmpty();
    assertThat(fake.resources(FakeGemini.Kind.FILE_SEARCH_STORE)).isEmpty();
    assertThat(traffic.count()).isEqualTo(fake.served().size());
  }

  @Test
  void keysOfTwoProjectsInTurnFailEveryStepThatReachesTheOtherProject() {
    Report report = run(keys("k1", "k3"), 1);

    // requests alternate k1, k3: upload start k1, chunk k3 (refused: another project's upload)
    assertThat(report.steps()).extracting(s -> s.scenario() + " " + s.name() + " " + s.result())
        .containsExactly(
            "FILES upload FAILED", "FILES get SKIPPED", "FILES generate with the file SKIPPED",
            "FILES delete SKIPPED",
            "CACHES create PASSED", "CACHES generate with cachedContent FAILED",
            "CACHES get PASSED", "CACHES delete FAILED",
            "BATCHES create PASSED", "BATCHES get FAILED", "BATCHES delete PASSED",
            "FILE_SEARCH_STORES create PASSED", "FILE_SEARCH_STORES get FAILED",
            "FILE_SEARCH_STORES delete PASSED");
    assertThat(report.failures().get(0).detail()).contains("403");
    assertThat(report.summary()).endsWith("6 of 14 steps passed; 0 secret findings");
  }

  @Test
  void aDeleteTheFakeRefusedFailsEvenWhereTheSdkReturnsNormally() {
    Interceptor deleteElsewhere = chain -> {
      Request r = chain.request();
      String secret = fake.secret(r.method().equals("DELETE") ? "k3" : "k1");
      HttpUrl url = r.url().newBuilder().removeAllQueryParameters("key").build();
      return chain.proceed(r.newBuilder().url(url).header("x-goog-api-key", secret).build());
    };

    Report report = run(deleteElsewhere, 1);

    assertThat(report.failures()).extracting(s -> s.scenario() + " " + s.name())
        .containsExactly("FILES delete", "CACHES delete", "BATCHES delete",
            "FILE_SEARCH_STORES delete");
    // FileSearchStores.delete in SDK 2.0.0 does not throw on a 403: only the fake's state tells
    assertThat(report.failures().get(3).detail()).startsWith("the SDK returned, but the fake"
        + " still holds fileSearchStores/");
    assertThat(fake.served()).filteredOn(s -> s.method().equals("DELETE"))
        .extracting(FakeGemini.Served::status).containsExactly(403, 403, 404, 403);
  }

  @Test
  void aPoolKeyInAnAnswerIsReportedAsALeakWithoutPrintingIt() {
    String secret = fake.secret("k2");
    Interceptor leaky = chain -> chain.proceed(chain.request().newBuilder()
        .header("x-goog-api-key", secret).build()).newBuilder()
        .addHeader("X-Debug-Key", secret).build();

    Report report = run(leaky, 1);

    assertThat(report.leaks()).isNotEmpty()
        .allSatisfy(finding -> assertThat(finding).doesNotContain(secret));
    assertThat(report.steps()).filteredOn(s -> s.scenario() == Scenario.FILE_SEARCH_STORES)
        .extracting(GenAiResourceScenarios.Step::result).containsOnly(Result.PASSED);
    assertThat(List.of(report.summary())).allSatisfy(s -> assertThat(s).doesNotContain(secret));
  }
}
