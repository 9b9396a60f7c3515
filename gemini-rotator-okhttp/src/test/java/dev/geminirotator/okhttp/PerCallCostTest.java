package dev.geminirotator.okhttp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Allocations;
import dev.geminirotator.testsupport.Fixtures;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockWebServer;
import mockwebserver3.RecordedRequest;
import okhttp3.Interceptor;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.junit.jupiter.api.Test;

/**
 * What the interceptor allocates per call stays where it was brought (about 1.6 KB over the same
 * call without it; issue 16 asks for 1 KB, and benchmarks/README.md says what the rest is), and
 * the copies it saves do not change what is sent: each attempt carries its own pool key and
 * nothing else, and the caller's response refers to a request without any key.
 */
class PerCallCostTest {

  /** Like the pool keys: a caller's own key of the same length. */
  private static final String CALLER_KEY = "AIzaSyCALLER" + "0".repeat(27);

  @Test
  void aRetriedCallersRequestCarriesOnlyEachAttemptsPoolKey() throws Exception {
    try (MockWebServer server = new MockWebServer();
        GeminiKeyRotator rotator = GeminiKeyRotator.builder().keys(Pools.keys(3)).build()) {
      server.start();
      server.enqueue(Pools.json(429, Fixtures.geminiError("429-per-minute")));
      server.enqueue(Pools.json(200, Fixtures.geminiResponse("generate-content.json")));
      OkHttpClient client = Pools.client(GeminiKeyInterceptor.of(rotator));
      Request request = new Request.Builder().url(server.url(Pools.GENERATE))
          .header("x-goog-api-key", CALLER_KEY).header("X-Trace", "t1")
          .post(RequestBody.create(Pools.PROMPT, Pools.JSON)).build();

      try (Response response = client.newCall(request).execute()) {
        assertThat(response.code()).isEqualTo(200);
        response.body().string();
        assertThat(response.request().headers("x-goog-api-key")).isEmpty();
        assertThat(response.request().header("X-Trace")).isEqualTo("t1");
      }

      List<String> sent = new ArrayList<>();
      for (int i = 0; i < 2; i++) {
        RecordedRequest r = server.takeRequest(5, TimeUnit.SECONDS);
        assertThat(r).isNotNull();
        List<String> keys = r.getHeaders().values("x-goog-api-key");
        assertThat(keys).as("attempt %d", i + 1).hasSize(1);
        assertThat(keys.get(0)).isNotEqualTo(CALLER_KEY).startsWith("AIzaPOOLsecret");
        assertThat(r.getHeaders().get("X-Trace")).isEqualTo("t1");
        sent.add(keys.get(0));
      }
      assertThat(sent).doesNotHaveDuplicates();
    }
  }

  @Test
  void aCallAllocatesLittleMoreThanTheSameCallWithoutTheInterceptor() throws Exception {
    List<ApiKey> keys = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      keys.add(ApiKey.of("k" + i, String.format("AIzaSyBENCH%028d", i)));
    }
    try (GeminiKeyRotator rotator = GeminiKeyRotator.builder().keys(keys).build()) {
      // Answers at once, in memory, as InterleavedOverhead's memory mode does: only the
      // interceptor's own work differs between the two clients.
      Interceptor answer = chain -> new Response.Builder().request(chain.request())
          .protocol(Protocol.HTTP_1_1).code(200).message("OK")
          .header("Content-Type", "application/json; charset=UTF-8")
          .body(ResponseBody.create("{\"candidates\":[]}", Pools.JSON)).build();
      OkHttpClient plain = new OkHttpClient.Builder().addInterceptor(answer).build();
      OkHttpClient rotating = new OkHttpClient.Builder()
          .addInterceptor(GeminiKeyInterceptor.of(rotator)).addInterceptor(answer).build();
      Request request = new Request.Builder()
          .url("https://generativelanguage.googleapis.com" + Pools.GENERATE)
          .header("x-goog-api-key", CALLER_KEY)
          .post(RequestBody.create("{\"contents\":[]}", Pools.JSON)).build();

      double without = Allocations.bytesPerRun(10_000, 10_000, () -> call(plain, request));
      double with = Allocations.bytesPerRun(10_000, 10_000, () -> call(rotating, request));

      // about 1,600 B measured; the bound leaves room for a JIT that has not compiled everything
      // yet on a loaded CI machine (the targets themselves are measured by InterleavedOverhead)
      assertThat(with - without).as("bytes the interceptor adds per call (%.0f without it)",
          without).isLessThanOrEqualTo(2_048);
    }
  }

  private static void call(OkHttpClient client, Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      if (response.code() != 200) {
        throw new IOException("unexpected " + response.code());
      }
      response.body().string();
    }
  }
}
