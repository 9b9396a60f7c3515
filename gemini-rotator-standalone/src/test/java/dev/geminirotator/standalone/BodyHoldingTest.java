package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.config.ConfigException;
import dev.geminirotator.standalone.config.StandaloneConfig;
import dev.geminirotator.standalone.config.StandaloneConfig.Server;
import dev.geminirotator.standalone.http.BodyBudget;
import dev.geminirotator.standalone.http.ClientConnection;
import dev.geminirotator.standalone.http.Listeners;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Issue 14 review: how long and how much a request body may hold before and while it is read.
 * A body holds the budget for the bytes it sent, not for the length it announced; a pipelined
 * body's deadline runs even when no read follows; what one read brings of a pipelined body
 * before its request authenticates is small; and no declared length, however large, gets 500.
 */
class BodyHoldingTest {

  private static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";
  private static final int MAX = 1024 * 1024;

  private Harness h;
  private final List<Socket> sockets = new ArrayList<>();

  @AfterEach
  void stop() throws IOException {
    for (Socket s : sockets) s.close();
    if (h != null) h.close();
  }

  /**
   * Before the fix each trickling client reserved its whole declared length at once: three of
   * them filled a budget of three maximum bodies, and every other body got 503 for as long as
   * the trickles lasted (about 21 minutes at 16 KB/s with the old defaults).
   */
  @Test
  void trickledBodiesAnnouncingTheMaximumSizeDoNotLockOtherClientsOutOfTheBudget()
      throws Exception {
    h = new Harness(Harness.withServer("  max-request-size: 1MB\n  body-budget: 3MB\n"
        + "  body-timeout: 5m\n  idle-timeout: 10m\n"), Map.of());
    BodyBudget budget = h.proxy.bodyBudget();
    for (int i = 0; i < 3; i++) {
      long before = budget.used();
      Socket s = new Socket("127.0.0.1", h.proxy.port());
      sockets.add(s);
      OutputStream out = s.getOutputStream();
      out.write(head(GENERATE, MAX).getBytes(StandardCharsets.US_ASCII));
      out.write(new byte[100]); // the trickle's first bytes; the rest would follow slowly
      out.flush();
      Eventually.until("trickling body " + i + " being read", () -> budget.used() > before);
    }

    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    byte[] small = new byte[1024];
    java.util.Arrays.fill(small, (byte) ' ');
    small[0] = '{';
    small[small.length - 1] = '}';
    var answer = h.send(h.request(GENERATE).header("x-goog-api-key", Harness.TOKEN)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(small)).build());
    assertThat(answer.statusCode()).as(answer.body()).isEqualTo(200);
    // the small body's reservation goes back just after its answer is written: wait for it
    Eventually.until("what three trickles hold: a step each, not 1 MB",
        () -> budget.used() == 3L * ClientConnection.BodyBytes.STEP);
  }

  /**
   * One client (here one access token) may hold at most its share of the budget: half of it, or
   * two of the largest bodies if that is more. Before, one token could fill the whole budget.
   */
  @Test
  void oneClientHoldsAtMostItsShareOfTheBudgetAndOthersStillGetIn() throws Exception {
    h = new Harness(Harness.withServer("  max-request-size: 1MB\n  body-budget: 8MB\n"
        + "  body-timeout: 5m\n  idle-timeout: 10m\n"), Map.of());
    BodyBudget budget = h.proxy.bodyBudget();
    assertThat(budget.clientShare()).isEqualTo(4L * MAX);
    for (int i = 0; i < 3; i++) {
      Socket s = new Socket("127.0.0.1", h.proxy.port());
      sockets.add(s);
      s.getOutputStream().write(head(GENERATE, MAX).getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().write(new byte[MAX - 1]); // all but the last byte
      s.getOutputStream().flush();
      long held = (i + 1L) * MAX;
      Eventually.until("body " + i + " held", () -> budget.used() == held);
    }
    byte[] json = new byte[MAX];
    java.util.Arrays.fill(json, (byte) ' ');
    json[0] = '{';
    json[MAX - 1] = '}';
    // A fourth body of the same token: its growing buffer would take it past 4 MB.
    var refused = h.send(h.request(GENERATE).header("x-goog-api-key", Harness.TOKEN)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(json)).build());
    assertThat(refused.statusCode()).as(refused.body()).isEqualTo(503);
    assertThat(refused.body()).contains("body-budget");
    // Another client's body of the same size fits.
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    var served = h.send(h.request(GENERATE).header("x-goog-api-key", Harness.TOKEN_2)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(json)).build());
    assertThat(served.statusCode()).as(served.body()).isEqualTo(200);
    // The served body's reservation goes back once its response has been written, which may be
    // just after the client has read it.
    Eventually.until("only the three held bodies left in the budget",
        () -> budget.used() == 3L * MAX);
  }

  @Test
  void aClientsShareIsCountedPerClientAndForgottenWhenItHoldsNothing() {
    BodyBudget budget = new BodyBudget(100);
    budget.clientShare(BodyBudget.shareFor(100, 20));
    assertThat(budget.clientShare()).isEqualTo(50);
    assertThat(budget.tryReserve("a", 40)).isTrue();
    assertThat(budget.tryReserve("a", 11)).isFalse();
    assertThat(budget.tryReserve("b", 50)).isTrue();
    assertThat(budget.tryReserve("c", 11)).as("over the limit").isFalse();
    assertThat(budget.used()).isEqualTo(90);
    budget.release("a", 40);
    budget.release("b", 50);
    assertThat(budget.used()).isZero();
    assertThat(budget.usedBy("a")).isZero();
    assertThat(BodyBudget.shareFor(64L << 20, 20L << 20)).as("the default at -Xmx128m")
        .isEqualTo(40L << 20);
    assertThat(BodyBudget.shareFor(2L << 20, 1L << 20)).isEqualTo(2L << 20);
  }

  /** A body's deadline by default: 60 s, plus one second per 256 KB that arrived. */
  @Test
  void noBodyHoldsItsBudgetLongerThanTheTimeoutPlusTheMaximumSizeAtTheMinimumRate() {
    assertThat(Server.DEFAULT_BODY_TIMEOUT).hasSeconds(60);
    assertThat(Server.DEFAULT_BODY_MIN_RATE).isEqualTo(256 * 1024);
    long longest = Server.DEFAULT_BODY_TIMEOUT.toSeconds()
        + Server.DEFAULT_MAX_REQUEST_SIZE / Server.DEFAULT_BODY_MIN_RATE;
    assertThat(longest).as("seconds a default-size body may take at most").isEqualTo(140);
  }

  /**
   * Before the fix a pipelined request taken up after the answer before it was written (outside
   * any read) never started its body clock: a client that then sent nothing held its connection
   * and its share of the budget until the idle timeout.
   */
  @Test
  void aPipelinedBodyThatStallsGets408WithinItsBodyTimeoutNotTheIdleTimeout() throws Exception {
    h = new Harness(Harness.withServer(
        "  body-timeout: 300ms\n  body-min-rate: 1KB\n  idle-timeout: 10m\n"), Map.of());
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .body(Fixtures.geminiResponse("generate-content.json"))
        .headersDelay(1, TimeUnit.SECONDS).build());
    try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(60_000); // well under the 10 minutes of idle timeout
      s.getOutputStream().write((head(GENERATE, 2) + "{}" + head(GENERATE, 1000) + "{        ")
          .getBytes(StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      InputStream in = s.getInputStream();
      String first = readHead(in);
      assertThat(first).startsWith("HTTP/1.1 200");
      skip(in, contentLength(first));
      assertThat(readHead(in)).startsWith("HTTP/1.1 408");
    }
    Eventually.until("the budget back to zero", () -> h.proxy.bodyBudget().used() == 0);
  }

  /**
   * Before the fix one read (up to 64 KB of pooled direct memory, kept alive by the slice the
   * decoder handed on) was held per connection for a pipelined body not yet authenticated: 4,096
   * connections could hold 256 MB.
   */
  @Test
  void whatOneReadBringsOfAPipelinedBodyBeforeItAuthenticatesIsAtMost16Kb() throws Exception {
    h = new Harness("");
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .body(Fixtures.geminiResponse("generate-content.json"))
        .headersDelay(2, TimeUnit.SECONDS).build());
    try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(30_000);
      // A first request with a large body (reads grow to their largest), answered slowly; then a
      // pipelined request without a token and a 1 MB body streaming behind it.
      int firstBody = 300_000;
      byte[] json = new byte[firstBody];
      java.util.Arrays.fill(json, (byte) ' ');
      json[0] = '{';
      json[firstBody - 1] = '}';
      OutputStream out = s.getOutputStream();
      out.write(head(GENERATE, firstBody).getBytes(StandardCharsets.US_ASCII));
      out.write(json);
      out.write(("POST " + GENERATE + " HTTP/1.1\r\nHost: 127.0.0.1\r\n"
          + "Content-Type: application/json\r\nContent-Length: 1000000\r\n\r\n")
          .getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread writer = new Thread(() -> {
        try {
          out.write(new byte[1_000_000]);
          out.flush();
        } catch (IOException e) {
          // closed after the answers: fine
        }
      }, "pipelined-body");
      writer.setDaemon(true);
      writer.start();
      Eventually.until("the first request upstream", () -> h.upstream.getRequestCount() == 1);
      Eventually.untilAsserted("the pipelined body queued",
          () -> assertThat(h.proxy.queuedBodyBytes()).isPositive());
      long held = h.proxy.queuedBufferBytes();
      assertThat(h.upstream.getRequestCount()).as("still the first request's turn").isEqualTo(1);
      assertThat(held).as("buffer bytes kept alive for the waiting request")
          .isPositive().isLessThanOrEqualTo(2 * Listeners.MAX_READ);
      InputStream in = s.getInputStream();
      String first = readHead(in);
      assertThat(first).startsWith("HTTP/1.1 200");
      skip(in, contentLength(first));
      assertThat(readHead(in)).startsWith("HTTP/1.1 401");
    }
  }

  @Test
  void maxRequestSizeIsAtMostOneGigabyte(@TempDir Path dir) throws Exception {
    Path file = dir.resolve("config.yaml");
    Files.writeString(file, "keys: [AIzaSyTEST-pool-key-one-0000000001]\n"
        + "server:\n  max-request-size: 2000MB\n");
    assertThatThrownBy(() -> StandaloneConfig.load(file, Map.of(),
        StandaloneConfig.Overrides.NONE))
        .isInstanceOf(ConfigException.class)
        .hasMessageContaining("server.max-request-size must be at most 1073741824 bytes (1GB)"
            + " but was 2097152000");
    Files.writeString(file, "keys: [AIzaSyTEST-pool-key-one-0000000001]\n"
        + "server:\n  max-request-size: 1GB\n");
    assertThat(StandaloneConfig.load(file, Map.of(), StandaloneConfig.Overrides.NONE)
        .server().maxRequestSize()).isEqualTo(1L << 30);
  }

  /**
   * Before the fix a body declared at the largest size was allocated whole on arrival of its
   * head (1 GB here: an OutOfMemoryError, or a NegativeArraySizeException past 2 GB, so 500).
   */
  @Test
  void hugeDeclaredLengthsAreAnswered413Or408NeverWith500() throws Exception {
    h = new Harness(Harness.withServer("  max-request-size: 1GB\n  body-timeout: 300ms\n"
        + "  body-min-rate: 0\n"), Map.of());
    for (String length : List.of("3000000000", "99999999999999", "9223372036854775807")) {
      String answer = h.raw(head(GENERATE, -1).replace("Content-Length: -1",
          "Content-Length: " + length) + "{}");
      assertThat(answer).as(length).startsWith("HTTP/1.1 413");
    }
    try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
      s.setSoTimeout(30_000);
      s.getOutputStream().write((head(GENERATE, 1 << 30) + "{ ").getBytes(
          StandardCharsets.US_ASCII));
      s.getOutputStream().flush();
      assertThat(readHead(s.getInputStream())).startsWith("HTTP/1.1 408");
    }
    Eventually.until("the budget back to zero", () -> h.proxy.bodyBudget().used() == 0);
  }

  /**
   * A chunked body is copied to its exact length once it ends, and for that moment both arrays
   * exist. Before the fix only the larger one was counted: here the copy would have taken the
   * heap 536 KB past the budget; now it is reserved first, and as it does not fit, 503.
   */
  @Test
  void aChunkedBodysExactCopyIsReservedBesideItsBuffer() throws Exception {
    h = new Harness(Harness.withServer("  max-request-size: 600KB\n  body-budget: 1200KB\n"
        + "  body-timeout: 5m\n"), Map.of());
    BodyBudget budget = h.proxy.bodyBudget();
    Socket other = new Socket("127.0.0.1", h.proxy.port());
    sockets.add(other);
    other.getOutputStream().write((head(GENERATE, 600_000) + "{").getBytes(StandardCharsets.US_ASCII));
    other.getOutputStream().flush();
    Eventually.until("another body holding one step",
        () -> budget.used() == ClientConnection.BodyBytes.STEP);

    // Its buffer grows to the 600 KB limit (614,400 bytes), and 600,000 bytes must be copied out.
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    byte[] json = new byte[600_000];
    java.util.Arrays.fill(json, (byte) ' ');
    json[0] = '{';
    json[json.length - 1] = '}';
    var answer = h.send(h.request(GENERATE).header("x-goog-api-key", Harness.TOKEN)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofInputStream(
            () -> new java.io.ByteArrayInputStream(json))).build());
    assertThat(answer.statusCode()).as("614,400 + 600,000 + 65,536 > 1,228,800")
        .isEqualTo(503);
    Eventually.until("only the holder's step left in the budget",
        () -> budget.used() == ClientConnection.BodyBytes.STEP);
    assertThat(h.upstream.getRequestCount()).isZero();
  }

  static String head(String path, int contentLength) {
    return "POST " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        + "x-goog-api-key: " + Harness.TOKEN + "\r\nContent-Length: " + contentLength + "\r\n\r\n";
  }

  static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    for (int b; matched < 4 && (b = in.read()) != -1; ) {
      head.write(b);
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    return head.toString(StandardCharsets.US_ASCII);
  }

  static int contentLength(String head) {
    var m = java.util.regex.Pattern.compile("(?i)\r\ncontent-length: *(\\d+)").matcher(head);
    assertThat(m.find()).as("a Content-Length in %s", head).isTrue();
    return Integer.parseInt(m.group(1));
  }

  static void skip(InputStream in, int n) throws IOException {
    assertThat(in.readNBytes(n)).hasSize(n);
  }
}
