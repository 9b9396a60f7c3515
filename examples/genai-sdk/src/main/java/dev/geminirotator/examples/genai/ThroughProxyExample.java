package dev.geminirotator.examples.genai;

import com.google.genai.Client;
import com.google.genai.ResponseStream;
import com.google.genai.types.GenerateContentResponse;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import java.io.PrintStream;

/**
 * The Google GenAI SDK pointed at a running gemini-rotator standalone proxy with
 * {@code HttpOptions.baseUrl}. The SDK's API key is a proxy access token; the proxy swaps in a
 * pool key and retries on another one, so the app holds no Gemini key at all.
 *
 * <p>Run the proxy (see the README), then this with {@code GEMINI_ROTATOR_URL} (default
 * {@code http://127.0.0.1:4806}) and {@code GEMINI_ROTATOR_TOKEN} (an entry of
 * {@code access.tokens}; any text when the proxy has none and runs on loopback).
 */
public final class ThroughProxyExample {

  private ThroughProxyExample() {
  }

  public static void main(String[] args) {
    String url = System.getenv().getOrDefault("GEMINI_ROTATOR_URL", "http://127.0.0.1:4806");
    String token = System.getenv().getOrDefault("GEMINI_ROTATOR_TOKEN", "no-token-on-loopback");
    run(url, token, System.getenv().getOrDefault("GEMINI_MODEL", InProcessExample.MODEL),
        System.out);
  }

  /** Asks one question plainly and one as a stream through the proxy, printing both answers. */
  public static void run(String proxyUrl, String accessToken, String model, PrintStream out) {
    // README:genai-proxy:begin
    Client gemini = Client.builder()
        .apiKey(accessToken) // a proxy access token, sent where the SDK sends its key
        .httpOptions(HttpOptions.builder()
            .baseUrl(proxyUrl) // e.g. http://127.0.0.1:4806
            // the proxy has already retried on every key that could serve
            .retryOptions(HttpRetryOptions.builder().attempts(1).build())
            .build())
        .build();
    // README:genai-proxy:end
    try {
      GenerateContentResponse answer =
          gemini.models.generateContent(model, "Why rotate API keys?", null);
      out.println("answer: " + answer.text());

      StringBuilder streamed = new StringBuilder();
      try (ResponseStream<GenerateContentResponse> stream =
          gemini.models.generateContentStream(model, "And in one line?", null)) {
        for (GenerateContentResponse chunk : stream) streamed.append(chunk.text());
      }
      out.println("streamed: " + streamed);
    } finally {
      gemini.close();
    }
  }
}
