package dev.geminirotator.examples.genai;

import com.google.genai.Client;
import com.google.genai.types.GenerateContentResponse;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.genai.GeminiGenAi;
import java.io.PrintStream;
import java.util.List;

/**
 * The Google GenAI SDK in-process: {@link GeminiGenAi} hands it an OkHttp client that carries
 * the key interceptor and turns the SDK's own same-key retries off, so every SDK call leases a
 * pool key and a 429 is retried on another key before the SDK sees it.
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
      GeminiGenAi.Builder setUp = GeminiGenAi.builder().rotator(rotator);
      if (baseUrl != null) setUp.baseUrl(baseUrl);
      try (Client gemini = setUp.build()) {
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
