package dev.geminirotator.benchmarks;

import com.sun.management.ThreadMXBean;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import okhttp3.ConnectionPool;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;

/**
 * The comparison of {@link InterceptorOverheadBenchmark}, interleaved: JMH runs the plain and the
 * intercepted method minutes apart, and on a shared machine the drift between them is larger than
 * the difference. Here five clients (six over loopback) alternate in short rounds (the order
 * rotating from round to round) and the per-round differences are reported (median and quartiles):
 *
 * <ul>
 *   <li>{@code plain}: a plain client, the request without any key;
 *   <li>{@code plain+key}: a plain client, the request with the caller's own
 *       {@code x-goog-api-key}, as every request that reaches Gemini without the interceptor does;
 *   <li>{@code rotating}: the interceptor (8 keys, round-robin, default guard), no caller key;
 *   <li>{@code rotating+key}: the interceptor, the same request as {@code plain+key}: the
 *       interceptor strips the caller's key and sets a pool key of the same length;
 *   <li>{@code floor+key}: the same request through {@link FloorInterceptor}, the least an
 *       interceptor can do that swaps the key, keeps it out of the returned response and sees the
 *       body's end: {@code floor+key − plain+key} is OkHttp's own price for that;
 *   <li>{@code netfloor+key} (over loopback only): the same with the key added by a network
 *       interceptor ({@link FloorInterceptor.Network}), the one design that rebuilds one response
 *       instead of two.
 * </ul>
 *
 * <p>{@code rotating+key − plain+key} is the same request through both clients, the same bytes on
 * the wire; {@code rotating − plain} also counts the 56 bytes of the header the interceptor adds.
 * Also reported: the calling thread's CPU time and allocation per call, which a busy machine
 * disturbs much less than wall time, and how many connections the server accepted (one: the
 * clients share a connection pool, so every call reuses the same keep-alive connection).
 *
 * <p>Run: {@code java -cp benchmarks/target/benchmarks.jar
 * dev.geminirotator.benchmarks.InterleavedOverhead [rounds] [callsPerRound]
 * [loopback|memory|memory-cold]}. {@code memory} answers in memory instead (a last interceptor
 * with a canned response, as in the JMH {@code inMemory*} methods): the interceptor's own CPU cost
 * with no socket at all. {@code memory-cold} also writes over {@code -DcoldKb} (512 by default)
 * KiB of memory before each call, so that each call starts with cold caches, as after a blocking
 * socket read; use more calls per round, the walk dominates the time. With
 * {@code -Dmemory.network=true} the canned answer also carries a network response whose request
 * carries the key, as OkHttp's own answers do, so the interceptor rebuilds it as over a socket.
 */
public final class InterleavedOverhead {

  private static final MediaType JSON = MediaType.get("application/json");
  private static final ThreadMXBean THREADS =
      (ThreadMXBean) ManagementFactory.getThreadMXBean();

  /** Bytes of memory walked before each call in memory-cold mode, to evict the caches. */
  private static int coldBytes;
  private static final byte[] COLD = new byte[4 << 20];
  private static long coldSink;

  private InterleavedOverhead() {
  }

  /** One client and request, with what its rounds measured. */
  private static final class Variant {
    final String name;
    final OkHttpClient client;
    final Request request;
    final double[] wallUs;
    long cpuNanos;
    long allocatedBytes;
    long calls;

    Variant(String name, OkHttpClient client, Request request, int rounds) {
      this.name = name;
      this.client = client;
      this.request = request;
      this.wallUs = new double[rounds];
    }
  }

  public static void main(String[] args) throws IOException {
    int rounds = args.length > 0 ? Integer.parseInt(args[0]) : 40;
    int calls = args.length > 1 ? Integer.parseInt(args[1]) : 4_000;
    boolean memory = args.length > 2 && args[2].startsWith("memory");
    boolean cold = args.length > 2 && args[2].startsWith("memory-cold");
    coldBytes = cold ? Integer.getInteger("coldKb", 512) << 10 : 0;
    String answer = "{\"candidates\":[]}";
    String callerKey = "AIzaSyCALLER" + "0".repeat(27); // 39 characters, like the pool keys
    try (LoopbackServer server = new LoopbackServer(answer)) {
      List<ApiKey> keys = new ArrayList<>();
      for (int i = 0; i < 8; i++) {
        keys.add(ApiKey.of("k" + i, String.format("AIzaSyBENCH%028d", i)));
      }
      GeminiKeyRotator rotator = GeminiKeyRotator.builder().keys(keys).build();
      GeminiKeyInterceptor interceptor = GeminiKeyInterceptor.of(rotator);
      String base = memory ? "https://generativelanguage.googleapis.com" : server.url();
      Request bare = new Request.Builder()
          .url(base + "/v1beta/models/gemini-2.5-flash:generateContent")
          .post(RequestBody.create("{\"contents\":[]}", JSON)).build();
      Request keyed = bare.newBuilder().header("x-goog-api-key", callerKey).build();

      List<OkHttpClient> clients = new ArrayList<>();
      boolean withNetwork = Boolean.getBoolean("memory.network");
      Interceptor canned = chain -> {
        Response.Builder b = new Response.Builder().request(chain.request())
            .protocol(Protocol.HTTP_1_1).code(200).message("OK")
            .header("Content-Type", "application/json; charset=UTF-8");
        if (withNetwork) { // as OkHttp's own stack answers: with a body-less network response
          Request sent = chain.request().newBuilder()
              .header("Host", "generativelanguage.googleapis.com")
              .header("Connection", "Keep-Alive")
              .header("Accept-Encoding", "gzip")
              .header("User-Agent", "okhttp/5.5.1")
              .build();
          b.networkResponse(b.build().newBuilder().request(sent)
              .body(ResponseBody.create("", null)).build());
        }
        return b.body(ResponseBody.create(answer, JSON)).build();
      };
      // One connection pool for all: the calls run one at a time, so they all take turns on
      // the same keep-alive connection, served by the same server thread. With a connection each,
      // the clients differed by up to 10 us per call in a run, in whichever direction: each
      // connection's pair of threads lands on the two vCPUs its own way and keeps that placement.
      ConnectionPool pool = new ConnectionPool();
      FloorInterceptor floor = new FloorInterceptor(keys.get(0).secret());
      FloorInterceptor.Network networkFloor = new FloorInterceptor.Network(keys.get(0).secret());
      for (int i = 0; i < 6; i++) {
        OkHttpClient.Builder b = new OkHttpClient.Builder().connectionPool(pool);
        if (i == 2 || i == 3) b.addInterceptor(interceptor);
        if (i == 4) b.addInterceptor(floor);
        if (i == 5) {
          b.addInterceptor(networkFloor.applicationSide());
          b.addNetworkInterceptor(networkFloor.networkSide());
        }
        if (memory) b.addInterceptor(canned);
        clients.add(b.build());
      }
      List<Variant> variants = new ArrayList<>(List.of(
          new Variant("plain", clients.get(0), bare, rounds),
          new Variant("plain+key", clients.get(1), keyed, rounds),
          new Variant("rotating", clients.get(2), bare, rounds),
          new Variant("rotating+key", clients.get(3), keyed, rounds),
          new Variant("floor+key", clients.get(4), keyed, rounds)));
      if (!memory) { // in memory no network interceptor runs
        variants.add(new Variant("netfloor+key", clients.get(5), keyed, rounds));
      }

      for (int i = 0; i < 3; i++) { // warm-up
        for (Variant v : variants) run(v, calls, -1);
      }
      for (Variant v : variants) {
        v.cpuNanos = 0;
        v.allocatedBytes = 0;
        v.calls = 0;
      }
      int n = variants.size();
      long gcCount = gcCount();
      long gcMillis = gcMillis();
      long measureStart = System.nanoTime();
      for (int r = 0; r < rounds; r++) {
        for (int j = 0; j < n; j++) {
          run(variants.get((j + r) % n), calls, r); // rotate the order from round to round
        }
      }

      long measured = System.nanoTime() - measureStart;
      System.out.printf("%s, rounds=%d calls/round=%d, %d connections accepted, %d GCs taking"
              + " %.2f%% of the time%n", memory ? "memory" : "loopback", rounds, calls,
          server.accepted(), gcCount() - gcCount, (gcMillis() - gcMillis) * 1e8 / measured);
      for (Variant v : variants) {
        System.out.printf("%-13s wall us/call median %6.2f (q1 %6.2f, q3 %6.2f)   caller thread"
                + " cpu %5.2f us/call, %5.0f B/call%n", v.name, q(v.wallUs, 0.5),
            q(v.wallUs, 0.25), q(v.wallUs, 0.75), v.cpuNanos / 1e3 / v.calls,
            (double) v.allocatedBytes / v.calls);
      }
      difference("rotating     - plain    ", variants.get(2), variants.get(0));
      difference("rotating+key - plain+key", variants.get(3), variants.get(1));
      difference("plain+key    - plain    ", variants.get(1), variants.get(0));
      difference("floor+key    - plain+key", variants.get(4), variants.get(1));
      difference("rotating+key - floor+key", variants.get(3), variants.get(4));
      if (floor.ended == 0) throw new IllegalStateException("the floor never saw a body end");
      if (!memory) {
        difference("netfloor+key - plain+key", variants.get(5), variants.get(1));
        if (networkFloor.ended() == 0) {
          throw new IllegalStateException("the network floor never saw a body end");
        }
      }
      for (OkHttpClient client : clients) {
        client.connectionPool().evictAll();
        client.dispatcher().executorService().shutdown();
      }
      rotator.close();
    }
  }

  private static void difference(String label, Variant a, Variant b) {
    double[] d = new double[a.wallUs.length];
    for (int r = 0; r < d.length; r++) d[r] = a.wallUs[r] - b.wallUs[r];
    System.out.printf("%s wall us/call median %+5.2f (q1 %+5.2f, q3 %+5.2f)   cpu %+5.2f us/call,"
            + " %+5.0f B/call%n", label, q(d, 0.5), q(d, 0.25), q(d, 0.75),
        a.cpuNanos / 1e3 / a.calls - b.cpuNanos / 1e3 / b.calls,
        (double) a.allocatedBytes / a.calls - (double) b.allocatedBytes / b.calls);
  }

  private static void run(Variant v, int calls, int round) throws IOException {
    long thread = Thread.currentThread().getId();
    long cpu = THREADS.getCurrentThreadCpuTime();
    long allocated = THREADS.getThreadAllocatedBytes(thread);
    long start = System.nanoTime();
    for (int i = 0; i < calls; i++) {
      for (int b = 0; b < coldBytes; b += 64) coldSink += COLD[(b + i * 64) & (COLD.length - 1)]++;
      try (Response response = v.client.newCall(v.request).execute()) {
        if (response.code() != 200) throw new IOException("unexpected " + response.code());
        response.body().string();
      }
    }
    long elapsed = System.nanoTime() - start;
    v.cpuNanos += THREADS.getCurrentThreadCpuTime() - cpu;
    v.allocatedBytes += THREADS.getThreadAllocatedBytes(thread) - allocated;
    v.calls += calls;
    if (round >= 0) v.wallUs[round] = elapsed / 1_000.0 / calls;
  }

  private static long gcCount() {
    long count = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      count += Math.max(0, gc.getCollectionCount());
    }
    return count;
  }

  private static long gcMillis() {
    long millis = 0;
    for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
      millis += Math.max(0, gc.getCollectionTime());
    }
    return millis;
  }

  private static double q(double[] values, double quantile) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[(int) Math.min(sorted.length - 1, Math.round(quantile * (sorted.length - 1)))];
  }
}
