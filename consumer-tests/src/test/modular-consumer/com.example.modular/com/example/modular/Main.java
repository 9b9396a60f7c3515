package com.example.modular;

import com.sun.net.httpserver.HttpServer;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * Prints the module each type came from, then sends one generateContent through the interceptor
 * to a local fake Gemini and prints what it answered and which pool key it saw (by id only).
 */
public final class Main {

  private static final List<String> SECRETS =
      List.of("AIzaModularSecret0001", "AIzaModularSecret0002");

  public static void main(String[] args) throws Exception {
    for (Class<?> type :
        List.of(ApiKey.class, GeminiKeyRotator.class, GeminiKeyInterceptor.class)) {
      Module module = type.getModule();
      System.out.println("module " + module.getName() + " named=" + module.isNamed()
          + " automatic=" + module.getDescriptor().isAutomatic());
    }
    System.out.println("layer has dev.geminirotator.okhttp="
        + ModuleLayer.boot().findModule("dev.geminirotator.okhttp").isPresent());

    AtomicReference<String> seen = new AtomicReference<>("none");
    HttpServer gemini =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    gemini.createContext("/", exchange -> {
      String key = exchange.getRequestHeaders().getFirst("x-goog-api-key");
      seen.set(key == null ? "none" : "k" + (SECRETS.indexOf(key) + 1));
      byte[] body = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":\"hi\"}]}}]}"
          .getBytes(StandardCharsets.UTF_8);
      exchange.getResponseHeaders().add("Content-Type", "application/json");
      exchange.sendResponseHeaders(200, body.length);
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    });
    gemini.start();
    try (GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .key(ApiKey.builder(SECRETS.get(0)).id("k1").build())
        .key(ApiKey.builder(SECRETS.get(1)).id("k2").build())
        .build()) {
      OkHttpClient client = new OkHttpClient.Builder()
          .addInterceptor(GeminiKeyInterceptor.of(rotator)).build();
      String url = "http://127.0.0.1:" + gemini.getAddress().getPort()
          + "/v1beta/models/gemini-2.5-flash:generateContent";
      Request request = new Request.Builder().url(url)
          .post(RequestBody.create("{}", MediaType.get("application/json"))).build();
      try (Response response = client.newCall(request).execute()) {
        System.out.println("status " + response.code() + " body " + response.body().string());
      }
      System.out.println("upstream saw key " + seen.get());
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    } finally {
      gemini.stop(0);
    }
  }
}
