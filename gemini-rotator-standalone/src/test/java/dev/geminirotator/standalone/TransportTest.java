package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.config.ConfigException;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.standalone.http.Transport;
import dev.geminirotator.testsupport.Fixtures;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.ChannelException;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.uring.IoUring;
import io.netty.util.concurrent.FastThreadLocalThread;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.stream.Collectors;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The proxy works the same on each socket transport ({@code server.transport}). The rest of the
 * suite runs on {@code auto}, so this is where the transports {@code auto} did not pick are
 * exercised: a plain exchange, a retry on another key, a streamed answer, and bodies far larger
 * than one socket read or write.
 */
class TransportTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";

  /**
   * Skips a native transport that cannot load here, loudly, or fails when it should load. A
   * transport that is simply missing would otherwise pass the suite untested, wherever a
   * container blocks it.
   *
   * <p>epoll should load on every Linux x86-64 (the native library the build ships). io_uring
   * should load there too when the kernel is 5.12 or newer (Netty needs 5.9; from 5.12 rings are
   * charged to the memory cgroup, so a small {@code RLIMIT_MEMLOCK} no longer refuses them),
   * {@code kernel.io_uring_disabled} is 0 (or absent), and no seccomp filter is installed
   * ({@code Seccomp: 0} in {@code /proc/self/status}; Docker's default profile is a filter that
   * blocks io_uring). Anywhere else the case is skipped with a {@code WARNING ... NOT TESTED}
   * line on standard output, which the build log shows.
   */
  static void assumeAvailable(String transport) {
    if (transport.equals("io_uring")) {
      if (IoUring.isAvailable()) return;
      String cause = String.valueOf(IoUring.unavailabilityCause());
      String whyNot = ioUringNotExpectedBecause();
      if (whyNot == null) {
        fail("io_uring should load here (Linux x86-64, kernel " + kernel() + " >= 5.12,"
            + " kernel.io_uring_disabled 0, no seccomp filter) but does not: " + cause);
      }
      skipLoudly("io_uring", whyNot + "; Netty says: " + cause);
    } else if (transport.equals("epoll")) {
      if (Epoll.isAvailable()) return;
      String cause = String.valueOf(Epoll.unavailabilityCause());
      if (linuxX64()) fail("epoll should load on Linux x86-64 but does not: " + cause);
      skipLoudly("epoll", "not Linux x86-64; Netty says: " + cause);
    }
  }

  private static void skipLoudly(String transport, String why) {
    String line = "WARNING: the " + transport + " transport is NOT TESTED on this machine: "
        + why;
    System.out.println(line);
    assumeTrue(false, line);
  }

  private static boolean linuxX64() {
    String arch = System.getProperty("os.arch");
    return System.getProperty("os.name").equals("Linux")
        && (arch.equals("amd64") || arch.equals("x86_64"));
  }

  private static String kernel() {
    return System.getProperty("os.version");
  }

  /** Why io_uring may rightly be missing here, or {@code null} when it should load. */
  static String ioUringNotExpectedBecause() {
    if (!linuxX64()) return "not Linux x86-64";
    java.util.regex.Matcher v = java.util.regex.Pattern.compile("^(\\d+)\\.(\\d+)")
        .matcher(kernel());
    if (!v.find()) return "kernel version " + kernel() + " not understood";
    int major = Integer.parseInt(v.group(1));
    int minor = Integer.parseInt(v.group(2));
    if (major < 5 || (major == 5 && minor < 12)) return "kernel " + kernel() + " is before 5.12";
    try {
      Path disabled = Path.of("/proc/sys/kernel/io_uring_disabled");
      if (Files.exists(disabled) && !Files.readString(disabled).trim().equals("0")) {
        return "kernel.io_uring_disabled is " + Files.readString(disabled).trim();
      }
      for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
        if (line.startsWith("Seccomp:") && !line.substring(8).trim().equals("0")) {
          return "a seccomp filter is installed (" + line.trim() + "), as container runtimes"
              + " do by default";
        }
      }
    } catch (java.io.IOException e) {
      return "/proc cannot be read: " + e;
    }
    return null;
  }

  @ParameterizedTest
  @ValueSource(strings = {"nio", "epoll", "io_uring"})
  void proxiesRetriesAndStreamsOnEachTransport(String transport) throws Exception {
    assumeAvailable(transport);
    String yaml = Harness.withServer("  transport: " + transport + "\n");
    try (Harness h = new Harness(yaml, Map.of())) {
      assertThat(JSON.readTree(h.get("/health/detailed").body()).path("transport").asText())
          .isEqualTo(transport);

      // A 429 on the first key is retried on the other; the client sees only the 200.
      String fixture = Fixtures.geminiResponse("generate-content.json");
      h.enqueue(429, Fixtures.geminiError("429-per-minute"));
      h.enqueue(200, fixture);
      HttpResponse<String> ok = h.post(GENERATE, ProxyRoutesTest.GENERATE_BODY,
          "x-goog-api-key", Harness.TOKEN);
      assertThat(ok.statusCode()).isEqualTo(200);
      assertThat(ok.body()).isEqualTo(fixture);
      RecordedRequest first = h.upstream.takeRequest(5, TimeUnit.SECONDS);
      RecordedRequest second = h.upstream.takeRequest(5, TimeUnit.SECONDS);
      assertThat(first.getHeaders().get("x-goog-api-key"))
          .isNotEqualTo(second.getHeaders().get("x-goog-api-key"));
      ProxyRoutesTest.assertPoolKeyOnly(second, "x-goog-api-key");

      // 3 MB up and 3 MB down: many partial reads and writes on both sockets.
      String big = "{\"contents\":[{\"parts\":[{\"text\":\"" + "x".repeat(3 << 20) + "\"}]}]}";
      String bigAnswer = "{\"candidates\":[],\"pad\":\"" + "y".repeat(3 << 20) + "\"}";
      h.enqueue(200, bigAnswer);
      HttpResponse<String> large = h.post(GENERATE, big, "x-goog-api-key", Harness.TOKEN);
      assertThat(large.statusCode()).isEqualTo(200);
      assertThat(large.body()).isEqualTo(bigAnswer);
      assertThat(h.upstream.takeRequest(5, TimeUnit.SECONDS).getBody().utf8()).isEqualTo(big);

      // A chunked event stream arrives whole and in order.
      String sse = Fixtures.geminiResponse("stream-generate-content.sse");
      h.upstream.enqueue(new MockResponse.Builder().code(200)
          .addHeader("Content-Type", "text/event-stream").chunkedBody(sse, 64).build());
      HttpResponse<InputStream> stream = h.http.send(h.request(
              "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse")
          .header("x-goog-api-key", Harness.TOKEN)
          .POST(HttpRequest.BodyPublishers.ofString(ProxyRoutesTest.GENERATE_BODY)).build(),
          HttpResponse.BodyHandlers.ofInputStream());
      assertThat(stream.statusCode()).isEqualTo(200);
      StringBuilder received = new StringBuilder();
      try (BufferedReader reader = new BufferedReader(new InputStreamReader(stream.body(),
          StandardCharsets.UTF_8))) {
        String line;
        while ((line = reader.readLine()) != null) received.append(line).append('\n');
      }
      assertThat(received.toString().trim()).isEqualTo(sse.trim());
    }
  }

  @Test
  void eventLoopsRunOnFastThreadLocalThreads() throws Exception {
    // Netty 4.2 pools buffers and messages only on these (see ProxyServer).
    try (Harness h = new Harness("")) {
      assertThat(h.get("/health").statusCode()).isEqualTo(200);
      List<Thread> loops = Thread.getAllStackTraces().keySet().stream()
          .filter(t -> t.getName().equals("gemini-rotator-io")).collect(Collectors.toList());
      assertThat(loops).isNotEmpty().allSatisfy(t -> assertThat(
          FastThreadLocalThread.willCleanupFastThreadLocals(t)).as(t.toString()).isTrue());
    }
  }

  @Test
  void autoMovesOnWhenATransportsEventLoopsCannotStart() throws Exception {
    // The first transport auto tries fails as Netty reports a refused ring (io_uring_setup
    // answering ENOMEM when locked memory runs out); the others start for real.
    List<Transport> auto = Transport.candidates("auto");
    if (auto.size() < 2) {
      if (linuxX64()) fail("only NIO loads on Linux x86-64, where epoll should: " + auto);
      skipLoudly("auto fallback", "only NIO loads here, so there is nothing to fall back from");
    }
    Function<Transport, EventLoopGroup> newLoops = t -> {
      if (t == auto.get(0)) {
        throw new IllegalStateException("failed to create a child event loop",
            new ChannelException("io_uring_setup() failed: Cannot allocate memory"));
      }
      return new MultiThreadIoEventLoopGroup(1, t.ioHandlerFactory());
    };
    Transport.Opened opened = Transport.open(auto, newLoops);
    try {
      assertThat(opened.transport()).isEqualTo(auto.get(1));
      assertThat(opened.loops().submit(() -> 42).get(5, TimeUnit.SECONDS)).isEqualTo(42);
    } finally {
      opened.loops().shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    }
    // Named, it is not replaced: the start fails and says which transport and why.
    assertThatThrownBy(() -> Transport.open(Transport.candidates(auto.get(0).label()), newLoops))
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("server.transport " + auto.get(0).label() + ": the event loops could not"
            + " start (io.netty.channel.ChannelException: io_uring_setup() failed: Cannot allocate"
            + " memory)");
    // When none can start, every reason is named.
    assertThatThrownBy(() -> Transport.open(auto, t -> {
      throw new IllegalStateException("failed to create a child event loop",
          new ChannelException(t.label() + " refused"));
    })).isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("server.transport auto: no transport's event loops could start (")
        .hasMessageContaining(auto.get(0).label() + ": io.netty.channel.ChannelException: "
            + auto.get(0).label() + " refused; ")
        .hasMessageEndingWith("nio: io.netty.channel.ChannelException: nio refused)");
  }

  @Test
  void autoTriesWhatLoadsHereAndEndsWithNio() {
    List<Transport> auto = Transport.candidates("auto");
    assertThat(auto).endsWith(Transport.NIO).doesNotHaveDuplicates();
    assertThat(auto.contains(Transport.IO_URING)).isEqualTo(IoUring.isAvailable());
    assertThat(Transport.candidates("NIO")).containsExactly(Transport.NIO);
  }

  @Test
  void anUnknownTransportIsRefusedWithTheChoices(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, "keys: [" + Harness.KEY_1 + "]\nserver:\n  transport: kqueue\n");
    assertThatThrownBy(() -> StandaloneConfig.load(file, Map.of(),
        StandaloneConfig.Overrides.NONE))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.transport must be one of auto, io_uring, epoll, nio"
            + " but was kqueue");
    assertThat(StandaloneConfig.load(file, Map.of("GEMINI_ROTATOR_SERVER_TRANSPORT", "epoll"),
        StandaloneConfig.Overrides.NONE).server().transport()).isEqualTo("epoll");
  }
}
