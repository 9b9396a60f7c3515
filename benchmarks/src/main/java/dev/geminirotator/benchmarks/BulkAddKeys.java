package dev.geminirotator.benchmarks;

import dev.geminirotator.standalone.ProxyServer;
import dev.geminirotator.standalone.config.StandaloneConfig;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;

/**
 * What {@code POST /admin/keys} costs for a large batch (issue 14 item 7): starts the standalone
 * proxy in this JVM (memory store, one configured key), then posts batches of new keys one after
 * another and prints, per batch, the wall time of the request and the bytes allocated meanwhile by
 * every thread of the JVM (the proxy's event loop and admin threads included), from
 * {@code com.sun.management.ThreadMXBean#getThreadAllocatedBytes}.
 *
 * <p>The proxy logs as it does in production (JSON lines on standard output, one per key added);
 * the figures go to standard error. Target: at most 2 s and 100 MB for a batch of 10,000 keys,
 * the first and the second alike. Run: {@code java -Xms1g -Xmx1g -cp
 * benchmarks/target/benchmarks.jar dev.geminirotator.benchmarks.BulkAddKeys [keys per batch,
 * default 10000] [batches, default 2] > /dev/null}
 */
public final class BulkAddKeys {

  private static final String ADMIN = "bulk-add-benchmark-admin-token";

  private BulkAddKeys() {
  }

  public static void main(String[] args) throws Exception {
    int perBatch = args.length > 0 ? Integer.parseInt(args[0]) : 10_000;
    int batches = args.length > 1 ? Integer.parseInt(args[1]) : 2;
    Path dir = Files.createTempDirectory("bulk-add");
    Path config = dir.resolve("config.yaml");
    Files.writeString(config, """
        keys:
          - id: configured
            secret: AIzaSyBULK-configured-key-0000000000000
        server:
          port: 0
        upstream:
          base-url: http://127.0.0.1:9
        access:
          tokens: [bulk-add-benchmark-access-token]
        admin:
          token: %s
        """.formatted(ADMIN));
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
    try (ProxyServer proxy = ProxyServer.start(StandaloneConfig.load(config, Map.of(),
        StandaloneConfig.Overrides.NONE))) {
      URI uri = URI.create(proxy.uri() + "/admin/keys");
      // warm-up: a small batch, so the first measured batch does not pay for class loading
      post(http, uri, body(0, 100, "warm"));
      System.err.printf("%-8s %8s %10s %14s %10s%n", "batch", "keys", "ms", "allocated MB",
          "pool");
      for (int b = 0; b < batches; b++) {
        String body = body(b, perBatch, "bulk");
        System.gc();
        long allocatedBefore = allocated(threads);
        long start = System.nanoTime();
        int status = post(http, uri, body);
        long nanos = System.nanoTime() - start;
        long allocated = allocated(threads) - allocatedBefore;
        if (status != 201) throw new IllegalStateException("batch " + b + " answered " + status);
        System.err.printf("%-8d %8d %10.0f %14.1f %10d%n", b + 1, perBatch, nanos / 1e6,
            allocated / 1e6, proxy.rotator().snapshot().size());
      }
    }
  }

  private static String body(int batch, int keys, String prefix) {
    StringBuilder sb = new StringBuilder(keys * 80).append("{\"keys\":[");
    for (int i = 0; i < keys; i++) {
      if (i > 0) sb.append(',');
      String id = prefix + "-" + batch + "-" + i;
      sb.append("{\"id\":\"").append(id).append("\",\"secret\":\"AIzaSyBULK")
          .append(String.format("%030d", (long) batch * 1_000_000 + i)).append(prefix)
          .append("\"}");
    }
    return sb.append("]}").toString();
  }

  private static int post(HttpClient http, URI uri, String body) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(10))
        .header("Authorization", "Bearer " + ADMIN).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    return http.send(request, HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  /** Bytes allocated so far by the threads alive now (the proxy's threads live throughout). */
  private static long allocated(com.sun.management.ThreadMXBean threads) {
    long total = 0;
    for (long bytes : threads.getThreadAllocatedBytes(threads.getAllThreadIds())) {
      if (bytes > 0) total += bytes;
    }
    return total;
  }
}
