package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.testsupport.FakeGemini;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The proxy's resource affinity comes from the configuration's {@code affinity} section: on by
 * default, every later request naming a context cache reaches the cache's project; with
 * {@code affinity.enabled: false} the requests rotate over every project, as they did before
 * issue 16. Six keys in three projects in front of a fake Gemini that enforces ownership.
 */
class AffinityConfigTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String CACHE = "{\"model\": \"models/gemini-2.5-flash\", \"contents\": "
      + "[{\"role\": \"user\", \"parts\": [{\"text\": \"a long document\"}]}], \"ttl\": \"600s\"}";

  private FakeGemini fake;
  private Harness h;

  private void start(String affinityYaml) throws Exception {
    fake = FakeGemini.of(3, 2);
    StringBuilder yaml = new StringBuilder(fake.keysYaml());
    yaml.append(affinityYaml);
    yaml.append(Harness.defaultYaml().substring(Harness.defaultYaml().indexOf("server:")));
    h = new Harness(yaml.toString(), Map.of());
    fake.install(h.upstream);
  }

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  /** Creates a cache through the proxy, then reads it twelve times; the statuses of the reads. */
  private List<Integer> createThenRead() throws Exception {
    HttpResponse<String> created = h.post("/v1beta/cachedContents", CACHE,
        "x-goog-api-key", Harness.TOKEN);
    assertThat(created.statusCode()).as(created.body()).isEqualTo(200);
    String name = JSON.readTree(created.body()).path("name").asText();
    assertThat(name).startsWith("cachedContents/");
    List<Integer> statuses = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      statuses.add(h.get("/v1beta/" + name, "x-goog-api-key", Harness.TOKEN).statusCode());
    }
    return statuses;
  }

  @Test
  void byDefaultEveryRequestNamingTheCacheReachesItsProject() throws Exception {
    start("");

    assertThat(createThenRead()).containsOnly(200);
    assertThat(fake.served()).allSatisfy(s -> assertThat(s.status()).isEqualTo(200));
  }

  @Test
  void withAffinityDisabledRequestsRotateOverProjectsThatCannotSeeTheCache() throws Exception {
    start("affinity:\n  enabled: false\n");

    List<Integer> statuses = createThenRead();

    assertThat(statuses).contains(200).doesNotContainNull()
        .anySatisfy(s -> assertThat(s).isIn(403, 404));
  }
}
