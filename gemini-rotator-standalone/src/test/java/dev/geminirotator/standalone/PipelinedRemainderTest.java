package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Eventually;
import java.io.InputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
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
      List<String> targets = new java.util.concurrent.CopyOnWriteArrayList<>();
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
      // Pipelined after the second request: once it is answered, every request the proxy read
      // before it on this connection has been answered (they are answered in order).
      String marker = "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
      int rounds = 20;
      for (int i = 0; i < rounds; i++) {
        int before = targets.size();
        List<String> responses = new ArrayList<>();
        try (Socket s = new Socket("127.0.0.1", h.port)) {
          s.setSoTimeout(10_000);
          s.getOutputStream().write(first.getBytes(StandardCharsets.UTF_8));
          s.getOutputStream().flush();
          Eventually.until("first request upstream", () -> targets.size() > before);
          s.getOutputStream().write((second + marker).getBytes(StandardCharsets.UTF_8));
          s.getOutputStream().flush();
          InputStream in = s.getInputStream();
          // Every response until the proxy closes the connection (after the marker at the latest).
          try {
            for (String r = Harness.KeptConnection.readResponse(in); r != null;
                r = Harness.KeptConnection.readResponse(in)) {
              responses.add(r);
            }
          } catch (java.net.SocketException e) {
            // reset: the connection ended too
          }
        }
        assertThat(responses).as("round " + i + ": responses").isNotEmpty();
        assertThat(responses.get(0)).isEqualTo("200 {\"first\":1}");
        // The second request is answered as itself, or the connection ends unanswered; then only
        // the marker may follow.
        List<String> rest = responses.subList(1, responses.size());
        assertThat(rest).as("round " + i + ": after the first response")
            .isIn(List.of(), List.of("200 {\"other\":2}"),
                List.of("200 {\"other\":2}", "200 {\"status\":\"UP\"}"));
        // The connection is closed, by the proxy: nothing more of it will be read. Once no request
        // is in flight, whatever the proxy made of its bytes has reached the upstream.
        Eventually.until("no request in flight", () -> {
          try {
            return h.requestsInFlight() == 0;
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
        });
        assertThat(targets).as("round " + i + ": body bytes served as a request")
            .noneMatch(t -> t.contains("smuggled"));
      }
    }
  }
}
