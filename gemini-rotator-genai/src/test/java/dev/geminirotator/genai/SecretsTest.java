package dev.geminirotator.genai;

import static dev.geminirotator.genai.Pool.MODEL;
import static dev.geminirotator.genai.Pool.take;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowable;

import com.google.genai.Client;
import com.google.genai.errors.ApiException;
import com.google.genai.types.GenerateContentResponse;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.SecretScanner;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.OkHttpClient;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * No pool key reaches anything the SDK or the app can see: the key the SDK holds, the requests
 * the app's own interceptors see, answers, answer headers, exceptions, and the log lines of the
 * SDK (java.util.logging), of the interceptor and of this module (slf4j, at debug).
 */
class SecretsTest {

  private final FakeClock clock = FakeClock.standard();
  private final SecretScanner scanner = SecretScanner.of(Pool.secrets());
  private final List<String> jul = new ArrayList<>();
  private final Handler julHandler = new Handler() {
    @Override
    public void publish(LogRecord record) {
      StringWriter text = new StringWriter();
      text.append(record.getLoggerName()).append(' ').append(String.valueOf(record.getMessage()));
      if (record.getParameters() != null) {
        for (Object p : record.getParameters()) text.append(' ').append(String.valueOf(p));
      }
      if (record.getThrown() != null) record.getThrown().printStackTrace(new PrintWriter(text));
      jul.add(text.toString());
    }

    @Override
    public void flush() {
    }

    @Override
    public void close() {
    }
  };
  private final Logger sdkLogger = Logger.getLogger("com.google.genai");
  private Level sdkLevel;
  private PrintStream stderr;
  private final ByteArrayOutputStream logged = new ByteArrayOutputStream();
  private MockWebServer gemini;
  private GeminiKeyRotator rotator;
  private Client client;
  private final List<String> appSaw = new ArrayList<>();

  @BeforeEach
  void start() throws IOException {
    sdkLevel = sdkLogger.getLevel();
    sdkLogger.setLevel(Level.ALL);
    sdkLogger.addHandler(julHandler);
    stderr = System.err;
    System.setErr(new PrintStream(logged, true, StandardCharsets.UTF_8));
    gemini = new MockWebServer();
    gemini.start();
    rotator = Pool.rotator(clock);
    OkHttpClient.Builder app = new OkHttpClient.Builder().addInterceptor(chain -> {
      synchronized (appSaw) {
        appSaw.add(chain.request().headers().toString() + chain.request().url());
      }
      return chain.proceed(chain.request());
    });
    client = GeminiGenAi.builder().interceptor(Pool.interceptor(rotator, clock, Pool.FAST))
        .okHttpClient(app).baseUrl(Pool.baseUrl(gemini)).build();
  }

  @AfterEach
  void stop() {
    client.close();
    gemini.close();
    rotator.close();
    System.setErr(stderr);
    sdkLogger.removeHandler(julHandler);
    sdkLogger.setLevel(sdkLevel);
  }

  @Test
  void noPoolKeyReachesTheSdksViewOfAnswersErrorsOrLogs() throws Exception {
    // Gemini names the key in some messages, and an upstream may echo it in a header.
    String k1 = Pool.secret(1);
    String k2 = Pool.secret(2);
    gemini.enqueue(new MockResponse.Builder().code(429)
        .addHeader("Content-Type", "application/json").addHeader("X-Echo-Key", k1)
        .body(Fixtures.geminiError("429-per-minute")).build());
    gemini.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "application/json").addHeader("X-Echo-Key", k2)
        .body(Fixtures.geminiResponse("generate-content.json")).build());
    gemini.enqueue(new MockResponse.Builder().code(400)
        .addHeader("Content-Type", "application/json").addHeader("X-Echo-Key", Pool.secret(3))
        .body("{\"error\":{\"code\":400,\"message\":\"Request with key " + Pool.secret(3)
            + " is malformed\",\"status\":\"INVALID_ARGUMENT\"}}").build());

    GenerateContentResponse answer = client.models.generateContent(MODEL, "hi", null);
    Throwable thrown = catchThrowable(() -> client.models.generateContent(MODEL, "again", null));

    List<RecordedRequest> sent = take(gemini, 3);
    assertThat(sent).extracting(Pool::keyOf).containsExactly("k1", "k2", "k3");
    assertThat(thrown).isInstanceOf(ApiException.class);
    assertThat(((ApiException) thrown).code()).isEqualTo(400);
    StringWriter trace = new StringWriter();
    thrown.printStackTrace(new PrintWriter(trace));

    StringBuilder seen = new StringBuilder();
    seen.append("apiKey: ").append(client.apiKey()).append('\n');
    seen.append("answer: ").append(answer.toJson()).append('\n');
    seen.append("answer headers: ").append(answer.sdkHttpResponse()).append('\n');
    seen.append("error: ").append(trace).append('\n');
    synchronized (appSaw) {
      seen.append("app interceptor: ").append(String.join("\n", appSaw)).append('\n');
    }
    seen.append("jul: ").append(String.join("\n", jul)).append('\n');
    seen.append("slf4j: ").append(logged.toString(StandardCharsets.UTF_8)).append('\n');
    seen.append("rotator: ").append(rotator.snapshot()).append('\n');

    assertThat(client.apiKey()).isEqualTo(GeminiGenAi.PLACEHOLDER_API_KEY);
    assertThat(answer.sdkHttpResponse().orElseThrow().headers().orElseThrow())
        .containsKey("X-Echo-Key");
    assertThat(logged.toString(StandardCharsets.UTF_8)).contains("DEBUG");
    assertThat(scanner.findings(seen)).isEmpty();
  }
}
