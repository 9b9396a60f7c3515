package dev.geminirotator.genai;

import static dev.geminirotator.genai.Pool.MODEL;
import static dev.geminirotator.genai.Pool.json;
import static dev.geminirotator.genai.Pool.take;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.genai.Client;
import com.google.genai.types.GenerateContentResponse;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.URL;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import okhttp3.Call;
import okhttp3.Callback;
import okhttp3.Interceptor;
import okhttp3.OkHttp;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.Response;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The OkHttp client the SDK runs on: OkHttp 5, built here, the app's builder extended safely. */
class OkHttpWiringTest {

  private final FakeClock clock = FakeClock.standard();
  private MockWebServer gemini;
  private GeminiKeyRotator rotator;
  private final List<Client> clients = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    gemini = new MockWebServer();
    gemini.start();
    rotator = Pool.rotator(clock);
  }

  @AfterEach
  void stop() {
    clients.forEach(Client::close);
    gemini.close();
    rotator.close();
  }

  private Client track(Client client) {
    clients.add(client);
    return client;
  }

  @Test
  void onlyOkHttp5IsOnTheClasspath() throws Exception {
    assertThat(OkHttp.VERSION).startsWith("5.");
    List<URL> copies = Collections.list(
        getClass().getClassLoader().getResources("okhttp3/OkHttpClient.class"));
    assertThat(copies).hasSize(1);
    assertThat(copies.get(0).toString()).contains("okhttp-jvm-5.");
  }

  @Test
  void theSdkRunsOnTheClientBuiltHereWithTheInterceptorBeforeItsOwnRetry() throws Exception {
    GeminiKeyInterceptor interceptor = Pool.interceptor(rotator, clock, Pool.FAST);
    Client client = track(GeminiGenAi.builder().interceptor(interceptor)
        .baseUrl(Pool.baseUrl(gemini)).build());

    List<Interceptor> chain = sdkHttpClient(client).interceptors();

    assertThat(chain).contains(interceptor);
    List<String> names = chain.stream().map(i -> i.getClass().getSimpleName()).toList();
    int keys = chain.indexOf(interceptor);
    // The SDK appends its RetryInterceptor (and Reauthorizer) after ours; our single-attempt
    // guard sits between, so it decides what the SDK's retry sees.
    assertThat(names.subList(keys + 1, names.size()))
        .startsWith("SingleSdkAttempt", "RetryInterceptor");
  }

  @Test
  void theAppsInterceptorsRunFirstAndSeeOnlyThePlaceholderKey() throws Exception {
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    List<String> seen = new CopyOnWriteArrayList<>();
    OkHttpClient.Builder app = new OkHttpClient.Builder().addInterceptor(chain -> {
      seen.add(String.valueOf(chain.request().header("x-goog-api-key")));
      return chain.proceed(chain.request());
    });
    Client client = track(GeminiGenAi.builder().rotator(rotator).okHttpClient(app)
        .baseUrl(Pool.baseUrl(gemini)).build());

    client.models.generateContent(MODEL, "hi", null);

    assertThat(seen).containsExactly(GeminiGenAi.PLACEHOLDER_API_KEY);
    assertThat(take(gemini, 1)).extracting(Pool::keyOf).containsExactly("k1");
  }

  @Test
  void closingTheSdkClientLeavesTheAppsOwnClientWorking() throws Exception {
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    gemini.enqueue(json(200, "{}"));
    OkHttpClient appClient = new OkHttpClient();
    Client client = GeminiGenAi.builder().rotator(rotator).okHttpClient(appClient.newBuilder())
        .baseUrl(Pool.baseUrl(gemini)).build();
    client.models.generateContent(MODEL, "hi", null);

    client.close();

    CompletableFuture<Integer> status = new CompletableFuture<>();
    appClient.newCall(new Request.Builder().url(gemini.url("/app")).build())
        .enqueue(new Callback() {
          @Override
          public void onFailure(Call call, IOException e) {
            status.completeExceptionally(e);
          }

          @Override
          public void onResponse(Call call, Response response) {
            try (response) {
              status.complete(response.code());
            }
          }
        });
    assertThat(status.get(30, TimeUnit.SECONDS)).isEqualTo(200);
    appClient.dispatcher().executorService().shutdown();
  }

  @Test
  void aClientMadeHereHasNoReadOrWriteTimeoutAsTheSdksOwnHasNone() throws Exception {
    Client client = track(GeminiGenAi.builder().rotator(rotator)
        .baseUrl(Pool.baseUrl(gemini)).build());

    OkHttpClient http = sdkHttpClient(client);

    assertThat(http.readTimeoutMillis()).isZero();
    assertThat(http.writeTimeoutMillis()).isZero();
    assertThat(http.connectTimeoutMillis())
        .isEqualTo(GeminiGenAi.DEFAULT_CONNECT_TIMEOUT.toMillis());
    assertThat(http.callTimeoutMillis()).isZero();
  }

  @Test
  void aReadTimeoutSetHereEndsASilentAnswerAndAnotherKeyServes() throws Exception {
    gemini.enqueue(new MockResponse.Builder().code(200).headersDelay(60, TimeUnit.SECONDS)
        .body("{}").build());
    gemini.enqueue(json(200, Fixtures.geminiResponse("generate-content.json")));
    Client client = track(GeminiGenAi.builder()
        .interceptor(Pool.interceptor(rotator, clock, Pool.FAST))
        .readTimeout(Duration.ofMillis(300))
        .baseUrl(Pool.baseUrl(gemini)).build());

    GenerateContentResponse answer = client.models.generateContent(MODEL, "hi", null);

    assertThat(answer.text()).startsWith("Key rotation spreads requests");
    assertThat(take(gemini, 2)).extracting(Pool::keyOf).containsExactly("k1", "k2");
  }

  @Test
  void theCallTimeoutEndsTheWholeCallAndBlamesNoKey() throws Exception {
    gemini.enqueue(new MockResponse.Builder().code(200).headersDelay(60, TimeUnit.SECONDS)
        .body("{}").build());
    Client client = track(GeminiGenAi.builder()
        .interceptor(Pool.interceptor(rotator, clock, Pool.FAST))
        .timeout(Duration.ofMillis(300))
        .baseUrl(Pool.baseUrl(gemini)).build());

    Throwable thrown = catchThrowable(() -> client.models.generateContent(MODEL, "hi", null));

    assertThat(thrown).isNotNull();
    assertThat(sdkHttpClient(client).callTimeoutMillis()).isEqualTo(300);
    assertThat(take(gemini, 1)).extracting(Pool::keyOf).containsExactly("k1");
    assertThat(gemini.getRequestCount()).isEqualTo(1);
    assertThat(rotator.snapshot("k1").orElseThrow().state()).isEqualTo(KeyState.HEALTHY);
  }

  /** The OkHttpClient the SDK really sends with (SDK 2.0.0 internals: Client.apiClient). */
  static OkHttpClient sdkHttpClient(Client client) throws Exception {
    Field apiClient = Client.class.getDeclaredField("apiClient");
    apiClient.setAccessible(true);
    Object api = apiClient.get(client);
    for (Class<?> type = api.getClass(); type != null; type = type.getSuperclass()) {
      for (Method method : type.getDeclaredMethods()) {
        if (method.getName().equals("httpClient") && method.getParameterCount() == 0) {
          method.setAccessible(true);
          return (OkHttpClient) method.invoke(api);
        }
      }
    }
    throw new AssertionError("no httpClient() on " + api.getClass());
  }
}
