package dev.geminirotator.standalone.reliability;

import static dev.geminirotator.standalone.Harness.GENERATE;
import static dev.geminirotator.standalone.Harness.KEYS;
import static dev.geminirotator.standalone.Harness.STREAM;
import static dev.geminirotator.standalone.Harness.TOKEN;
import static dev.geminirotator.standalone.Harness.json;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.standalone.Harness;
import dev.geminirotator.standalone.Harness.Yaml;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.Dispatcher;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import mockwebserver3.SocketEffect;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The upstream resets, stalls or crawls: retried when safe, never a hang or a silent truncation. */
@ExtendWith(SecretScan.class)
class UpstreamFailuresTest {

  static final ObjectMapper JSON = new ObjectMapper();
  static final String BODY = "{\"contents\":[{\"parts\":[{\"text\":\"hello\"}]}]}";
  static final String SSE_HEAD = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\n"
      + "Transfer-Encoding: chunked\r\n\r\n";

  Harness f;
  RawUpstream raw;
  final CountDownLatch release = new CountDownLatch(1);

  @AfterEach
  void stop() {
    release.countDown();
    if (f != null) f.close();
    if (raw != null) raw.close();
  }

  @Test
  void aResetBeforeHeadersIsRetriedOnAnotherKeyWithTheSameBody() throws Exception {
    f = Harness.start(Yaml.keys(2));
    f.upstream.enqueue(new MockResponse.Builder()
        .onResponseStart(new SocketEffect.CloseSocket(true, false, false)).build());
    f.enqueue(200, Fixtures.geminiResponse("generate-content.json"));

    HttpResponse<String> response = f.post(GENERATE, BODY, "x-goog-api-key", TOKEN);

    assertThat(response.statusCode()).isEqualTo(200);
    assertThat(response.body()).isEqualTo(Fixtures.geminiResponse("generate-content.json"));
    RecordedRequest first = f.upstream.takeRequest(5, TimeUnit.SECONDS);
    RecordedRequest second = f.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(second.getBody().utf8()).isEqualTo(BODY);
    assertThat(first.getBody().utf8()).isEqualTo(BODY);
    assertThat(List.of(first.getHeaders().get("x-goog-api-key"),
        second.getHeaders().get("x-goog-api-key"))).containsExactlyInAnyOrder(KEYS.get(0),
        KEYS.get(1));
  }

  @Test
  void aResetBeforeHeadersOfANonReplayableUploadChunkIsNotSentToAnotherKey() throws Exception {
    f = Harness.start(Yaml.keys(2));
    String base = f.upstream.url("/").toString().replaceAll("/$", "");
    f.upstream.enqueue(new MockResponse.Builder().code(200)
        .addHeader("X-Goog-Upload-URL", base + "/upload/v1beta/files?upload_id=UP-7"
            + "&upload_protocol=resumable")
        .addHeader("X-Goog-Upload-Status", "active").body("").build());
    f.upstream.enqueue(new MockResponse.Builder()
        .onResponseStart(new SocketEffect.CloseSocket(true, false, false)).build());
    f.enqueue(200, "{}"); // would be taken by a wrong retry

    HttpResponse<String> started = f.send(f.request("/upload/v1beta/files")
        .header("x-goog-api-key", TOKEN).header("X-Goog-Upload-Protocol", "resumable")
        .header("X-Goog-Upload-Command", "start").header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"file\":{}}")).build());
    assertThat(started.statusCode()).isEqualTo(200);
    String key = f.upstream.takeRequest(5, TimeUnit.SECONDS).getHeaders().get("x-goog-api-key");

    HttpResponse<String> chunk = f.send(f.request("/upload/v1beta/files?upload_id=UP-7"
            + "&upload_protocol=resumable")
        .header("x-goog-api-key", TOKEN).header("X-Goog-Upload-Command", "upload, finalize")
        .header("X-Goog-Upload-Offset", "0")
        .POST(HttpRequest.BodyPublishers.ofString("hello")).build());

    // The upload lives on one key's project: replaying the chunk elsewhere cannot succeed.
    assertThat(chunk.statusCode()).isEqualTo(502);
    assertThat(Harness.problem(chunk.body()).get("type").asText()).endsWith("upstream-unreachable");
    RecordedRequest sent = f.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(sent.getHeaders().get("x-goog-api-key")).isEqualTo(key);
    assertThat(f.upstream.getRequestCount()).as("no second attempt").isEqualTo(2);
  }

  /** Sends a raw request to the proxy and reads until EOF or reset; a hang fails the test. */
  static String readToEnd(Harness f, String request) throws IOException {
    try (Socket s = new Socket("127.0.0.1", f.port)) {
      s.setSoTimeout(8_000);
      s.getOutputStream().write(request.getBytes(StandardCharsets.UTF_8));
      s.getOutputStream().flush();
      ByteArrayOutputStream got = new ByteArrayOutputStream();
      InputStream in = s.getInputStream();
      byte[] buf = new byte[4096];
      try {
        int n;
        while ((n = in.read(buf)) >= 0) got.write(buf, 0, n);
      } catch (SocketTimeoutException e) {
        throw new AssertionError("the client hung: no end of stream within 8s; got "
            + got.toString(StandardCharsets.UTF_8), e);
      } catch (SocketException e) {
        // a reset is an abnormal end too
      }
      return got.toString(StandardCharsets.UTF_8);
    }
  }

  static String streamRequest() {
    return "POST " + STREAM + " HTTP/1.1\r\nHost: x\r\nx-goog-api-key: " + TOKEN
        + "\r\nContent-Type: application/json\r\nContent-Length: " + BODY.length()
        + "\r\nConnection: close\r\n\r\n" + BODY;
  }

  @Test
  void aStreamResetMidwayEndsWithoutTheTerminatingChunk() throws Exception {
    raw = new RawUpstream((head, out, socket) -> {
      out.write(SSE_HEAD.getBytes(StandardCharsets.US_ASCII));
      out.write(RawUpstream.chunk("data: {\"n\":1}\r\n\r\n"));
      out.flush();
      Thread.sleep(100);
      RawUpstream.reset(socket);
    });
    f = Harness.startWithUpstream(Yaml.keys(2), raw.baseUrl());

    String response = readToEnd(f, streamRequest());

    assertThat(response).startsWith("HTTP/1.1 200").contains("data: {\"n\":1}");
    // A clean end of a chunked body is the zero-length chunk: it must not be there.
    assertThat(response).doesNotEndWith("0\r\n\r\n");
    assertThat(raw.requests.get()).as("a started stream is never replayed").isEqualTo(1);

    // A client library sees an error, not a short 200.
    HttpRequest request = f.request(STREAM).header("x-goog-api-key", TOKEN)
        .POST(HttpRequest.BodyPublishers.ofString(BODY)).build();
    assertThatThrownBy(() -> f.send(request)).isInstanceOf(IOException.class);
    assertThat(f.get("/health").statusCode()).isEqualTo(200);
  }

  @Test
  void aResponseCutShortOfItsContentLengthIsAnErrorForTheClient() throws Exception {
    raw = new RawUpstream((head, out, socket) -> {
      out.write(("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000"
          + "\r\n\r\n{\"candidates\":[").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      Thread.sleep(100);
      RawUpstream.reset(socket);
    });
    f = Harness.startWithUpstream(Yaml.keys(2), raw.baseUrl());

    assertThatThrownBy(() -> f.post(GENERATE, BODY, "x-goog-api-key", TOKEN))
        .isInstanceOf(IOException.class);
    String response = readToEnd(f, streamRequest().replace(STREAM, GENERATE));
    assertThat(response).startsWith("HTTP/1.1 200");
    String body = response.substring(response.indexOf("\r\n\r\n") + 4);
    assertThat(body.length()).isLessThan(1000);
  }

  @Test
  void aStalledStreamIsEndedByTheUpstreamIdleTimeout() throws Exception {
    raw = new RawUpstream((head, out, socket) -> {
      out.write(SSE_HEAD.getBytes(StandardCharsets.US_ASCII));
      out.write(RawUpstream.chunk("data: {\"n\":1}\r\n\r\n"));
      out.flush();
      release.await(30, TimeUnit.SECONDS); // then silence
    });
    f = Harness.startWithUpstream(Yaml.keys(2).upstreamLines(
        "  connect-timeout: 1s\n  request-timeout: 20s\n  idle-timeout: 400ms\n"), raw.baseUrl());

    long start = System.nanoTime();
    String response = readToEnd(f, streamRequest());
    long millis = (System.nanoTime() - start) / 1_000_000;

    assertThat(response).startsWith("HTTP/1.1 200").contains("data: {\"n\":1}")
        .doesNotEndWith("0\r\n\r\n");
    assertThat(millis).as("ended by the 400ms idle timeout, not the 20s request timeout")
        .isBetween(350L, 8_000L);
  }

  @Test
  void slowHeadersHitTheRequestTimeoutOnEachKeyThenA504() throws Exception {
    f = Harness.start(Yaml.keys(2).upstreamLines(
        "  connect-timeout: 1s\n  request-timeout: 500ms\n  idle-timeout: 5s\n"));
    for (int i = 0; i < 2; i++) {
      f.upstream.enqueue(new MockResponse.Builder().code(200).body("{}")
          .headersDelay(3, TimeUnit.SECONDS).build());
    }

    long start = System.nanoTime();
    HttpResponse<String> response = f.generate();
    long millis = (System.nanoTime() - start) / 1_000_000;

    assertThat(response.statusCode()).isEqualTo(504);
    assertThat(Harness.problem(response.body()).get("type").asText()).endsWith("upstream-timeout");
    assertThat(f.upstream.getRequestCount()).as("one timed-out attempt per key").isEqualTo(2);
    assertThat(millis).as("two 500ms timeouts, not the upstream's 3s delay")
        .isBetween(900L, 2_900L);
  }

  @Test
  void slowStreamsDoNotStarveFastRequests() throws Exception {
    f = Harness.start(Yaml.keys(3));
    StringBuilder events = new StringBuilder();
    for (int i = 0; i < 20; i++) events.append("data: {\"n\":").append(i).append("}\r\n\r\n");
    String sse = events.toString();
    f.upstream.setDispatcher(new Dispatcher() {
      @Override
      public MockResponse dispatch(RecordedRequest request) {
        if (request.getTarget().contains("streamGenerateContent")) {
          // ~360 bytes at 30 bytes per 250ms: about 3 seconds per stream.
          return new MockResponse.Builder().code(200).body(sse)
              .addHeader("Content-Type", "text/event-stream")
              .throttleBody(30, 250, TimeUnit.MILLISECONDS).build();
        }
        return json(200, Fixtures.geminiResponse("generate-content.json"));
      }
    });

    int streamCount = 16;
    List<CompletableFuture<HttpResponse<String>>> streams = new ArrayList<>();
    for (int i = 0; i < streamCount; i++) {
      streams.add(f.http.sendAsync(f.request(STREAM).header("x-goog-api-key", TOKEN)
          .POST(HttpRequest.BodyPublishers.ofString(BODY)).build(),
          HttpResponse.BodyHandlers.ofString()));
    }
    Eventually.until("all streams reached upstream",
        () -> f.upstream.getRequestCount() >= streamCount);

    for (int i = 0; i < 20; i++) {
      HttpResponse<String> fast = f.generate();
      assertThat(fast.statusCode()).isEqualTo(200);
    }
    // Every fast request was served while all slow streams were still running.
    assertThat(streams).noneMatch(CompletableFuture::isDone);

    for (CompletableFuture<HttpResponse<String>> s : streams) {
      HttpResponse<String> done = s.get(20, TimeUnit.SECONDS);
      assertThat(done.statusCode()).isEqualTo(200);
      assertThat(done.body()).isEqualTo(sse);
    }
  }
}
