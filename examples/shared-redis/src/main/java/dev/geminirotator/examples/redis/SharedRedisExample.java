package dev.geminirotator.examples.redis;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.config.RotatorConfig;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * Two rotators on one Redis, as two instances of an app would be on two hosts: each opens its own
 * store from the same {@code storage: redis://...} URI. Instance A calls Gemini first; a 429 cools
 * that key's project, and instance B, which never saw the 429, skips the key too.
 *
 * <p>Run it with {@code GEMINI_API_KEYS=key1,key2} and {@code REDIS_URL} (default
 * {@code redis://127.0.0.1:6379/0}); {@code GEMINI_BASE_URL} aims at another endpoint.
 */
public final class SharedRedisExample {

  private static final MediaType JSON = MediaType.get("application/json");
  private static final String MODEL = "gemini-2.5-flash";

  private SharedRedisExample() {
  }

  public static void main(String[] args) throws Exception {
    String keys = System.getenv("GEMINI_API_KEYS");
    if (keys == null || keys.isBlank()) {
      System.err.println("set GEMINI_API_KEYS to comma-separated Gemini API keys");
      System.exit(2);
    }
    run(System.getenv().getOrDefault("REDIS_URL", "redis://127.0.0.1:6379/0"),
        System.getenv().getOrDefault("GEMINI_BASE_URL",
            "https://generativelanguage.googleapis.com"),
        List.of(keys.split(",")), System.out);
  }

  /**
   * Instance A sends one request, B waits until it shares A's view of the pool, then B sends one.
   * Prints who sent what and each instance's view.
   */
  public static void run(String redisUrl, String baseUrl, List<String> secrets, PrintStream out)
      throws IOException, InterruptedException {
    List<ApiKey> keys = new ArrayList<>();
    for (int i = 0; i < secrets.size(); i++) {
      // one project per key here; keys of one Google Cloud project would share a label
      keys.add(ApiKey.builder(secrets.get(i).trim()).id("k" + (i + 1))
          .project("project-" + (i + 1)).build());
    }
    // README:shared-redis:begin
    RotatorConfig config = RotatorConfig.builder()
        .keys(keys)
        .storage(redisUrl) // redis://host:6379/0, or rediss://:password@host:6380/0 for TLS
        .build();
    GeminiKeyRotator a = config.newRotator(); // instance A: its own store, on the shared Redis
    GeminiKeyRotator b = config.newRotator(); // instance B, as it would be on another host
    // README:shared-redis:end
    try {
      out.println("instance A store: " + a.store().describe());
      out.println("instance A: " + call(a, baseUrl));

      long start = System.nanoTime();
      boolean same = awaitSameView(a, b, 2_000);
      out.println("instance B " + (same ? "shares" : "does not yet share") + " A's view after "
          + (System.nanoTime() - start) / 1_000_000 + " ms");

      out.println("instance B: " + call(b, baseUrl));
      out.println("A sees " + view(a));
      out.println("B sees " + view(b));
    } finally {
      b.close();
      a.close();
    }
  }

  private static String call(GeminiKeyRotator rotator, String baseUrl) throws IOException {
    OkHttpClient client = new OkHttpClient.Builder()
        .addInterceptor(GeminiKeyInterceptor.of(rotator))
        .build();
    Request request = new Request.Builder()
        .url(baseUrl + "/v1beta/models/" + MODEL + ":generateContent")
        .post(RequestBody.create("{\"contents\":[{\"parts\":[{\"text\":\"Hello\"}]}]}", JSON))
        .build();
    try (Response response = client.newCall(request).execute()) {
      return "HTTP " + response.code();
    }
  }

  /** Waits until both rotators report the same state for every key, or the time runs out. */
  private static boolean awaitSameView(GeminiKeyRotator a, GeminiKeyRotator b, long millis)
      throws InterruptedException {
    long deadline = System.nanoTime() + millis * 1_000_000;
    while (System.nanoTime() < deadline) {
      if (view(a).equals(view(b))) return true;
      Thread.sleep(5);
    }
    return false;
  }

  private static Map<String, KeyState> view(GeminiKeyRotator rotator) {
    Map<String, KeyState> states = new TreeMap<>();
    for (KeySnapshot key : rotator.snapshot()) states.put(key.id(), key.state());
    return states;
  }
}
