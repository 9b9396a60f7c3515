package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Issue 15 item 9: README's base URL for OpenAI-compatible clients is the one that works. The
 * OpenAI SDKs append {@code chat/completions} to their base URL, so the base must end in
 * {@code /v1beta/openai/}; the request then reaches Gemini's OpenAI-compatible route.
 */
class ReadmeOpenAiBaseUrlTest {

  private static final Pattern OPENAI_BASE = Pattern.compile(
      "OpenAI-compatible\\s+client's.*?\\sat\\s+`(http://127\\.0\\.0\\.1:4806[^`]*)`",
      Pattern.DOTALL);
  private Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  @Test
  void readmesOpenAiBaseUrlPlusChatCompletionsReachesTheOpenAiRoute() throws Exception {
    Matcher m = OPENAI_BASE.matcher(Files.readString(ReferenceDocsTest.README));
    assertThat(m.find()).as("README names a base URL for OpenAI-compatible clients").isTrue();
    String documented = m.group(1);
    assertThat(documented).isEqualTo("http://127.0.0.1:4806/v1beta/openai/");

    h = new Harness("");
    h.enqueue(200, "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion\",\"choices\":[]}");
    String base = documented.replace("127.0.0.1:4806", "127.0.0.1:" + h.port);
    // What the OpenAI SDKs do: base URL + "chat/completions", the key as a bearer token.
    HttpResponse<String> r = h.send(h.request("/").uri(java.net.URI.create(base
            + "chat/completions")).header("Authorization", "Bearer " + Harness.TOKEN)
        .header("Content-Type", "application/json")
        .POST(java.net.http.HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"gemini-2.5-flash\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}"))
        .build());
    assertThat(r.statusCode()).as(r.body()).isEqualTo(200);
    RecordedRequest upstream = h.upstream.takeRequest();
    assertThat(upstream.getTarget()).isEqualTo("/v1beta/openai/chat/completions");
  }
}
