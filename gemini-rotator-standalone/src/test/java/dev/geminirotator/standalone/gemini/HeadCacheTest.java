package dev.geminirotator.standalone.gemini;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequests;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import org.junit.jupiter.api.Test;

/** The per-thread cache of request heads: a repeated head is found, never a wrong one. */
class HeadCacheTest {

  private static final String GENERATE = "/v1beta/models/gemini-2.5-flash:generateContent";

  /** The same text as a new instance, as each request's decoder makes it. */
  private static String fresh(String s) {
    return s == null ? null : new String(s.toCharArray());
  }

  @Test
  void aRepeatedHeadIsParsedOnce() {
    HeadCache.Head first = HeadCache.of("POST", fresh(GENERATE), null);
    assertThat(HeadCache.of(fresh("POST"), fresh(GENERATE), null)).isSameAs(first);
    HeadCache.Head stream = HeadCache.of("POST", "/v1beta/models/m:streamGenerateContent",
        "alt=sse");
    assertThat(HeadCache.of("POST", "/v1beta/models/m:streamGenerateContent", fresh("alt=sse")))
        .isSameAs(stream);
  }

  @Test
  void aHeadIsWhatCoreParsesWithItsRouteAndTarget() {
    String[][] heads = {
        {"POST", GENERATE, null},
        {"GET", "/v1beta/models/gemini-2.5-pro", null},
        {"POST", "/v1beta/files", null},
        {"DELETE", "/v1beta/files/abc", null},
        {"POST", "/upload/v1beta/files", "upload_id=u1&upload_protocol=resumable"},
        {"POST", "/v1beta/openai/chat/completions", null},
        {"GET", "/v1beta/models/m|x", "a={b}"},
    };
    for (String[] h : heads) {
      HeadCache.Head head = HeadCache.of(h[0], h[1], h[2]);
      GeminiRequest parsed = GeminiRequests.parse(h[0], h[1], h[2], null);
      assertThat(head.request()).as(String.join(" ", h[0], h[1])).isEqualTo(parsed);
      assertThat(head.route()).isEqualTo(GeminiProxy.routeOf(parsed, h[1]));
    }
    assertThat(HeadCache.of("GET", "/v1beta/models/m|x", "a={b}").target())
        .isEqualTo("/v1beta/models/m%7Cx?a=%7Bb%7D");
    assertThat(HeadCache.of("POST", GENERATE, null).target()).isEqualTo(GENERATE);
  }

  @Test
  void headsThatDifferInMethodOrQueryAreNotConfused() {
    HeadCache.Head create = HeadCache.of("POST", "/v1beta/cachedContents", null);
    HeadCache.Head list = HeadCache.of("GET", "/v1beta/cachedContents", null);
    assertThat(create.request().creates()).isEqualTo(ResourceKind.CACHED_CONTENT);
    assertThat(list.request().creates()).isNull();
    assertThat(HeadCache.of("POST", "/v1beta/cachedContents", null).request().creates())
        .isEqualTo(ResourceKind.CACHED_CONTENT);

    HeadCache.Head start = HeadCache.of("POST", "/upload/v1beta/files", null);
    HeadCache.Head chunk = HeadCache.of("POST", "/upload/v1beta/files", "upload_id=u7");
    assertThat(start.request().route()).isEqualTo(GeminiRequest.Route.UPLOAD_START);
    assertThat(chunk.request().route()).isEqualTo(GeminiRequest.Route.UPLOAD_CONTINUE);
    assertThat(HeadCache.of("POST", "/upload/v1beta/files", null)).isSameAs(start);
  }

  @Test
  void aQueryCarryingAClientCredentialIsNeitherKeptNorForwarded() {
    HeadCache.Head one = HeadCache.of("POST", GENERATE, "key=client-token-1");
    HeadCache.Head two = HeadCache.of("POST", GENERATE, "key=client-token-1");
    assertThat(two).as("not kept").isNotSameAs(one);
    assertThat(one.target()).isEqualTo(GENERATE);
    assertThat(HeadCache.of("POST", GENERATE, "alt=sse&access_token=t").target())
        .isEqualTo(GENERATE + "?alt=sse");
  }

  @Test
  void anUploadSessionIdIsNotKept() {
    String query = "upload_id=AHxI-session-1&upload_protocol=resumable";
    HeadCache.Head one = HeadCache.of("PUT", "/upload/v1beta/files", query);
    HeadCache.Head two = HeadCache.of("PUT", "/upload/v1beta/files", query);
    assertThat(two).as("not kept: the id lets its holder write to the upload").isNotSameAs(one);
    assertThat(one.request().resources()).isNotEmpty();
  }

  @Test
  void aLongPathIsParsedButNotKept() {
    String longPath = "/v1beta/models/" + "m".repeat(HeadCache.MAX_LENGTH) + ":generateContent";
    HeadCache.Head one = HeadCache.of("POST", longPath, null);
    assertThat(one.request()).isEqualTo(GeminiRequests.parse("POST", longPath, null, null));
    assertThat(HeadCache.of("POST", longPath, null)).isNotSameAs(one);
  }
}
