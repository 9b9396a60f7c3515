package dev.geminirotator.examples.filestore;

import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.config.ConfigLoader;
import dev.geminirotator.core.config.RotatorConfig;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * A rotator whose state lives in a third-party store picked by the configuration alone:
 * {@code storage: file:gemini-rotator-state.json} makes {@code RotatorConfig.newRotator()} find
 * {@link FileStoreProvider} through {@link java.util.ServiceLoader}. Run it twice: a key that
 * Gemini rate-limited or rejected in the first run is still skipped in the second.
 *
 * <p>Usage: {@code CustomStoreExample CONFIG.yaml [REQUESTS]}, with {@code GEMINI_BASE_URL} to
 * aim at another endpoint than Google's.
 */
public final class CustomStoreExample {

  private static final MediaType JSON = MediaType.get("application/json");

  private CustomStoreExample() {
  }

  public static void main(String[] args) throws IOException {
    if (args.length < 1) {
      System.err.println("usage: CustomStoreExample CONFIG.yaml [REQUESTS]");
      System.exit(2);
    }
    run(Path.of(args[0]), System.getenv(),
        System.getenv().getOrDefault("GEMINI_BASE_URL",
            "https://generativelanguage.googleapis.com"),
        args.length > 1 ? Integer.parseInt(args[1]) : 1, System.out);
  }

  /**
   * Loads the configuration (its {@code storage} URI picks the store), sends {@code requests}
   * generateContent calls, and prints each status and then each key's state.
   */
  public static void run(Path config, Map<String, String> env, String baseUrl, int requests,
      PrintStream out) throws IOException {
    RotatorConfig settings = ConfigLoader.builder().env(env).build().load(config);
    try (GeminiKeyRotator rotator = settings.newRotator()) {
      out.println("store: " + rotator.store().describe());
      OkHttpClient client = new OkHttpClient.Builder()
          .addInterceptor(GeminiKeyInterceptor.builder()
              .rotator(rotator)
              .policy(settings.attempts())
              .build())
          .build();
      for (int i = 1; i <= requests; i++) {
        Request request = new Request.Builder()
            .url(baseUrl + "/v1beta/models/gemini-2.5-flash:generateContent")
            .post(RequestBody.create(
                "{\"contents\":[{\"parts\":[{\"text\":\"Hello\"}]}]}", JSON))
            .build();
        try (Response response = client.newCall(request).execute()) {
          out.println("request " + i + ": " + response.code());
        }
      }
      for (KeySnapshot key : rotator.snapshot()) {
        out.println("key " + key.id() + " " + key.state()
            + (key.cooldowns().isEmpty() ? "" : " cooling " + key.cooldowns().keySet()));
      }
    } // closing the rotator closes the store, which writes its file
  }
}
