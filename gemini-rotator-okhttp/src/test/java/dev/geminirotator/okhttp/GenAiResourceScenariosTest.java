package dev.geminirotator.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.genai.Client;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeGemini;
import dev.geminirotator.testsupport.GenAiResourceScenarios;
import dev.geminirotator.testsupport.GenAiResourceScenarios.Report;
import dev.geminirotator.testsupport.SdkTraffic;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 16, through the interceptor: the official GenAI SDK on an OkHttp client carrying
 * {@link GeminiKeyInterceptor} over 6 keys in 3 projects, against a fake Gemini that enforces
 * project ownership and the resumable upload protocol. Six rounds of files (upload, get,
 * generate with the file, delete), caches (create, generate with cachedContent, get, delete),
 * batches (create, get, delete) and file search stores (create, get, delete) all pass, every
 * request reaches a key that can see what it names, and no pool key reaches the SDK.
 */
class GenAiResourceScenariosTest {

  private FakeGemini fake;
  private GeminiKeyRotator rotator;
  private Client client;
  private final SdkTraffic traffic = new SdkTraffic();

  @BeforeEach
  void start() {
    fake = FakeGemini.of(3, 2);
    fake.start();
    List<ApiKey> keys = new ArrayList<>();
    for (String id : fake.keyIds()) {
      keys.add(ApiKey.builder(fake.secret(id)).id(id).project(fake.projectOf(id)).build());
    }
    rotator = GeminiKeyRotator.builder().keys(keys).build();
    client = GenAiResourceScenarios.throughInterceptor(
        GeminiKeyInterceptor.builder().rotator(rotator).build(), fake.baseUrl().toString(),
        traffic);
  }

  @AfterEach
  void stop() {
    client.close();
    fake.close();
    rotator.close();
  }

  @Test
  void sixRoundsOfEveryResourceScenarioPassOverThreeProjectsAndNoPoolKeyReachesTheSdk() {
    Report report = GenAiResourceScenarios.run(client, fake, traffic, 6);

    assertThat(report.failures()).as(report.summary()).isEmpty();
    assertThat(report.steps()).hasSize(6 * 14);
    assertThat(report.leaks()).isEmpty();
    assertThat(fake.served()).as("no request went to a project that cannot see what it names")
        .allSatisfy(s -> assertThat(s.status()).as(s.toString()).isEqualTo(200));
    assertThat(fake.served()).as("rotation still spreads the work over the projects")
        .extracting(FakeGemini.Served::project).containsOnly("project-1", "project-2",
            "project-3").contains("project-1", "project-2", "project-3");
    for (String id : fake.keyIds()) {
      assertThat(rotator.snapshot(id).orElseThrow().state()).as("no key blamed: " + id)
          .isEqualTo(KeyState.HEALTHY);
    }
  }
}
