package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.sun.net.httpserver.HttpServer;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Issue 15 item 9, with the proxy as its own JVM (started as README says, through {@link Main}):
 * a port in use is one line on standard error naming host and port, with exit code 3 and no stack
 * trace, for the main and the management listener; SIGINT (Ctrl-C) drains an in-flight request
 * as SIGTERM does, and each exits with the code README states.
 */
class ProcessStartAndSignalsTest {

  private static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";
  private static final String TOKEN = "process-signal-access-token";

  private static String config(int port, Integer managementPort, String upstream) {
    return """
        keys:
          - id: k1
            secret: AIzaSyPROC-signal-key-one-00000000001
        server:
          port: %d
          drain-timeout: 30s
        %supstream:
          base-url: %s
        access:
          tokens: [%s]
        logging:
          json: false
        """.formatted(port, managementPort == null ? ""
            : "  management-port: " + managementPort + "\n", upstream, TOKEN);
  }

  private static Process start(Path dir, String yaml, Path output, Path errors)
      throws IOException {
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, yaml);
    List<String> command = ProxyProcess.command(
        List.of("-Xmx128m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1"), config);
    return new ProcessBuilder(command).redirectOutput(output.toFile())
        .redirectError(errors.toFile()).start();
  }

  @ParameterizedTest(name = "{0} in use")
  @CsvSource({"main", "management"})
  void aPortInUseIsOneLineNamingHostAndPortWithExitCode3(String listener, @TempDir Path dir)
      throws Exception {
    try (ServerSocket taken = new ServerSocket(0, 50, InetAddress.getByName("127.0.0.1"))) {
      int port = taken.getLocalPort();
      String yaml = listener.equals("main") ? config(port, null, "http://127.0.0.1:9")
          : config(0, port, "http://127.0.0.1:9");
      Path out = dir.resolve("out.log");
      Path err = dir.resolve("err.log");
      Process proxy = start(dir, yaml, out, err);
      try {
        assertThat(proxy.waitFor(90, TimeUnit.SECONDS)).as("the proxy exits").isTrue();
        String stderr = Files.readString(err);
        String stdout = Files.readString(out);
        assertThat(proxy.exitValue()).as("exit code; stderr: %s", stderr)
            .isEqualTo(Main.EXIT_START_FAILED);
        assertThat(stderr.strip()).startsWith("cannot start the proxy: 127.0.0.1:" + port
            + " is already in use").doesNotContain("\n");
        assertThat(stderr + stdout).as("no stack trace").doesNotContain("\tat ")
            .doesNotContain("Exception");
      } finally {
        proxy.destroyForcibly().waitFor();
      }
    }
  }

  @ParameterizedTest(name = "SIG{0} exits with {1}")
  @CsvSource({"INT, 130", "TERM, 0"})
  void aSignalDrainsTheRequestInFlightThenExitsWithTheCodeReadmeStates(String signal,
      int exitCode, @TempDir Path dir) throws Exception {
    Matcher stated = Pattern.compile(signal.equals("INT")
        ? "SIGINT \\(Ctrl-C\\) drains exactly the same way and exits with (\\d+)"
        : "On SIGTERM the proxy stops accepting connections.*?and exits with (\\d+)",
        Pattern.DOTALL).matcher(Files.readString(ReferenceDocsTest.README));
    assertThat(stated.find()).as("README's graceful shutdown section names SIG%s's exit code",
        signal).isTrue();
    assertThat(Integer.parseInt(stated.group(1))).as("README's exit code for SIG%s", signal)
        .isEqualTo(exitCode);
    CountDownLatch arrived = new CountDownLatch(1);
    CountDownLatch release = new CountDownLatch(1);
    byte[] answer = Fixtures.geminiResponse("generate-content.json")
        .getBytes(StandardCharsets.UTF_8);
    HttpServer upstream = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 16);
    ExecutorService upstreamThreads = Executors.newFixedThreadPool(2);
    upstream.setExecutor(upstreamThreads);
    upstream.createContext("/", exchange -> {
      try (InputStream in = exchange.getRequestBody()) {
        in.readAllBytes();
      }
      arrived.countDown();
      try {
        release.await(60, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      exchange.getResponseHeaders().set("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, answer.length);
      exchange.getResponseBody().write(answer);
      exchange.close();
    });
    upstream.start();
    Path out = dir.resolve("out.log");
    Path err = dir.resolve("err.log");
    Process proxy = start(dir, config(0, null, "http://127.0.0.1:"
        + upstream.getAddress().getPort()), out, err);
    try {
      int port = ProxyProcess.awaitPort(proxy, out);
      HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
      CompletableFuture<HttpResponse<String>> inFlight = http.sendAsync(HttpRequest.newBuilder(
              URI.create("http://127.0.0.1:" + port + GENERATE)).timeout(Duration.ofSeconds(90))
          .header("x-goog-api-key", TOKEN).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"contents\":[]}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertThat(arrived.await(60, TimeUnit.SECONDS)).as("the request reached the upstream")
          .isTrue();

      Process kill = new ProcessBuilder("kill", "-" + signal, Long.toString(proxy.pid()))
          .inheritIO().start();
      assertThat(kill.waitFor()).as("kill -%s", signal).isZero();
      Eventually.until(Duration.ofSeconds(60), "the proxy starts draining", () ->
          ProxyProcess.read(out).contains("shutting down: draining in-flight requests"));
      assertThat(proxy.isAlive()).as("still draining the request in flight").isTrue();

      release.countDown();
      HttpResponse<String> drained = inFlight.get(60, TimeUnit.SECONDS);
      assertThat(drained.statusCode()).as("the in-flight request: %s", drained.body())
          .isEqualTo(200);
      assertThat(drained.body()).contains("candidates");
      assertThat(proxy.waitFor(60, TimeUnit.SECONDS)).as("the proxy exits").isTrue();
      assertThat(proxy.exitValue())
          .as("exit code after SIG%s; output: %s", signal, ProxyProcess.read(out))
          .isEqualTo(exitCode);
      assertThat(ProxyProcess.read(out)).contains("shut down");
    } finally {
      release.countDown();
      proxy.destroyForcibly().waitFor();
      upstream.stop(0);
      upstreamThreads.shutdownNow();
    }
  }

}
