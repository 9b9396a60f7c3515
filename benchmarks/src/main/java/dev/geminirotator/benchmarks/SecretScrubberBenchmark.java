package dev.geminirotator.benchmarks;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.internal.exchange.SecretScrubber;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Core's {@link SecretScrubber} on a 1 MB error body with 10 keys in the pool and with 100,000,
 * side by side: the cost must not grow with the pool (a set lookup per window, not a loop over
 * keys). Two bodies: JSON-like text naming two pool keys ({@code text}), and one long run of
 * key-alphabet characters with no separator ({@code base64}, the worst case for candidate
 * windows). {@code whole} scrubs the body at once; {@code chunked} streams it in 8 KB chunks as
 * the proxy does. Keys are 39-character {@code AIza…} secrets. The figure to read is MB/s:
 * 1 / (score in ms).
 *
 * <p>Run: {@code flock /tmp/jmh.lock java -jar benchmarks/target/benchmarks.jar
 * SecretScrubberBenchmark}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class SecretScrubberBenchmark {

  @Param({"10", "100000"})
  public int keys;

  @Param({"text", "base64"})
  public String body;

  private SecretScrubber scrubber;
  private byte[] bytes;

  private static String key(Random random) {
    String chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
    StringBuilder sb = new StringBuilder("AIza");
    while (sb.length() < 39) sb.append(chars.charAt(random.nextInt(chars.length())));
    return sb.toString();
  }

  @Setup
  public void setUp() {
    Random random = new Random(15);
    List<ApiKey> pool = new ArrayList<>(keys);
    for (int i = 0; i < keys; i++) pool.add(ApiKey.of("key-" + i, key(random)));
    scrubber = SecretScrubber.of(pool);
    int size = 1 << 20;
    StringBuilder sb = new StringBuilder(size + 100);
    if (body.equals("text")) {
      sb.append("{\"error\": {\"code\": 403, \"message\": \"Consumer 'api_key:")
          .append(pool.get(0).secret()).append("' has been suspended. ");
      String[] words = {"the", "request", "quota", "model", "gemini-2.5-flash", "project",
          "permission", "denied", "consumer", "12345", "details"};
      while (sb.length() < size - 200) sb.append(words[random.nextInt(words.length)]).append(' ');
      sb.append(pool.get(keys - 1).secret()).append("\"}}");
    } else {
      String chars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";
      while (sb.length() < size) sb.append(chars.charAt(random.nextInt(chars.length())));
    }
    bytes = sb.toString().getBytes(StandardCharsets.UTF_8);
  }

  @Benchmark
  public byte[] whole() {
    return scrubber.scrub(bytes);
  }

  @Benchmark
  public int chunked() {
    SecretScrubber.Stream stream = scrubber.stream();
    int sent = 0;
    for (int i = 0; i < bytes.length; i += 8192) {
      byte[] chunk = Arrays.copyOfRange(bytes, i, Math.min(bytes.length, i + 8192));
      sent += stream.next(chunk, i + 8192 >= bytes.length).length;
    }
    return sent;
  }
}
