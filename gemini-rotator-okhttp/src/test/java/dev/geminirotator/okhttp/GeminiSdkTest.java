package dev.geminirotator.okhttp;

import static dev.geminirotator.okhttp.Pools.CALLER_SECRET;
import static dev.geminirotator.okhttp.Pools.MODEL;
import static dev.geminirotator.okhttp.Pools.json;
import static dev.geminirotator.okhttp.Pools.take;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.genai.Client;
import com.google.genai.ResponseStream;
import com.google.genai.errors.ApiException;
import com.google.genai.types.ClientOptions;
import com.google.genai.types.CountTokensResponse;
import com.google.genai.types.GenerateContentResponse;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttp;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The official Google GenAI SDK (built against OkHttp 4.12) driving an OkHttp 5 client that
 * carries the interceptor. The SDK's own RetryInterceptor is turned off ({@code attempts(1)}):
 * left on, it retries a 429 itself on the same request, so the rotator never sees it.
 */
class GeminiSdkTest {

  private final FakeClock clock = FakeClock.standard();
  private MockWebServer server;
  private GeminiKeyRotator rotator;
  private Client gemini;

  @BeforeEach
  void start() throws IOException {
    server = new MockWebServer();
    server.start();
    rotator = Pools.rotator(clock, 3);

    // The snippet for the README, as a user writes it.
    OkHttpClient okHttp = new OkHttpClient.Builder()
        .addInterceptor(GeminiKeyInterceptor.builder().rotator(rotator).clock(clock).build())
        .build();
    gemini = Client.builder()
        .apiKey(CALLER_SECRET) // required by the SDK; replaced by a pool key on every call
        .clientOptions(ClientOptions.builder().customHttpClient(okHttp).build())
        .httpOptions(HttpOptions.builder()
            .baseUrl(server.url("/").toString())
            .retryOptions(HttpRetryOptions.builder().attempts(1).build())
            .build())
        .build();
  }

  @AfterEach
  void stop() {
    gemini.close();
    server.close();
    rotator.close();
  }

  private List<RecordedRequest> recorded(int n) throws InterruptedException {
    List<RecordedRequest> requests = new ArrayList<>();
    for (int i = 0; i < n; i++) requests.add(take(server));
    return requests;
  }

  @Test
  void runsOnOkHttp5() {
    assertThat(OkHttp.VERSION).startsWith("5.");
  }

  @Test
  void generateContentStreamAndCountTokensSucceedThroughTheInterceptor() throws Exception {
    server.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    server.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(Fixtures.geminiResponse("stream-generate-content.sse")).build());
    server.enqueue(json(200, Fixtures.geminiResponse("count-tokens.json")));

    GenerateContentResponse generated = gemini.models.generateContent(MODEL, "hello", null);
    assertThat(generated.text()).startsWith("Key rotation spreads requests");

    StringBuilder streamed = new StringBuilder();
    try (ResponseStream<GenerateContentResponse> stream =
        gemini.models.generateContentStream(MODEL, "hello", null)) {
      for (GenerateContentResponse chunk : stream) {
        streamed.append(chunk.text());
      }
    }
    assertThat(streamed.toString()).isEqualTo("Key rotation spreads requests across several"
        + " credentials so no single one exhausts its quota.");

    CountTokensResponse tokens = gemini.models.countTokens(MODEL, "hello", null);
    assertThat(tokens.totalTokens()).contains(12);

    List<RecordedRequest> requests = recorded(3);
    assertThat(requests).extracting(Pools::keyOf).containsExactly("k1", "k2", "k3");
    assertThat(requests.get(0).getUrl().encodedPath()).endsWith("/models/" + MODEL
        + ":generateContent");
    assertThat(requests.get(1).getUrl().encodedPath()).endsWith(":streamGenerateContent");
    assertThat(requests.get(1).getUrl().queryParameter("alt")).isEqualTo("sse");
    assertThat(requests.get(2).getUrl().encodedPath()).endsWith(":countTokens");
    for (RecordedRequest request : requests) {
      assertThat(request.getTarget() + request.getHeaders()).doesNotContain(CALLER_SECRET);
    }
    for (int i = 1; i <= 3; i++) {
      assertThat(rotator.snapshot("k" + i).orElseThrow().successes()).isEqualTo(1);
      assertThat(rotator.snapshot("k" + i).orElseThrow().inFlight()).isZero();
    }
  }

  @Test
  void sdkNeverSeesA429ThatAnotherKeyCouldServe() throws Exception {
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    server.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));

    GenerateContentResponse generated = gemini.models.generateContent(MODEL, "hello", null);

    assertThat(generated.text()).startsWith("Key rotation spreads requests");
    assertThat(recorded(2)).extracting(Pools::keyOf).containsExactly("k1", "k2");
    assertThat(rotator.snapshot("k1").orElseThrow().state()).isEqualTo(KeyState.RATE_LIMITED);
  }

  @Test
  void sdkStreamRetriesOnTheNextKeyBeforeTheFirstEvent() throws Exception {
    server.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    server.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(Fixtures.geminiResponse("stream-generate-content.sse")).build());

    int chunks = 0;
    try (ResponseStream<GenerateContentResponse> stream =
        gemini.models.generateContentStream(MODEL, "hello", null)) {
      for (GenerateContentResponse ignored : stream) chunks++;
    }

    assertThat(chunks).isEqualTo(3);
    assertThat(recorded(2)).extracting(Pools::keyOf).containsExactly("k1", "k2");
  }

  @Test
  void sdkUnderstandsTheLocal503WhenNoKeyFreesUpByItself() throws Exception {
    for (int i = 1; i <= 3; i++) rotator.disable("k" + i);

    Throwable thrown = catchThrowable(() -> gemini.models.generateContent(MODEL, "hello", null));

    assertThat(thrown).isInstanceOf(ApiException.class);
    ApiException error = (ApiException) thrown;
    // Every key disabled: no key frees up by itself, so no 429 and no Retry-After to promise.
    assertThat(error.code()).isEqualTo(503);
    assertThat(error.status()).isEqualTo("UNAVAILABLE");
    assertThat(error.message()).startsWith("no key available for model " + MODEL);
    assertThat(server.getRequestCount()).isZero();
  }
}
