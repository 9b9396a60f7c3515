package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Fixtures;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** RFC 9112 section 3.2: exactly one Host on HTTP/1.1, at most one on HTTP/1.0. */
class HostHeaderTest {

  private static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";
  private Harness h;

  @BeforeEach
  void start() throws Exception {
    h = new Harness("");
  }

  @AfterEach
  void stop() {
    h.close();
  }

  private String post(String version, String hostLines) throws Exception {
    return h.raw("POST " + GENERATE + " " + version + "\r\n" + hostLines
        + "x-goog-api-key: " + Harness.TOKEN + "\r\nContent-Type: application/json\r\n"
        + "Content-Length: 2\r\nConnection: close\r\n\r\n{}");
  }

  /** Answers the upstream would give, so that a request let through fails fast, not by timeout. */
  private void upstreamWouldAnswer(int times) {
    for (int i = 0; i < times; i++) {
      h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    }
  }

  @Test
  void http11RequestWithoutHostIsRefusedWith400() throws Exception {
    upstreamWouldAnswer(1);
    String raw = post("HTTP/1.1", "");
    assertThat(raw).startsWith("HTTP/1.1 400").contains("Host");
    assertThat(h.upstream.getRequestCount()).isZero();
  }

  @Test
  void requestWithTwoHostsIsRefusedWith400() throws Exception {
    upstreamWouldAnswer(2);
    String raw = post("HTTP/1.1", "Host: 127.0.0.1\r\nHost: evil.example\r\n");
    assertThat(raw).startsWith("HTTP/1.1 400").contains("Host");
    String http10 = post("HTTP/1.0", "Host: a\r\nHost: b\r\n");
    assertThat(http10).startsWith("HTTP/1.1 400");
    assertThat(h.upstream.getRequestCount()).isZero();
  }

  @Test
  void http10RequestWithoutHostIsServed() throws Exception {
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    String raw = post("HTTP/1.0", "");
    assertThat(raw).startsWith("HTTP/1.0 200");
    assertThat(h.upstream.getRequestCount()).isEqualTo(1);
  }

  @Test
  void http11RequestWithOneHostIsServed() throws Exception {
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(post("HTTP/1.1", "Host: 127.0.0.1\r\n")).startsWith("HTTP/1.1 200");
  }
}
