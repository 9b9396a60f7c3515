package dev.geminirotator.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.RequestContext;
import okhttp3.HttpUrl;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class GeminiRouteTest {

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "/v1beta/models/gemini-2.5-flash:generateContent, gemini-2.5-flash, false",
      "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse, gemini-2.5-flash, false",
      "/v1/models/gemini-2.5-pro:countTokens, gemini-2.5-pro, false",
      "/v1beta/models/text-embedding-004:batchEmbedContents, text-embedding-004, false",
      "/v1beta/tunedModels/my-tuned-1:generateContent, tunedModels/my-tuned-1, false",
      "/gemini/v1beta/models/gemini-2.5-flash:generateContent, gemini-2.5-flash, false",
      "/v1/projects/p/locations/us/publishers/google/models/gemini-2.5-flash:generateContent,"
          + " gemini-2.5-flash, false",
      "/v1beta/models/gemini-2.5-flash%3AgenerateContent, gemini-2.5-flash, false",
      "/v1beta/models, *, false",
      "/v1beta/models/gemini-2.5-flash, *, false",
      "/v1beta/files/abc, *, false",
      "/upload/v1beta/files, *, false",
      "/v1beta/cachedContents/xyz, *, false",
      "/v1beta/models/:generateContent, *, false",
      "/v1beta/openai/chat/completions, *, true",
      "/v1/openai/embeddings, *, true",
      "/, *, false",
      "/v1beta/models?pageToken=a:b, *, false",
      "/v1beta/models/gemini-2.5-flash?x=%3A, *, false",
      "/v1beta/models/gemini-2.5-flash:generateContent#part, gemini-2.5-flash, false",
      "/v1beta/openai/chat/completions?alt=a:b, *, true",
  })
  void readsTheModelFromThePath(String path, String model, boolean openAi) {
    GeminiRoute route = GeminiRoute.of(HttpUrl.get("https://generativelanguage.googleapis.com"
        + path));
    assertThat(route.model()).isEqualTo(model);
    assertThat(route.openAi()).isEqualTo(openAi);
    assertThat(route.context().model()).isEqualTo(model);
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
      "http://user:pw@127.0.0.1:8080/v1beta/models/gemini-2.5-flash:generateContent,"
          + " gemini-2.5-flash",
      "http://[::1]:8080/v1beta/models/gemini-2.5-pro:countTokens, gemini-2.5-pro",
      "http://127.0.0.1:8080, *",
      "http://h:1/models:x?models/a:b, *",
  })
  void readsThePathWhateverTheAuthority(String url, String model) {
    assertThat(GeminiRoute.of(HttpUrl.get(url)).model()).isEqualTo(model);
  }

  @org.junit.jupiter.api.Test
  void overlongModelNamesAreNotScoped() {
    String name = "m".repeat(GeminiRoute.MAX_MODEL_LENGTH + 1);
    GeminiRoute route = GeminiRoute.of(HttpUrl.get("https://h/v1beta/models/" + name
        + ":generateContent"));
    assertThat(route.model()).isEqualTo(RequestContext.ANY_MODEL);
  }
}
