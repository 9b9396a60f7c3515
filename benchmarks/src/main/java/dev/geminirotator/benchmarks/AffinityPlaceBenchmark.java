package dev.geminirotator.benchmarks;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.affinity.Placement;
import dev.geminirotator.core.internal.affinity.ResourceAffinity;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequest.Route;
import dev.geminirotator.core.internal.exchange.ResourceKind;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import dev.geminirotator.core.store.MemoryKeyStateStore;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Core's {@link ResourceAffinity#place} on the request path (issue 16: affinity costs nothing for
 * requests that name no resource). Three requests against a table of 10,000 file pins and the
 * memory store: {@code noResource} (a generateContent naming nothing: must be about free, no
 * allocation), {@code pinned} (a request naming a file pinned locally: one table lookup under the
 * lock, the pin's placement built once when it was learnt), and {@code miss} (a file nobody
 * pinned: the memory store is not shared, so no store read, one {@code Discover} allocated).
 * Read ns/op and, with {@code -prof gc}, {@code gc.alloc.rate.norm} (B/op).
 *
 * <p>Run: {@code flock /tmp/jmh.lock java -jar benchmarks/target/benchmarks.jar
 * AffinityPlaceBenchmark -prof gc}
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"-Xms512m", "-Xmx512m"})
@State(Scope.Benchmark)
public class AffinityPlaceBenchmark {

  private static final int PINS = 10_000;

  private ResourceAffinity affinity;
  private GeminiRequest noResource;
  private GeminiRequest pinned;
  private GeminiRequest miss;

  private static GeminiRequest naming(ResourceRef ref) {
    return new GeminiRequest("POST", "v1beta", Route.MODEL_CALL, "generateContent",
        "gemini-2.5-flash", List.of(ref), null, null);
  }

  @Setup
  public void setUp() {
    affinity = ResourceAffinity.builder()
        .store(new MemoryKeyStateStore(), Runnable::run).build();
    ApiKey key = ApiKey.builder("AIzaSy-benchmark-secret").id("k1").project("p1").build();
    GeminiRequest create = new GeminiRequest("POST", "v1beta", Route.UPLOAD_CONTINUE, null,
        RequestContext.ANY_MODEL, List.of(), ResourceKind.FILE, null);
    for (int i = 0; i < PINS; i++) {
      byte[] answer = ("{\"file\": {\"name\": \"files/f" + i + "\"}}")
          .getBytes(StandardCharsets.UTF_8);
      affinity.served(create, key, 200, name -> null, answer);
    }
    noResource = new GeminiRequest("POST", "v1beta", Route.MODEL_CALL, "generateContent",
        "gemini-2.5-flash", List.of(), null, null);
    pinned = naming(new ResourceRef(ResourceKind.FILE, "files/f4242"));
    miss = naming(new ResourceRef(ResourceKind.FILE, "files/nobody-pinned-this"));
    if (!(affinity.place(pinned) instanceof Placement.Pinned)
        || !(affinity.place(miss) instanceof Placement.Discover)
        || affinity.place(noResource) != Placement.ANY) {
      throw new IllegalStateException("the benchmark's requests are not placed as intended");
    }
  }

  @Benchmark
  public Placement noResource() {
    return affinity.place(noResource);
  }

  @Benchmark
  public Placement pinned() {
    return affinity.place(pinned);
  }

  @Benchmark
  public Placement miss() {
    return affinity.place(miss);
  }
}
