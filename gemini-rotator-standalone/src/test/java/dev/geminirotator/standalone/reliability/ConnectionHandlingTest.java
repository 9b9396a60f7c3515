package dev.geminirotator.standalone.reliability;

import static dev.geminirotator.standalone.Harness.GENERATE;
import static dev.geminirotator.standalone.Harness.TOKEN;
import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.standalone.Harness;
import dev.geminirotator.standalone.Harness.Yaml;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.MockResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * How one client connection is handled: pipelined requests answered in order and in any number,
 * malformed bodies refused, nothing processed after a refused head, and pooled upstream
 * connections whose idle clock starts afresh when reused. Real sockets throughout.
 */
class ConnectionHandlingTest {

  private static final String AUTH = "x-goog-api-key: " + TOKEN + "\r\n";
  private Harness f;

  @AfterEach
  void stop() {
    if (f != null) f.close();
  }

  private static int count(String text, String needle) {
    int n = 0;
    for (int i = text.indexOf(needle); i >= 0; i = text.indexOf(needle, i + 1)) n++;
    return n;
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrderEvenWhenTheFirstIsSlowerToAnswer() throws Exception {
    f = Harness.start(Yaml.keys(2));
    // /metrics is answered off the event loop, /health at once: the order must still hold.
    String raw = f.rawLatin1("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        + "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
        + "GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        + "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    Matcher types = Pattern.compile("(?m)^Content-Type: (\\S+)").matcher(raw);
    StringBuilder order = new StringBuilder();
    while (types.find()) order.append(types.group(1).startsWith("text/plain") ? 'M' : 'H');
    assertThat(order.toString()).isEqualTo("MHMH");
  }

  @Test
  void manyPipelinedRequestsInOneWriteAreAllAnswered() throws Exception {
    f = Harness.start(Yaml.keys(2));
    StringBuilder requests = new StringBuilder();
    int n = 300; // above Netty's default pipelining limit of 128
    for (int i = 1; i < n; i++) requests.append("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
    requests.append("GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    String raw = f.rawLatin1(requests.toString());
    assertThat(count(raw, "HTTP/1.1 200")).isEqualTo(n);
  }

  @Test
  void aMalformedChunkedBodyIsRefusedWith400AndNeverForwarded() throws Exception {
    f = Harness.start(Yaml.keys(2));
    String raw = f.rawLatin1("POST " + GENERATE + " HTTP/1.1\r\nHost: x\r\n" + AUTH
        + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        + "5\r\n{\"a\":\r\nZZZ\r\n1}\r\n0\r\n\r\n");
    assertThat(raw).startsWith("HTTP/1.1 400").contains("application/json")
        .contains("INVALID_ARGUMENT");
    assertThat(f.upstream.getRequestCount()).isZero();
  }

  @Test
  void requestsPipelinedBehindARefusedHeadAreNotProcessed() throws Exception {
    f = Harness.start(Yaml.keys(2));
    String raw = f.rawLatin1("GET /v1beta/models HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n"
        + "POST " + GENERATE + " HTTP/1.1\r\nHost: x\r\n" + AUTH
        + "Content-Length: 2\r\n\r\n{}");
    assertThat(raw).startsWith("HTTP/1.1 400");
    assertThat(count(raw, "HTTP/1.1 ")).isEqualTo(1);
    assertThat(f.upstream.getRequestCount()).isZero();
  }

  @Test
  void aPooledUpstreamConnectionReusedLateGetsTheWholeIdleTimeout() throws Exception {
    // Upstream idle timeout 2 s, one attempt only: a reused connection that sat idle 1.4 s and
    // then waits 1.2 s for its answer must not time out (it read nothing for 2.6 s in all).
    f = Harness.start(Yaml.keys(2)
        .upstreamLines("  connect-timeout: 1s\n  request-timeout: 5s\n  idle-timeout: 2s\n")
        .attempts("attempts:\n  max-attempts: 1\n"));
    f.enqueue(200, "{\"candidates\":[]}");
    assertThat(f.post(GENERATE, "{}", "x-goog-api-key", TOKEN).statusCode()).isEqualTo(200);
    Thread.sleep(1400);
    f.upstream.enqueue(new MockResponse.Builder().code(200).body("{\"candidates\":[]}")
        .addHeader("Content-Type", "application/json")
        .headersDelay(1200, TimeUnit.MILLISECONDS).build());
    var second = f.post(GENERATE, "{}", "x-goog-api-key", TOKEN);
    assertThat(second.statusCode()).isEqualTo(200);
    assertThat(f.upstream.getRequestCount()).isEqualTo(2);
  }

  @Test
  void anInformationalUpstreamResponseBeforeTheFinalOneIsSkipped() throws Exception {
    f = Harness.start(Yaml.keys(2).attempts("attempts:\n  max-attempts: 1\n"));
    f.upstream.enqueue(new MockResponse.Builder().code(200).body("{\"candidates\":[]}")
        .addHeader("Content-Type", "application/json")
        .addInformationalResponse(new MockResponse.Builder().code(103)
            .addHeader("Link", "</x>; rel=preload").build())
        .build());
    f.enqueue(200, "{\"second\":true}");
    var first = f.post(GENERATE, "{}", "x-goog-api-key", TOKEN);
    assertThat(first.statusCode()).isEqualTo(200);
    assertThat(first.body()).isEqualTo("{\"candidates\":[]}");
    // The connection stays in step: the next request gets its own answer.
    var second = f.post(GENERATE, "{}", "x-goog-api-key", TOKEN);
    assertThat(second.body()).isEqualTo("{\"second\":true}");
  }

  @Test
  void aBodyOverTheLimitSentChunkedGetsA413TheClientCanRead() throws Exception {
    f = Harness.start(Yaml.keys(2).server(
        "  drain-timeout: 3s\n  idle-timeout: 5s\n  max-request-size: 2MB\n"));
    ByteArrayOutputStream req = new ByteArrayOutputStream();
    req.write(("POST " + GENERATE + " HTTP/1.1\r\nHost: x\r\n" + AUTH
        + "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
        + "Connection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
    byte[] chunk = new byte[64 * 1024];
    java.util.Arrays.fill(chunk, (byte) 'a');
    for (int i = 0; i < 40; i++) { // 2.5 MB: over the limit by less than the 1 MiB drained
      req.write((Integer.toHexString(chunk.length) + "\r\n").getBytes(StandardCharsets.US_ASCII));
      req.write(chunk);
      req.write("\r\n".getBytes(StandardCharsets.US_ASCII));
    }
    req.write("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    String raw = f.raw(req.toByteArray());
    assertThat(raw).startsWith("HTTP/1.1 413").contains("request-too-large");
    assertThat(f.upstream.getRequestCount()).isZero();
  }
}
