package dev.geminirotator.examples.okhttp;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * An {@link OkHttpClient} with {@link GeminiKeyInterceptor} over three keys: one generateContent
 * call and one streamGenerateContent (SSE) call, then the pool's state.
 *
 * <p>Run it with {@code GEMINI_API_KEYS=key1,key2,key3} (and optionally {@code GEMINI_BASE_URL},
 * {@code GEMINI_MODEL}).
 */
public final class InterceptorExample {

  /** Gemini's public endpoint. */
  public static final String GOOGLE = "https://generativelanguage.googleapis.com";
  static final String MODEL = "gemini-2.5-flash";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final ObjectMapper MAPPER = new ObjectMapper();

  private InterceptorExample() {
  }

  public static void main(String[] args) throws IOException {
    String keys = System.getenv("GEMINI_API_KEYS");
    if (keys == null || keys.split(",").length < 3) {
      System.err.println("set GEMINI_API_KEYS to three comma-separated Gemini API keys");
      System.exit(2);
    }
    String baseUrl = System.getenv().getOrDefault("GEMINI_BASE_URL", GOOGLE);
    String model = System.getenv().getOrDefault("GEMINI_MODEL", MODEL);
    run(baseUrl, model, List.of(keys.trim().split("\\s*,\\s*")), System.out);
  }

  /**
   * The whole program: builds the client, asks one question plainly and one as a stream, and
   * prints each answer and then each key's state.
   *
   * @param secrets three API keys
   */
  public static void run(String baseUrl, String model, List<String> secrets, PrintStream out)
      throws IOException {
    // README:interceptor-minimal:begin
    GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .key(ApiKey.builder(secrets.get(0)).id("k1").build())
        .key(ApiKey.builder(secrets.get(1)).id("k2").build())
        .key(ApiKey.builder(secrets.get(2)).id("k3").build())
        .build();
    OkHttpClient client = new OkHttpClient.Builder()
        .addInterceptor(GeminiKeyInterceptor.of(rotator))
        .build();
    // README:interceptor-minimal:end
    try {
      String prompt = "{\"contents\":[{\"parts\":[{\"text\":\"Why rotate API keys?\"}]}]}";

      // The app sends no key at all: the interceptor puts a pool key on every attempt.
      Request generate = new Request.Builder()
          .url(baseUrl + "/v1beta/models/" + model + ":generateContent")
          .post(RequestBody.create(prompt, JSON))
          .build();
      try (Response response = client.newCall(generate).execute()) {
        String body = response.body().string();
        out.println("generateContent " + response.code() + ": "
            + (response.isSuccessful() ? text(MAPPER.readTree(body)) : body));
      }

      Request stream = new Request.Builder()
          .url(baseUrl + "/v1beta/models/" + model + ":streamGenerateContent?alt=sse")
          .post(RequestBody.create(prompt, JSON))
          .build();
      try (Response response = client.newCall(stream).execute()) {
        out.print("streamGenerateContent " + response.code() + ":");
        if (!response.isSuccessful()) {
          out.println(" " + response.body().string());
        } else {
          // Server-sent events arrive as they are produced; the interceptor never buffers them.
          BufferedReader events = new BufferedReader(
              new java.io.InputStreamReader(response.body().byteStream(), StandardCharsets.UTF_8));
          for (String line = events.readLine(); line != null; line = events.readLine()) {
            if (line.startsWith("data:")) {
              out.print(" [" + text(MAPPER.readTree(line.substring(5))) + "]");
            }
          }
          out.println();
        }
      }

      for (KeySnapshot key : rotator.snapshot()) {
        out.println("key " + key.id() + " " + key.masked() + " " + key.state()
            + (key.cooldowns().isEmpty() ? "" : " cooling " + key.cooldowns().keySet()));
      }
    } finally {
      rotator.close();
    }
  }

  private static String text(JsonNode answer) {
    StringBuilder sb = new StringBuilder();
    for (JsonNode part : answer.path("candidates").path(0).path("content").path("parts")) {
      sb.append(part.path("text").asText(""));
    }
    return sb.toString();
  }
}
