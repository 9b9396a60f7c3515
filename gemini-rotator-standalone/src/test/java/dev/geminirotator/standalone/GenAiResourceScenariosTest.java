package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.google.genai.Client;
import dev.geminirotator.testsupport.FakeGemini;
import dev.geminirotator.testsupport.GenAiResourceScenarios;
import dev.geminirotator.testsupport.GenAiResourceScenarios.Report;
import dev.geminirotator.testsupport.SdkTraffic;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 16, through the proxy: the official GenAI SDK aimed at the proxy with an access token,
 * the proxy over 6 keys in 3 projects in front of a fake Gemini that enforces project ownership
 * and the resumable upload protocol. Six rounds of files (upload, get, generate with the file,
 * delete), caches (create, generate with cachedContent, get, delete), batches (create, get,
 * delete) and file search stores (create, get, delete) all pass, every request reaches a key
 * that can see what it names, and no pool key reaches the SDK.
 */
class GenAiResourceScenariosTest {

  private FakeGemini fake;
  private Harness h;
  private Client client;
  private final SdkTraffic traffic = new SdkTraffic();

  @BeforeEach
  void start() throws Exception {
    fake = FakeGemini.of(3, 2);
    StringBuilder yaml = new StringBuilder(fake.keysYaml());
    yaml.append(Harness.defaultYaml().substring(Harness.defaultYaml().indexOf("server:")));
    h = new Harness(yaml.toString(), Map.of());
    fake.install(h.upstream);
    client = GenAiResourceScenarios.throughProxy(h.proxy.uri().toString(), Harness.TOKEN,
        traffic);
  }

  @AfterEach
  void stop() {
    client.close();
    h.close();
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
  }
}
