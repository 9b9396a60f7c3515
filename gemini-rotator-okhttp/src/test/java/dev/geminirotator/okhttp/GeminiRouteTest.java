package dev.geminirotator.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import okhttp3.HttpUrl;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.RequestBody;
import org.junit.jupiter.api.Test;
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
      "/v1beta/models/gemini-2.5-flash, gemini-2.5-flash, false",
      "/v1beta/models/models%2Fgemini-2.5-flash:generateContent, gemini-2.5-flash, false",
      "/v1beta/models/GEMINI-2.5-flash:generateContent, gemini-2.5-flash, false",
      "/v1beta/files/abc, *, false",
      "/upload/v1beta/files, *, false",
      "/v1beta/cachedContents/xyz, *, false",
      "/v1beta/models/:generateContent, *, false",
      "/v1beta/openai/chat/completions, *, true",
      "/v1/openai/embeddings, *, true",
      "/, *, false",
      "/v1beta/models?pageToken=a:b, *, false",
      "/v1beta/models/gemini-2.5-flash?x=%3A, gemini-2.5-flash, false",
      "/v1beta/models/gemini-2.5-flash/operations/op1, *, false",
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

  @Test
  void overlongModelNamesAreNotScoped() {
    String name = "m".repeat(GeminiRoute.MAX_MODEL_LENGTH + 1);
    GeminiRoute route = GeminiRoute.of(HttpUrl.get("https://h/v1beta/models/" + name
        + ":generateContent"));
    assertThat(route.model()).isEqualTo(RequestContext.ANY_MODEL);
  }

  @Test
  void aWholeRequestIsReadWithItsBody() {
    Request chat = new Request.Builder()
        .url("https://generativelanguage.googleapis.com/v1/openai/chat/completions")
        .post(RequestBody.create("{\"model\":\"models/gemini-2.5-pro\","
            + "\"extra_body\":{\"google\":{\"cached_content\":\"cachedContents/c1\"}}}",
            MediaType.get("application/json")))
        .build();
    GeminiRoute route = GeminiRoute.of(chat);
    assertThat(route.openAi()).isTrue();
    assertThat(route.model()).isEqualTo("gemini-2.5-pro");
    assertThat(route.request().resources())
        .containsExactly(new ResourceRef(ResourceKind.CACHED_CONTENT, "cachedContents/c1"));
    assertThat(route.request().version()).isEqualTo("v1");
  }

  @Test
  void theUploadIdComesFromTheQuery() {
    GeminiRoute route = GeminiRoute.of(HttpUrl.get("https://generativelanguage.googleapis.com"
        + "/upload/v1beta/files?upload_id=AHxI-1&upload_protocol=resumable"));
    assertThat(route.request().route()).isEqualTo(GeminiRequest.Route.UPLOAD_CONTINUE);
    assertThat(route.request().resources())
        .containsExactly(new ResourceRef(ResourceKind.UPLOAD, "AHxI-1"));
  }

  @Test
  void oneShotBodiesAreNotRead() {
    RequestBody oneShot = new RequestBody() {
      @Override
      public MediaType contentType() {
        return MediaType.get("application/json");
      }

      @Override
      public long contentLength() {
        return 10;
      }

      @Override
      public boolean isOneShot() {
        return true;
      }

      @Override
      public void writeTo(okio.BufferedSink sink) {
        throw new AssertionError("a one-shot body must not be read");
      }
    };
    Request request = new Request.Builder()
        .url("https://h/v1beta/openai/chat/completions").post(oneShot).build();
    assertThat(GeminiRoute.of(request).model()).isEqualTo(RequestContext.ANY_MODEL);
    assertThat(GeminiRoute.of(request).openAi()).isTrue();
  }

  @Test
  void aGenerateBodyNamingAFileIsRead() {
    Request generate = new Request.Builder()
        .url("https://generativelanguage.googleapis.com/v1beta/models/gemini-2.5-flash"
            + ":generateContent")
        .post(RequestBody.create("{\"contents\":[{\"parts\":[{\"fileData\":{\"fileUri\":"
            + "\"https://generativelanguage.googleapis.com/v1beta/files/abc\"}}]}]}",
            MediaType.get("application/json")))
        .build();
    GeminiRoute route = GeminiRoute.of(generate);
    assertThat(route.model()).isEqualTo("gemini-2.5-flash");
    assertThat(route.request().resources())
        .containsExactly(new ResourceRef(ResourceKind.FILE, "files/abc"));
    // The body stays whole for the request itself.
    assertThat(GeminiRoute.of(generate).request().resources()).hasSize(1);
  }
}
