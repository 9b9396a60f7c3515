package dev.geminirotator.benchmarks;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import okhttp3.ConnectionPool;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;

/**
 * The loopback comparison of {@link InterceptorOverheadBenchmark}, interleaved: JMH runs the plain
 * and the intercepted method minutes apart, and on a shared machine the drift between them is
 * larger than the difference. Here both clients alternate in short rounds against the same
 * server, and the per-round differences are reported (median and quartiles).
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * dev.geminirotator.benchmarks.InterleavedOverhead [rounds] [callsPerRound]}.
 */
public final class InterleavedOverhead {

  private InterleavedOverhead() {
  }

  public static void main(String[] args) throws IOException {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
    int calls = args.length > 1 ? Integer.parseInt(args[1]) : 5_000;
    MediaType json = MediaType.get("application/json");
    try (LoopbackServer server = new LoopbackServer("{\"candidates\":[]}")) {
      List<ApiKey> keys = new ArrayList<>();
      for (int i = 0; i < 8; i++) keys.add(ApiKey.of("k" + i, String.format("AIzaSyBENCH%028d", i)));
      GeminiKeyRotator rotator = GeminiKeyRotator.builder().keys(keys).build();
      OkHttpClient plain = new OkHttpClient.Builder().connectionPool(new ConnectionPool()).build();
      OkHttpClient rotating = plain.newBuilder().connectionPool(new ConnectionPool())
          .addInterceptor(GeminiKeyInterceptor.of(rotator)).build();
      Request request = new Request.Builder()
          .url(server.url() + "/v1beta/models/gemini-2.5-flash:generateContent")
          .post(RequestBody.create("{\"contents\":[]}", json)).build();

      for (int i = 0; i < 3; i++) { // warm-up
        run(plain, request, calls);
        run(rotating, request, calls);
      }
      double[] plainUs = new double[rounds];
      double[] rotatingUs = new double[rounds];
      double[] diffUs = new double[rounds];
      for (int r = 0; r < rounds; r++) {
        boolean plainFirst = r % 2 == 0; // alternate the order too
        if (plainFirst) {
          plainUs[r] = run(plain, request, calls);
          rotatingUs[r] = run(rotating, request, calls);
        } else {
          rotatingUs[r] = run(rotating, request, calls);
          plainUs[r] = run(plain, request, calls);
        }
        diffUs[r] = rotatingUs[r] - plainUs[r];
      }
      System.out.printf("rounds=%d calls/round=%d%n", rounds, calls);
      System.out.printf("plain        us/call: median %.2f  (q1 %.2f, q3 %.2f)%n",
          q(plainUs, 0.5), q(plainUs, 0.25), q(plainUs, 0.75));
      System.out.printf("interceptor  us/call: median %.2f  (q1 %.2f, q3 %.2f)%n",
          q(rotatingUs, 0.5), q(rotatingUs, 0.25), q(rotatingUs, 0.75));
      System.out.printf("difference   us/call: median %.2f  (q1 %.2f, q3 %.2f)%n",
          q(diffUs, 0.5), q(diffUs, 0.25), q(diffUs, 0.75));
      plain.connectionPool().evictAll();
      rotating.connectionPool().evictAll();
      plain.dispatcher().executorService().shutdown();
      rotating.dispatcher().executorService().shutdown();
      rotator.close();
    }
  }

  private static double run(OkHttpClient client, Request request, int calls) throws IOException {
    long start = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      try (Response response = client.newCall(request).execute()) {
        if (response.code() != 200) throw new IOException("unexpected " + response.code());
        response.body().string();
      }
    }
    return (System.nanoTime() - start) / 1_000.0 / calls;
  }

  private static double q(double[] values, double quantile) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[(int) Math.min(sorted.length - 1, Math.round(quantile * (sorted.length - 1)))];
  }
}
