package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.Test;

/**
 * A pipelined request the disconnect watch partly consumed: what is left of it in the socket must
 * never be parsed as a request of its own (here, a body that looks like a GET).
 */
class PipelinedRemainderTest {

  @Test
  void theRestOfAPartlyConsumedPipelinedRequestIsNeverServed() throws Exception {
    try (Harness h = new Harness("")) {
      String smuggled = "GET /v1beta/models/smuggled HTTP/1.1\r\nHost: x\r\nx-goog-api-key: "
          + Harness.TOKEN + "\r\n\r\n";
      // The watch reads at most 512 bytes: pad the body so that what it leaves starts a GET.
      String head = "POST /v1beta/models/m:generateContent HTTP/1.1\r\nHost: x\r\n"
          + "x-goog-api-key: " + Harness.TOKEN + "\r\nContent-Length: 1000\r\n\r\n";
      StringBuilder body = new StringBuilder();
      while (head.length() + body.length() < 512) body.append(' ');
      body.append(smuggled);
      while (body.length() < 1000) body.append(' ');
      String second = head + body;
      String first = "POST /v1beta/models/m:generateContent HTTP/1.1\r\nHost: x\r\n"
          + "x-goog-api-key: " + Harness.TOKEN + "\r\nContent-Length: 2\r\n\r\n{}";
      java.util.List<String> targets = new java.util.concurrent.CopyOnWriteArrayList<>();
      h.upstream.setDispatcher(new mockwebserver3.Dispatcher() {
        @Override
        public MockResponse dispatch(RecordedRequest r) {
          targets.add(r.getTarget());
          return "2".equals(r.getHeaders().get("Content-Length"))
              ? new MockResponse.Builder().code(200).body("{\"first\":1}")
                  .headersDelay(150, TimeUnit.MILLISECONDS).build()
              : new MockResponse.Builder().code(200).body("{\"other\":2}").build();
        }
      });
      int rounds = 20;
      for (int i = 0; i < rounds; i++) {
        int before = targets.size();
        try (Socket s = new Socket("127.0.0.1", h.proxy.port())) {
          s.setSoTimeout(10_000);
          s.getOutputStream().write(first.getBytes(StandardCharsets.UTF_8));
          s.getOutputStream().flush();
          ClientDisconnectTest.await("first request upstream", () -> targets.size() > before,
              5_000);
          s.getOutputStream().write(second.getBytes(StandardCharsets.UTF_8));
          s.getOutputStream().flush();
          InputStream in = s.getInputStream();
          assertThat(ClientDisconnectTest.readResponse(in)).isEqualTo("200 {\"first\":1}");
          String next;
          try {
            next = ClientDisconnectTest.readResponse(in);
          } catch (java.net.SocketException e) {
            next = null;
          }
          // The second request is answered as itself, or the connection ends unanswered.
          assertThat(next).as("round " + i + ": after the first response")
              .isIn(null, "200 {\"other\":2}");
        }
        Thread.sleep(50);
        assertThat(targets).as("round " + i + ": body bytes served as a request")
            .noneMatch(t -> t.contains("smuggled"));
      }
    }
  }
}
