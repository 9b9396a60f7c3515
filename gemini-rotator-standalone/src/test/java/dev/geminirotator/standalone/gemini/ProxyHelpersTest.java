package dev.geminirotator.standalone.gemini;

import static org.assertj.core.api.Assertions.assertThat;

import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import org.junit.jupiter.api.Test;

/** The per-request helpers: route labels from the parsed route, hop-by-hop headers. */
class ProxyHelpersTest {

  @Test
  void theRouteLabelComesFromTheParsedRoute() {
    assertThat(GeminiProxy.routeOf("POST", "/v1beta/models/gemini-2.5-flash:generateContent",
        null)).isEqualTo("generate");
    assertThat(GeminiProxy.routeOf("POST", "/v1/models/m:streamGenerateContent", "alt=sse"))
        .isEqualTo("stream");
    assertThat(GeminiProxy.routeOf("POST", "/v1beta/models/m:countTokens", null))
        .isEqualTo("count-tokens");
    assertThat(GeminiProxy.routeOf("POST", "/v1beta/models/m:batchEmbedContents", null))
        .isEqualTo("embed");
    assertThat(GeminiProxy.routeOf("POST", "/v1beta/models/m:batchGenerateContent", null))
        .isEqualTo("models");
    assertThat(GeminiProxy.routeOf("GET", "/v1beta/models/m", null)).isEqualTo("models");
    assertThat(GeminiProxy.routeOf("POST", "/v1beta/openai/chat/completions", null))
        .isEqualTo("openai");
    assertThat(GeminiProxy.routeOf("POST", "/v1/openai/chat/completions", null))
        .isEqualTo("openai");
    assertThat(GeminiProxy.routeOf("POST", "/upload/v1beta/files", "upload_id=u"))
        .isEqualTo("upload");
    assertThat(GeminiProxy.routeOf("GET", "/v1beta/files", null)).isEqualTo("files");
    assertThat(GeminiProxy.routeOf("DELETE", "/v1beta/files/abc", null)).isEqualTo("files");
    assertThat(GeminiProxy.routeOf("GET", "/v1beta/cachedContents/c", null))
        .isEqualTo("cached-contents");
    assertThat(GeminiProxy.routeOf("GET", "/v1beta/batches/b", null)).isEqualTo("other");
    assertThat(GeminiProxy.routeOf("GET", "/v1beta/somethingElse", null)).isEqualTo("other");
  }

  @Test
  void statusLabelsAreExactForKnownStatusesAndTheClassOtherwise() {
    for (int status : ProxyMetrics.EXACT_STATUSES) {
      assertThat(ProxyMetrics.statusLabel(status)).isEqualTo(Integer.toString(status));
    }
    assertThat(ProxyMetrics.statusLabel(201)).isEqualTo("2xx");
    assertThat(ProxyMetrics.statusLabel(418)).isEqualTo("4xx");
    assertThat(ProxyMetrics.statusLabel(599)).isEqualTo("5xx");
    assertThat(ProxyMetrics.statusLabel(100)).isEqualTo("1xx");
    assertThat(ProxyMetrics.statusLabel(99)).isEqualTo("other");
    assertThat(ProxyMetrics.statusLabel(600)).isEqualTo("other");
    assertThat(ProxyMetrics.statusLabel(-1)).isEqualTo("other");
    assertThat(ProxyMetrics.statusLabel(200)).as("made once, not per request")
        .isSameAs(ProxyMetrics.statusLabel(200));
  }

  @Test
  void everyConnectionHeaderNamesHopByHopHeaders() {
    HttpHeaders h = new DefaultHttpHeaders();
    h.add("Connection", "keep-alive");
    h.add("Connection", "X-Foo, x-bar");
    assertThat(HeaderCopy.connectionTokens(h)).contains("x-foo", "X-BAR", "keep-alive");
    HttpHeaders usual = new DefaultHttpHeaders().add("Connection", "Keep-Alive");
    assertThat(HeaderCopy.connectionTokens(usual)).isEmpty();
    HttpHeaders to = new DefaultHttpHeaders();
    HttpHeaders from = new DefaultHttpHeaders().add("Connection", "close")
        .add("Connection", "X-Secret-Hop").add("X-Secret-Hop", "1").add("Content-Type", "a/b")
        .add("Date", "x").add("Transfer-Encoding", "chunked");
    HeaderCopy.copyResponseHeaders(from, to);
    assertThat(to.names()).containsExactly("Content-Type");
  }
}
