package dev.geminirotator.examples.genai;

import com.google.genai.Client;
import com.google.genai.types.ClientOptions;
import com.google.genai.types.GenerateContentResponse;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import java.io.PrintStream;
import java.util.List;
import okhttp3.OkHttpClient;

/**
 * The Google GenAI SDK in-process: its {@code customHttpClient} is an {@link OkHttpClient} that
 * carries {@link GeminiKeyInterceptor}, so every SDK call leases a pool key and a 429 is retried
 * on another key before the SDK sees it.
 *
 * <p>Run it with {@code GEMINI_API_KEYS=key1,key2,...} (and optionally {@code GEMINI_BASE_URL},
 * {@code GEMINI_MODEL}).
 */
public final class InProcessExample {

  static final String MODEL = "gemini-2.5-flash";

  private InProcessExample() {
  }

  public static void main(String[] args) {
    String keys = System.getenv("GEMINI_API_KEYS");
    if (keys == null || keys.isBlank()) {
      System.err.println("set GEMINI_API_KEYS to comma-separated Gemini API keys");
      System.exit(2);
    }
    run(System.getenv("GEMINI_BASE_URL"), System.getenv().getOrDefault("GEMINI_MODEL", MODEL),
        List.of(keys.split(",")), System.out);
  }

  /**
   * Asks one question through the SDK and prints the answer and each key's state.
   *
   * @param baseUrl Gemini's base URL, or {@code null} for Google's
   */
  public static void run(String baseUrl, String model, List<String> secrets, PrintStream out) {
    try (GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .secrets(secrets.stream().map(String::trim).toArray(String[]::new))
        .build()) {
      OkHttpClient okHttp = new OkHttpClient.Builder()
          .addInterceptor(GeminiKeyInterceptor.of(rotator))
          .build();
      HttpOptions.Builder http = HttpOptions.builder()
          // Left on, the SDK's RetryInterceptor repeats a 429 on the same key: let the rotator
          // retry on another one instead.
          .retryOptions(HttpRetryOptions.builder().attempts(1).build());
      if (baseUrl != null) http.baseUrl(baseUrl);
      try (Client gemini = Client.builder()
          .apiKey("unused") // the SDK wants one; the interceptor replaces it with a pool key
          .clientOptions(ClientOptions.builder().customHttpClient(okHttp).build())
          .httpOptions(http.build())
          .build()) {
        GenerateContentResponse answer =
            gemini.models.generateContent(model, "Why rotate API keys?", null);
        out.println("answer: " + answer.text());
      }
      for (KeySnapshot key : rotator.snapshot()) {
        out.println("key " + key.id() + " " + key.state());
      }
    }
  }
}
