package dev.geminirotator.genai;

import static dev.geminirotator.genai.Pool.MODEL;
import static dev.geminirotator.genai.Pool.json;
import static dev.geminirotator.genai.Pool.take;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.genai.Client;
import com.google.genai.ResponseStream;
import com.google.genai.errors.ApiException;
import com.google.genai.types.GenerateContentConfig;
import com.google.genai.types.GenerateContentResponse;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.attempt.AttemptPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The real GenAI SDK (google-genai 2.0.0) on a client from {@link GeminiGenAi}, against a fake
 * Gemini on a real socket. Every test asserts which pool key each recorded request carried and
 * how many requests the upstream saw: an SDK retrying by itself would repeat the same key.
 */
class GeminiGenAiTest {

  private static final String TEXT = "Key rotation spreads requests across several credentials"
      + " so no single one exhausts its quota.";

  private final FakeClock clock = FakeClock.standard();
  private MockWebServer gemini;
  private GeminiKeyRotator rotator;
  private Client client;

  @BeforeEach
  void start() throws IOException {
    gemini = new MockWebServer();
    gemini.start();
    rotator = Pool.rotator(clock);
  }

  @AfterEach
  void stop() {
    if (client != null) client.close();
    gemini.close();
    rotator.close();
  }

  private Client client(AttemptPolicy policy) {
    client = GeminiGenAi.builder()
        .interceptor(Pool.interceptor(rotator, clock, policy))
        .baseUrl(Pool.baseUrl(gemini))
        .build();
    return client;
  }

  @Test
  void a429IsRetriedOnAnotherKeyAndTheUpstreamSeesExactlyTwoRequests() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));

    GenerateContentResponse answer = client(Pool.FAST).models.generateContent(MODEL, "hi", null);

    assertThat(answer.text()).startsWith("Key rotation spreads requests");
    assertThat(take(gemini, 2)).extracting(Pool::keyOf).containsExactly("k1", "k2");
    assertThat(gemini.getRequestCount()).isEqualTo(2);
    assertThat(rotator.snapshot("k1").orElseThrow().state()).isEqualTo(KeyState.RATE_LIMITED);
  }

  @Test
  void a503IsRetriedByTheRotatorsPolicyOnAnotherKey() throws Exception {
    gemini.enqueue(json(503, Fixtures.geminiError("503-overloaded")));
    gemini.enqueue(json(500, Fixtures.geminiError("500-internal")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));

    GenerateContentResponse answer = client(Pool.FAST).models.generateContent(MODEL, "hi", null);

    assertThat(answer.text()).startsWith("Key rotation spreads requests");
    assertThat(take(gemini, 3)).extracting(Pool::keyOf).containsExactly("k1", "k2", "k3");
    assertThat(gemini.getRequestCount()).isEqualTo(3);
  }

  @Test
  void aPolicyOfOneAttemptSendsA503OnceAndTheSdkDoesNotRepeatIt() throws Exception {
    for (int i = 0; i < 6; i++) gemini.enqueue(json(503, Fixtures.geminiError("503-overloaded")));
    Client sdk = client(Pool.FAST.toBuilder().maxAttempts(1).build());

    Throwable thrown = catchThrowable(() -> sdk.models.generateContent(MODEL, "hi", null));

    assertThat(thrown).isInstanceOf(ApiException.class);
    assertThat(((ApiException) thrown).code()).isEqualTo(503);
    assertThat(take(gemini, 1)).extracting(Pool::keyOf).containsExactly("k1");
    // The SDK's default (5 attempts) would have sent the same key four more times by now.
    assertThat(gemini.getRequestCount()).isEqualTo(1);
  }

  @Test
  void retryOptionsOnOneCallCannotMakeTheSdkRepeatAKey() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    GenerateContentConfig config = GenerateContentConfig.builder()
        .httpOptions(HttpOptions.builder().retryOptions(HttpRetryOptions.builder()
            .attempts(5).initialDelay(0.01).maxDelay(0.01).build()))
        .build();

    GenerateContentResponse answer =
        client(Pool.FAST).models.generateContent(MODEL, "hi", config);

    assertThat(answer.text()).startsWith("Key rotation spreads requests");
    assertThat(take(gemini, 2)).extracting(Pool::keyOf).containsExactly("k1", "k2");
    assertThat(gemini.getRequestCount()).isEqualTo(2);
  }

  @Test
  void theApiVersionAndTheSdksOwnHttpOptionsReachTheRequest() throws Exception {
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    client = GeminiGenAi.builder()
        .interceptor(Pool.interceptor(rotator, clock, Pool.FAST))
        .baseUrl(Pool.baseUrl(gemini))
        .apiVersion("v1alpha")
        .httpOptions(HttpOptions.builder().headers(Map.of("X-App-Tag", "reports"))
            .retryOptions(HttpRetryOptions.builder().attempts(1).build()).build())
        .build();

    client.models.generateContent(MODEL, "hi", null);

    RecordedRequest request = take(gemini, 1).get(0);
    assertThat(request.getTarget()).isEqualTo("/v1alpha/models/" + MODEL + ":generateContent");
    assertThat(request.getHeaders().get("X-App-Tag")).isEqualTo("reports");
    assertThat(Pool.keyOf(request)).isEqualTo("k1");
  }

  @Test
  void aStreamIsRetriedOnTheNextKeyBeforeItsFirstEventAndArrivesWhole() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(Pool.sse(Fixtures.geminiResponse("stream-generate-content.sse")));

    StringBuilder streamed = new StringBuilder();
    int chunks = 0;
    try (ResponseStream<GenerateContentResponse> stream =
        client(Pool.FAST).models.generateContentStream(MODEL, "hi", null)) {
      for (GenerateContentResponse chunk : stream) {
        streamed.append(chunk.text());
        chunks++;
      }
    }

    assertThat(streamed.toString()).isEqualTo(TEXT);
    assertThat(chunks).isEqualTo(3);
    List<RecordedRequest> requests = take(gemini, 2);
    assertThat(requests).extracting(Pool::keyOf).containsExactly("k1", "k2");
    for (RecordedRequest request : requests) {
      assertThat(request.getTarget()).contains(":streamGenerateContent").contains("alt=sse");
    }
    assertThat(gemini.getRequestCount()).isEqualTo(2);
    Eventually.untilAsserted("no key left in flight", () -> {
      for (int i = 1; i <= Pool.KEYS; i++) {
        assertThat(rotator.snapshot("k" + i).orElseThrow().inFlight()).isZero();
      }
    });
  }

  @Test
  void asyncCallsRotateToo() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));

    GenerateContentResponse answer = client(Pool.FAST).async.models
        .generateContent(MODEL, "hi", null).get(30, TimeUnit.SECONDS);

    assertThat(answer.text()).startsWith("Key rotation spreads requests");
    assertThat(take(gemini, 2)).extracting(Pool::keyOf).containsExactly("k1", "k2");
  }

  @Test
  void clientOfARotatorUsesTheDefaultInterceptorOnTheSdksDefaultBaseUrl() throws Exception {
    gemini.enqueue(json(429, Fixtures.geminiError("429-per-minute")));
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    // The SDK's process-wide default base URL stands in for Google's endpoint here.
    Client.setDefaultBaseUrls(Optional.of(Pool.baseUrl(gemini)), Optional.empty());
    try {
      client = GeminiGenAi.client(rotator);
    } finally {
      Client.setDefaultBaseUrls(Optional.empty(), Optional.empty());
    }

    GenerateContentResponse answer = client.models.generateContent(MODEL, "hi", null);

    assertThat(answer.text()).startsWith("Key rotation spreads requests");
    assertThat(take(gemini, 2)).extracting(Pool::keyOf).containsExactly("k1", "k2");
  }

  @Test
  void clientOfAnInterceptorRunsEveryCallThroughIt() throws Exception {
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    GeminiKeyInterceptor interceptor = Pool.interceptor(rotator, clock, Pool.FAST);
    Client.setDefaultBaseUrls(Optional.of(Pool.baseUrl(gemini)), Optional.empty());
    try {
      client = GeminiGenAi.client(interceptor);
    } finally {
      Client.setDefaultBaseUrls(Optional.empty(), Optional.empty());
    }

    client.models.generateContent(MODEL, "hi", null);

    assertThat(take(gemini, 1)).extracting(Pool::keyOf).containsExactly("k1");
    assertThat(rotator.snapshot("k1").orElseThrow().successes()).isEqualTo(1);
  }
}
