package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

/** The per-request helpers that replaced a regex and lower-casing: same answers as before. */
class ProxyHelpersTest {

  @Test
  void theModelIsTheFirstNonEmptyNameAfterModelsOrTunedModels() {
    assertThat(GeminiProxy.modelInPath("/v1beta/models/gemini-2.5-flash:generateContent"))
        .isEqualTo("gemini-2.5-flash");
    assertThat(GeminiProxy.modelInPath("/v1beta/tunedModels/my-tune:generateContent"))
        .isEqualTo("my-tune");
    assertThat(GeminiProxy.modelInPath("/v1beta/models/embedding-001")).isEqualTo("embedding-001");
    // An empty name does not stop the search (the old regex went on to the next match).
    assertThat(GeminiProxy.modelInPath("/v1beta/models/:x/models/gemini-pro"))
        .isEqualTo("gemini-pro");
    assertThat(GeminiProxy.modelInPath("/v1beta/models/")).isNull();
    assertThat(GeminiProxy.modelInPath("/v1beta/files/abc")).isNull();
  }

  @Test
  void everyConnectionHeaderNamesHopByHopHeaders() {
    HttpHeaders h = new DefaultHttpHeaders();
    h.add("Connection", "keep-alive");
    h.add("Connection", "X-Foo, x-bar");
    assertThat(GeminiProxy.connectionTokens(h)).contains("x-foo", "X-BAR", "keep-alive");
    HttpHeaders usual = new DefaultHttpHeaders().add("Connection", "Keep-Alive");
    assertThat(GeminiProxy.connectionTokens(usual)).isEmpty();
    HttpHeaders to = new DefaultHttpHeaders();
    HttpHeaders from = new DefaultHttpHeaders().add("Connection", "close")
        .add("Connection", "X-Secret-Hop").add("X-Secret-Hop", "1").add("Content-Type", "a/b")
        .add("Date", "x").add("Transfer-Encoding", "chunked");
    GeminiProxy.copyResponseHeaders(from, to);
    assertThat(to.names()).containsExactly("Content-Type");
  }
}
