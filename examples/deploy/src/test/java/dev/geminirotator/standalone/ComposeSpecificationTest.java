package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.networknt.schema.Error;
import com.networknt.schema.Schema;
import com.networknt.schema.SchemaLocation;
import com.networknt.schema.SchemaRegistry;
import com.networknt.schema.SpecificationVersion;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * No container engine (nor a registry to pull {@code redis:7} from) is reachable here, so {@code
 * docker compose up} cannot run. What Compose itself checks before it starts anything is checked
 * instead: each compose file, with its YAML anchors resolved as Compose resolves them, is valid
 * under the Compose Specification's own JSON schema, the one {@code docker compose config}
 * validates against ({@code compose-spec.json}, copied unchanged from
 * github.com/compose-spec/compose-spec, schema/compose-spec.json at commit 170098ba, Apache
 * License 2.0; its NOTICE is {@code compose-spec.NOTICE} beside it). A misspelt key, a wrong type
 * or an unknown {@code depends_on} condition fails here. What each file means for the proxy (its
 * config, ports, probes, storage URI) is {@link DeployManifestsTest}'s.
 */
class ComposeSpecificationTest {

  private static final Path DEPLOY = Path.of("").toAbsolutePath();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Schema COMPOSE = schema();

  /**
   * The schema's relative {@code $id} ({@code compose_spec.json}) needs a base to resolve against:
   * it is loaded as if from the repository it comes from.
   */
  private static Schema schema() {
    try (InputStream in = ComposeSpecificationTest.class.getResourceAsStream(
        "/compose-spec.json")) {
      return SchemaRegistry.withDefaultDialect(SpecificationVersion.DRAFT_7).getSchema(
          SchemaLocation.of("https://github.com/compose-spec/compose-spec/schema/"),
          JSON.readTree(in));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** The file as Compose reads it: YAML with anchors and aliases resolved, as JSON. */
  private static JsonNode compose(String file) throws Exception {
    Object yaml = new Load(LoadSettings.builder().build())
        .loadFromString(Files.readString(DEPLOY.resolve(file)));
    return JSON.valueToTree(yaml);
  }

  private static List<String> errors(JsonNode compose) {
    return COMPOSE.validate(compose).stream().map(Error::toString).toList();
  }

  @ParameterizedTest
  @ValueSource(strings = {"docker-compose.yml", "docker-compose.cluster.yml",
      "docker-compose.sentinel.yml"})
  void everyComposeFileIsValidUnderTheComposeSpecification(String file) throws Exception {
    JsonNode compose = compose(file);
    assertThat(compose.path("services").size()).as("services of %s", file).isGreaterThan(1);
    assertThat(errors(compose)).as(file).isEmpty();
  }

  /** The schema check can fail: the mistakes it must catch, each made on a valid file. */
  @Test
  void theSchemaRefusesTheMistakesItIsHereFor() throws Exception {
    ObjectNode misspelt = (ObjectNode) compose("docker-compose.cluster.yml");
    ObjectNode proxy = (ObjectNode) misspelt.path("services").path("gemini-rotator");
    proxy.set("enviroment", proxy.remove("environment"));
    assertThat(errors(misspelt)).anySatisfy(e -> assertThat(e).contains("enviroment"));

    ObjectNode condition = (ObjectNode) compose("docker-compose.cluster.yml");
    ((ObjectNode) condition.path("services").path("gemini-rotator").path("depends_on")
        .path("redis-cluster-init")).put("condition", "service_finished");
    assertThat(errors(condition)).isNotEmpty();

    ObjectNode ports = (ObjectNode) compose("docker-compose.sentinel.yml");
    ((ObjectNode) ports.path("services").path("gemini-rotator")).put("ports", "4806:4806");
    assertThat(errors(ports)).anySatisfy(e -> assertThat(e).contains("ports"));
  }
}
