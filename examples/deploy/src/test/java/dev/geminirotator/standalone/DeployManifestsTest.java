package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.config.ConfigLoader;
import dev.geminirotator.config.FieldDoc;
import dev.geminirotator.config.RotatorSections;
import dev.geminirotator.redis.RedisStoreOptions;
import dev.geminirotator.standalone.config.StandaloneConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.snakeyaml.engine.v2.api.Load;
import org.snakeyaml.engine.v2.api.LoadSettings;

/**
 * No container engine runs here, so docker-compose.yml, the Kubernetes manifests and the
 * Dockerfile are checked against the real thing instead: every config file they mount is
 * validated by the proxy's own command line ({@code --validate}) with the environment they set;
 * every environment variable they set is one the configuration reads; every port they publish or
 * probe is the one that configuration listens on; every probe path is answered 200 by a real
 * proxy started from that configuration; Redis is where the storage URI points; and the stop
 * grace period outlasts the proxy's drain timeout. (In the standalone package to run its
 * package-private command line.)
 */
class DeployManifestsTest {

  private static final Path DEPLOY = Path.of("").toAbsolutePath();
  private static final Path ROOT = DEPLOY.getParent().getParent();
  private static final Load YAML = new Load(LoadSettings.builder().build());

  /** Every environment variable the proxy reads. */
  static Set<String> knownEnv() {
    Set<String> names = new TreeSet<>();
    List<FieldDoc> fields = new ArrayList<>(RotatorSections.fields());
    fields.addAll(StandaloneConfig.fields());
    for (FieldDoc f : fields) if (f.env() != null) names.add(f.env());
    names.add(ConfigLoader.KEYS_ENV);
    names.add(StandaloneConfig.ACCESS_TOKENS_ENV);
    return names;
  }

  @Test
  void dockerCompose(@TempDir Path tmp) throws Exception {
    Map<String, Object> compose = map(YAML.loadFromString(
        Files.readString(DEPLOY.resolve("docker-compose.yml"))));
    Map<String, Object> services = map(compose.get("services"));
    Map<String, Object> proxy = map(services.get("gemini-rotator"));

    Map<String, Object> build = map(proxy.get("build"));
    Path context = DEPLOY.resolve((String) build.get("context")).normalize();
    assertThat(context).isEqualTo(ROOT);
    assertThat(context.resolve((String) build.get("dockerfile"))).isRegularFile();

    Map<String, String> env = new LinkedHashMap<>();
    for (String name : map(proxy.get("environment")).keySet()) {
      assertThat(knownEnv()).as("environment variable %s", name).contains(name);
      env.put(name, "dummy-value-for-" + name.toLowerCase());
    }
    Map<String, Path> mounts = new HashMap<>();
    for (Object volume : list(proxy.get("volumes"))) {
      String[] parts = ((String) volume).split(":");
      if (parts[0].startsWith(".")) mounts.put(parts[1], DEPLOY.resolve(parts[0]).normalize());
    }
    List<String> args = strings(proxy.get("command"));
    StandaloneConfig config = validate(args, mounts, env);

    List<Integer> published = new ArrayList<>();
    for (Object port : list(proxy.get("ports"))) {
      String[] parts = port.toString().split(":");
      published.add(Integer.parseInt(parts[parts.length - 1].replace("/tcp", "")));
    }
    assertThat(published).containsExactly(config.server().port());

    URI health = strings(map(proxy.get("healthcheck")).get("test")).stream()
        .filter(s -> s.startsWith("http://")).map(URI::create).findFirst().orElseThrow();
    assertThat(health.getPort()).isEqualTo(config.server().port());
    assertServed(config, env, List.of(health.getPath()));

    Duration grace = Duration.parse("PT" + proxy.get("stop_grace_period").toString()
        .toUpperCase());
    assertThat(grace).isGreaterThan(config.server().drainTimeout());

    URI storage = URI.create(config.rotator().storage());
    Map<String, Object> redis = map(services.get(storage.getHost()));
    assertThat((String) redis.get("image")).startsWith("redis:");
    assertThat(storage.getPort()).isIn(-1, 6379);
    assertThat(list(proxy.get("depends_on"))).contains(storage.getHost());
  }

  /**
   * The cluster and sentinel variants: the proxy's config passes {@code --validate} with the
   * storage URI their environment sets, and every host that URI names is a Redis service of the
   * same file (a cluster node, or a sentinel started with {@code --sentinel}).
   */
  @ParameterizedTest
  @ValueSource(strings = {"docker-compose.cluster.yml", "docker-compose.sentinel.yml"})
  void composeOnAClusterOrSentinels(String file) throws Exception {
    Map<String, Object> services = map(map(YAML.loadFromString(
        Files.readString(DEPLOY.resolve(file)))).get("services"));
    Map<String, Object> proxy = map(services.get("gemini-rotator"));
    Map<String, String> env = new LinkedHashMap<>();
    map(proxy.get("environment")).forEach((name, value) -> {
      assertThat(knownEnv()).as("environment variable %s", name).contains(name);
      env.put(name, name.equals("GEMINI_ROTATOR_STORAGE") ? value.toString()
          : "dummy-value-for-" + name.toLowerCase());
    });
    Map<String, Path> mounts = new HashMap<>();
    for (Object volume : list(proxy.get("volumes"))) {
      String[] parts = ((String) volume).split(":");
      if (parts[0].startsWith(".")) mounts.put(parts[1], DEPLOY.resolve(parts[0]).normalize());
    }
    StandaloneConfig config = validate(strings(proxy.get("command")), mounts, env);

    RedisStoreOptions storage = RedisStoreOptions.fromUri(config.rotator().storage());
    boolean sentinel = file.contains("sentinel");
    assertThat(storage.mode()).isEqualTo(sentinel ? RedisStoreOptions.Mode.SENTINEL
        : RedisStoreOptions.Mode.CLUSTER);
    for (RedisStoreOptions.Node node : storage.nodes()) {
      Map<String, Object> service = map(services.get(node.host()));
      assertThat((String) service.get("image")).as(node.host()).startsWith("redis:");
      String command = strings(service.get("command")).toString();
      assertThat(command).as("%s's command", node.host())
          .contains(sentinel ? "--sentinel" : "--cluster-enabled")
          .contains(sentinel ? "sentinel monitor " + storage.masterName() + " " : "yes");
      assertThat(node.port()).isEqualTo(sentinel ? 26379 : 6379);
    }
  }

  @Test
  void kubernetes(@TempDir Path tmp) throws Exception {
    Map<String, Map<String, Object>> objects = new HashMap<>();
    try (var files = Files.list(DEPLOY.resolve("k8s"))) {
      for (Path file : files.sorted().toList()) {
        for (Object doc : YAML.loadAllFromString(Files.readString(file))) {
          Map<String, Object> m = map(doc);
          objects.put(m.get("kind") + "/" + map(m.get("metadata")).get("name"), m);
        }
      }
    }
    Map<String, Object> deployment = objects.get("Deployment/gemini-rotator");
    Map<String, Object> spec = map(deployment.get("spec"));
    assertThat(spec.get("replicas")).isEqualTo(3);
    Map<String, Object> pod = map(map(spec.get("template")).get("spec"));
    Map<String, Object> container = map(list(pod.get("containers")).get(0));

    Map<String, String> env = new LinkedHashMap<>();
    for (Object from : list(container.getOrDefault("envFrom", List.of()))) {
      String secret = (String) map(map(from).get("secretRef")).get("name");
      Map<String, Object> data = map(objects.get("Secret/" + secret).get("stringData"));
      data.forEach((k, v) -> env.put(k, v.toString()));
    }
    for (Object e : list(container.getOrDefault("env", List.of()))) {
      env.put((String) map(e).get("name"), String.valueOf(map(e).get("value")));
    }
    assertThat(env).isNotEmpty();
    for (String name : env.keySet()) {
      assertThat(knownEnv()).as("environment variable %s", name).contains(name);
    }

    Map<String, Path> mounts = new HashMap<>();
    Map<String, String> volumeToConfigMap = new HashMap<>();
    for (Object v : list(pod.get("volumes"))) {
      volumeToConfigMap.put((String) map(v).get("name"),
          (String) map(map(v).get("configMap")).get("name"));
    }
    for (Object m : list(container.get("volumeMounts"))) {
      String configMap = volumeToConfigMap.get((String) map(m).get("name"));
      Map<String, Object> data = map(objects.get("ConfigMap/" + configMap).get("data"));
      for (Map.Entry<String, Object> file : data.entrySet()) {
        Path local = tmp.resolve(file.getKey());
        Files.writeString(local, file.getValue().toString());
        mounts.put(map(m).get("mountPath") + "/" + file.getKey(), local);
      }
    }
    StandaloneConfig config = validate(strings(container.get("args")), mounts, env);

    Map<String, Integer> ports = new HashMap<>();
    for (Object p : list(container.get("ports"))) {
      ports.put((String) map(p).get("name"), (Integer) map(p).get("containerPort"));
    }
    assertThat(ports.values()).containsExactly(config.server().port());
    Map<String, Object> liveness = map(map(container.get("livenessProbe")).get("httpGet"));
    Map<String, Object> readiness = map(map(container.get("readinessProbe")).get("httpGet"));
    assertThat(liveness.get("path")).isEqualTo("/health");
    assertThat(readiness.get("path")).isEqualTo("/health/detailed");
    for (Map<String, Object> probe : List.of(liveness, readiness)) {
      assertThat(resolve(probe.get("port"), ports)).isEqualTo(config.server().port());
    }
    assertServed(config, env, List.of((String) liveness.get("path"),
        (String) readiness.get("path")));

    Map<String, Object> labels = map(map(map(spec.get("template")).get("metadata"))
        .get("labels"));
    Map<String, Object> service = map(objects.get("Service/gemini-rotator").get("spec"));
    assertThat(labels).containsAllEntriesOf(map(service.get("selector")));
    for (Object p : list(service.get("ports"))) {
      assertThat(resolve(map(p).get("targetPort"), ports)).isEqualTo(config.server().port());
    }

    assertThat(Duration.ofSeconds((Integer) pod.get("terminationGracePeriodSeconds")))
        .isGreaterThan(config.server().drainTimeout());

    URI storage = URI.create(config.rotator().storage());
    Map<String, Object> redisService = map(objects.get("Service/" + storage.getHost())
        .get("spec"));
    Map<String, Object> redisPod = map(map(map(objects.get("Deployment/" + storage.getHost())
        .get("spec")).get("template")).get("spec"));
    Map<String, Object> redisContainer = map(list(redisPod.get("containers")).get(0));
    assertThat((String) redisContainer.get("image")).startsWith("redis:");
    Map<String, Integer> redisPorts = new HashMap<>();
    for (Object p : list(redisContainer.get("ports"))) {
      redisPorts.put((String) map(p).get("name"), (Integer) map(p).get("containerPort"));
    }
    int storagePort = storage.getPort() == -1 ? 6379 : storage.getPort();
    Map<String, Object> redisServicePort = map(list(redisService.get("ports")).get(0));
    assertThat(redisServicePort.get("port")).isEqualTo(storagePort);
    assertThat(resolve(redisServicePort.get("targetPort"), redisPorts)).isEqualTo(6379);
  }

  @Test
  void dockerfileCopiesTheJarTheBuildMakesAndExposesTheConfiguredPort() throws Exception {
    List<String> lines = Files.readAllLines(DEPLOY.resolve("Dockerfile"));
    String copy = lines.stream().filter(l -> l.startsWith("COPY ")).findFirst().orElseThrow();
    String finalName = DocumentBuilderFactory.newInstance().newDocumentBuilder()
        .parse(ROOT.resolve("gemini-rotator-standalone/pom.xml").toFile())
        .getElementsByTagName("finalName").item(0).getTextContent();
    assertThat(copy.split("\\s+")[1])
        .isEqualTo("gemini-rotator-standalone/target/" + finalName + ".jar");
    String expose = lines.stream().filter(l -> l.startsWith("EXPOSE ")).findFirst().orElseThrow();
    StandaloneConfig config = StandaloneConfig.load(DEPLOY.resolve("config/gemini-rotator.yaml"),
        Map.of(ConfigLoader.KEYS_ENV, "dummy-key-1", StandaloneConfig.ACCESS_TOKENS_ENV,
            "dummy-client-token"), StandaloneConfig.Overrides.NONE);
    assertThat(Integer.parseInt(expose.split("\\s+")[1])).isEqualTo(config.server().port());
  }

  /**
   * Runs the proxy's command line with the manifest's arguments plus {@code --validate}, its
   * container paths mapped to local files, and returns the configuration it accepted.
   */
  private static StandaloneConfig validate(List<String> args, Map<String, Path> mounts,
      Map<String, String> env) {
    List<String> local = new ArrayList<>();
    Path configFile = null;
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      if (i > 0 && args.get(i - 1).equals("--config")) {
        assertThat(mounts).as("--config %s is mounted", arg).containsKey(arg);
        configFile = mounts.get(arg);
        arg = configFile.toString();
      }
      local.add(arg);
    }
    assertThat(configFile).as("the manifest passes --config").isNotNull();
    local.add("--validate");
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int code = Main.run(local.toArray(String[]::new), env, new PrintWriter(out, true),
        new PrintWriter(err, true), false);
    assertThat(code).as("--validate: %s", err).isZero();
    assertThat(out.toString()).startsWith("configuration OK");
    return StandaloneConfig.load(configFile, env, StandaloneConfig.Overrides.NONE);
  }

  /**
   * Starts the real proxy from the configuration (on loopback, a free port and the memory store,
   * as Redis is not there) and checks each path answers 200.
   */
  private static void assertServed(StandaloneConfig config, Map<String, String> env,
      List<String> paths) throws Exception {
    Map<String, String> local = new HashMap<>(env);
    local.put("GEMINI_ROTATOR_STORAGE", "memory:");
    StandaloneConfig loopback = StandaloneConfig.load(config.source(), local,
        new StandaloneConfig.Overrides("127.0.0.1", 0));
    HttpClient http = HttpClient.newHttpClient();
    try (ProxyServer proxy = ProxyServer.start(loopback, local)) {
      for (String path : paths) {
        HttpResponse<String> response = http.send(HttpRequest.newBuilder(
            URI.create(proxy.uri() + path)).timeout(Duration.ofSeconds(10)).build(),
            HttpResponse.BodyHandlers.ofString());
        assertThat(response.statusCode()).as("GET %s: %s", path, response.body())
            .isEqualTo(200);
      }
    }
  }

  private static int resolve(Object port, Map<String, Integer> named) {
    if (port instanceof Integer n) return n;
    assertThat(named).as("named port %s", port).containsKey((String) port);
    return named.get((String) port);
  }

  @SuppressWarnings("unchecked")
  private static Map<String, Object> map(Object o) {
    assertThat(o).isInstanceOf(Map.class);
    return (Map<String, Object>) o;
  }

  @SuppressWarnings("unchecked")
  private static List<Object> list(Object o) {
    assertThat(o).isInstanceOf(List.class);
    return (List<Object>) o;
  }

  private static List<String> strings(Object o) {
    return list(o).stream().map(Object::toString).toList();
  }
}
