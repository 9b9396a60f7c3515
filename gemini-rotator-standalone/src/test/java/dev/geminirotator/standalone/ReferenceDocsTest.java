package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.config.FieldDoc;
import dev.geminirotator.config.RotatorSections;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.testsupport.redis.RedisServer;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.testsupport.Fixtures;
import java.io.StringReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.xml.sax.InputSource;

/**
 * Keeps the proxy's reference documentation true: the configuration reference is generated from
 * the config model ({@code fields()}), the metrics table is compared with a real {@code /metrics}
 * scrape, every {@code curl} example in README's proxy sections runs against a real proxy, the
 * {@code /health/detailed} sample has the fields of a real answer, and the Maven coordinates are
 * the module's.
 */
class ReferenceDocsTest {

  static final Path ROOT = Path.of("").toAbsolutePath().getParent();
  static final Path README = ROOT.resolve("README.md");
  static final Path CONFIG_DOC = ROOT.resolve("docs/configuration.md");
  private static final Pattern SAMPLE =
      Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\\{([^}]*)})? ");
  private static final Pattern LABEL = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"");

  /** The configuration reference table, generated from the model. */
  static String configReference() {
    List<FieldDoc> fields = new ArrayList<>(RotatorSections.fields());
    fields.addAll(StandaloneConfig.fields());
    StringBuilder sb = new StringBuilder("| field | type | default | environment variable |\n")
        .append("|---|---|---|---|\n");
    for (FieldDoc f : fields) {
      String def = f.defaultValue() == null ? "none"
          : "`" + (f.defaultValue().isEmpty() ? "\"\"" : f.defaultValue()) + "`";
      sb.append("| `").append(f.path()).append("` | ").append(f.type().replace("|", "\\|"))
          .append(" | ").append(def).append(" | ")
          .append(f.env() == null ? "none" : "`" + f.env() + "`").append(" |\n");
    }
    return sb.toString();
  }

  @Test
  void theConfigurationReferenceIsTheModels() throws Exception {
    String doc = Files.readString(CONFIG_DOC);
    String expected = configReference();
    String actual = between(doc, "<!-- generated:config-reference:begin -->\n",
        "<!-- generated:config-reference:end -->");
    assertThat(actual).as("docs/configuration.md's table; regenerate it from this:\n%s",
        expected).isEqualTo(expected);
  }

  @Test
  void theMetricsTableNamesEveryMetricAndLabelOfARealScrape() throws Exception {
    Map<String, Set<String>> scraped;
    // Redis storage and a breaker that opens: every meter the proxy can register shows up.
    try (RedisServer redis = RedisServer.startOnFreePort();
        Harness h = new Harness("storage: \"" + redis.uri() + "\"\n"
            + "breaker:\n  minimum-calls: 2\n  sliding-window-size: 2\n")) {
      h.enqueue(429, Fixtures.geminiError("429-per-minute"));
      h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
      h.post("/v1beta/models/gemini-2.5-flash:generateContent", "{}", "x-goog-api-key",
          Harness.TOKEN);
      h.enqueue(400, Fixtures.geminiError("400-api-key-invalid"));
      h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
      h.post("/v1beta/models/gemini-2.5-flash:generateContent", "{}", "x-goog-api-key",
          Harness.TOKEN);
      h.post("/v1beta/models/gemini-2.5-flash:generateContent", "{}"); // no token: rejected
      CircuitGuard guard = h.proxy.guard(); // opened by hand: a breaker transition is counted
      for (int i = 0; i < 4 && guard.state("gemini-2.5-flash") != CircuitGuard.State.OPEN;
          i++) {
        guard.acquirePermission("gemini-2.5-flash");
        guard.onOutcome("gemini-2.5-flash", Outcome.upstreamError(503, "UNAVAILABLE"),
            Duration.ZERO);
      }
      assertThat(guard.state("gemini-2.5-flash")).isEqualTo(CircuitGuard.State.OPEN);
      scraped = families(h.get("/metrics").body());
    }
    Map<String, Set<String>> ours = new TreeMap<>();
    scraped.forEach((name, labels) -> {
      if (name.startsWith("gemini_")) {
        ours.put(name, labels);
      } else {
        assertThat(name).as("a meter outside the JVM/process binders")
            .matches("(jvm|process|system)_.*");
      }
    });
    Map<String, Set<String>> documented = new TreeMap<>();
    String table = between(Files.readString(README), "<!-- metrics:begin -->",
        "<!-- metrics:end -->");
    Pattern rowPattern = Pattern.compile("^\\| `(gemini_[a-z_]+)` \\| [a-z]+ \\| ([^|]*) \\|");
    for (String row : table.split("\n")) {
      Matcher m = rowPattern.matcher(row);
      if (!m.find()) continue;
      Set<String> labels = new TreeSet<>();
      Matcher l = Pattern.compile("`([a-z_]+)`").matcher(m.group(2));
      while (l.find()) labels.add(l.group(1));
      documented.put(m.group(1), labels);
    }
    assertThat(documented).as("README's metrics table against the scrape").isEqualTo(ours);
  }

  @Test
  void everyCurlExampleOfTheProxySectionsWorks() throws Exception {
    String section = between(Files.readString(README), "<!-- proxy-curl:begin -->",
        "<!-- proxy-curl:end -->");
    List<String> commands = new ArrayList<>();
    for (String line : section.split("\n")) {
      if (line.startsWith("curl ")) commands.add(line);
    }
    assertThat(commands).hasSizeGreaterThanOrEqualTo(8);
    try (Harness h = new Harness("")) {
      for (int i = 0; i < 5; i++) {
        h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
      }
      Set<String> routes = new TreeSet<>();
      for (String command : commands) {
        Matcher url = Pattern.compile("http://127\\.0\\.0\\.1:4806(\\S+?)'?(\\s|$)")
            .matcher(command);
        assertThat(url.find()).as(command).isTrue();
        Matcher method = Pattern.compile(" -X (\\w+)").matcher(command);
        Matcher body = Pattern.compile(" -d '([^']*)'").matcher(command);
        String b = body.find() ? body.group(1) : null;
        String m = method.find() ? method.group(1) : b != null ? "POST" : "GET";
        HttpRequest.Builder request = h.request(url.group(1).replace("'", ""))
            .method(m, b == null ? HttpRequest.BodyPublishers.noBody()
                : HttpRequest.BodyPublishers.ofString(b));
        Matcher header = Pattern.compile(" -H (['\"])([^:]+): (.*?)\\1").matcher(command);
        while (header.find()) {
          request.header(header.group(2), header.group(3)
              .replace("$ADMIN_TOKEN", Harness.ADMIN).replace("$TOKEN", Harness.TOKEN));
        }
        HttpResponse<String> response = h.send(request.build());
        assertThat(response.statusCode()).as("%s -> %s", command, response.body())
            .isBetween(200, 299);
        routes.add(m + " " + url.group(1).replaceAll("/keys/[^/]+", "/keys/{id}"));
      }
      assertThat(routes).as("every admin route has an example").contains(
          "GET /admin/keys", "POST /admin/keys", "DELETE /admin/keys/{id}",
          "POST /admin/keys/{id}/disable", "POST /admin/keys/{id}/enable",
          "POST /admin/keys/{id}/reset", "POST /admin/reload", "GET /admin/stats");
    }
  }

  @Test
  void theDetailedHealthSampleHasTheShapeOfARealAnswer() throws Exception {
    String readme = Files.readString(README);
    String sample = between(readme.substring(readme.indexOf("### Health endpoints")),
        "```json\n", "```");
    String real;
    try (Harness h = new Harness("")) {
      real = h.get("/health/detailed").body();
    }
    ObjectMapper json = new ObjectMapper();
    assertThat(fieldPaths(json.readTree(sample), "")).as("README's /health/detailed sample")
        .isEqualTo(fieldPaths(json.readTree(real), ""));
  }

  @Test
  void theMavenCoordinatesAreTheModules() throws Exception {
    // README's first xml block: the BOM import, then a module without a version
    String readme = Files.readString(README);
    String xml = "<project>" + between(readme, "```xml\n", "```") + "</project>";
    var doc = DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(new InputSource(new StringReader(xml)));
    var bom = DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(ROOT.resolve("gemini-rotator-bom/pom.xml").toFile());
    var okhttp = DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(ROOT.resolve("gemini-rotator-okhttp/pom.xml").toFile());
    assertThat(text(doc, "groupId")).isEqualTo(text(bom, "groupId"));
    assertThat(text(doc, "artifactId")).isEqualTo(text(bom, "artifactId"));
    assertThat(text(doc, "version")).isEqualTo(text(bom, "version"))
        .isEqualTo(text(okhttp, "version"));
    assertThat(text(doc, "scope")).isEqualTo("import");
    assertThat(text(doc, "artifactId", 1)).isEqualTo(text(okhttp, "artifactId", 1));
    assertThat(doc.getElementsByTagName("version").getLength())
        .as("the module's dependency leaves its version to the BOM").isEqualTo(1);
  }

  private static String text(org.w3c.dom.Document doc, String tag) {
    return text(doc, tag, 0);
  }

  /** The text of the {@code index}th element named {@code tag} (a pom's parent comes first). */
  private static String text(org.w3c.dom.Document doc, String tag, int index) {
    return doc.getElementsByTagName(tag).item(index).getTextContent().trim();
  }

  /** Every object field's path in a JSON tree, e.g. {@code keys.byState.HEALTHY}. */
  private static Set<String> fieldPaths(JsonNode node, String prefix) {
    Set<String> out = new TreeSet<>();
    node.fields().forEachRemaining(e -> {
      String path = prefix + e.getKey();
      out.add(path);
      if (e.getValue().isObject()) out.addAll(fieldPaths(e.getValue(), path + "."));
    });
    return out;
  }

  /** Metric families and their label names, from Prometheus text. */
  static Map<String, Set<String>> families(String text) {
    Map<String, String> types = new TreeMap<>();
    for (String line : text.split("\n")) {
      if (line.startsWith("# TYPE ")) {
        String[] parts = line.split(" ");
        types.put(parts[2], parts[3]);
      }
    }
    Map<String, Set<String>> out = new TreeMap<>();
    for (String family : types.keySet()) {
      if (family.endsWith("_max") && "histogram".equals(types.get(
          family.substring(0, family.length() - 4)))) {
        continue; // a timer's _max belongs to its histogram
      }
      out.put(family, new TreeSet<>());
    }
    for (String line : text.split("\n")) {
      Matcher m = SAMPLE.matcher(line);
      if (line.startsWith("#") || !m.find()) continue;
      String name = m.group(1).replaceAll("_(bucket|count|sum|max)$", "");
      if (!out.containsKey(name)) name = m.group(1);
      Set<String> labels = out.get(name);
      if (labels == null || m.group(2) == null) continue;
      Matcher l = LABEL.matcher(m.group(2));
      while (l.find()) if (!l.group(1).equals("le")) labels.add(l.group(1));
    }
    return out;
  }

  private static String between(String text, String begin, String end) {
    int from = text.indexOf(begin);
    assertThat(from).as("marker %s", begin).isNotNegative();
    int to = text.indexOf(end, from + begin.length());
    assertThat(to).as("marker %s after %s", end, begin).isNotNegative();
    return text.substring(from + begin.length(), to);
  }
}
