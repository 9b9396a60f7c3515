package dev.geminirotator.benchmarks;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import okhttp3.ConnectionPool;
import okhttp3.MediaType;
import okhttp3.OkHttpClient;
import okhttp3.Protocol;
import okhttp3.Request;
import okhttp3.RequestBody;
import okhttp3.Response;
import okhttp3.ResponseBody;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What {@link GeminiKeyInterceptor} adds to a call: the same POST generateContent through a plain
 * {@link OkHttpClient} and through one that carries the interceptor (8 keys, round-robin, the
 * default circuit guard), the 200 JSON body read to the end and closed.
 *
 * <ul>
 *   <li>{@code loopback*}: over a real socket to a tiny in-process HTTP/1.1 server on 127.0.0.1
 *       (keep-alive, one connection). The difference between the two is the overhead, but it sits
 *       inside tens of microseconds of socket and thread hand-off noise.
 *   <li>{@code inMemory*}: the same call answered by a last application interceptor with a canned
 *       response, so the whole OkHttp call path runs with no network. The difference is the
 *       interceptor's own cost, measurable to a fraction of a microsecond.
 *       {@code inMemoryWithInterceptorNoGuard} leaves the circuit guard out.
 * </ul>
 *
 * <p>Target (issue: okhttp): the interceptor adds at most 2 µs per call. Run, e.g.:
 * {@code java -jar benchmarks/target/benchmarks.jar InterceptorOverhead -f 1 -wi 3 -i 5}.
 */
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(value = 1, jvmArgsAppend = {"-Xms1g", "-Xmx1g"})
@State(Scope.Benchmark)
public class InterceptorOverheadBenchmark {

  private static final String PATH = "/v1beta/models/gemini-2.5-flash:generateContent";
  private static final MediaType JSON = MediaType.get("application/json");
  private static final String PROMPT = "{\"contents\":[{\"parts\":[{\"text\":\"hello\"}]}]}";
  private static final String ANSWER = "{\"candidates\":[{\"content\":{\"parts\":[{\"text\":"
      + "\"Key rotation spreads requests across several credentials.\"}],\"role\":\"model\"},"
      + "\"finishReason\":\"STOP\",\"index\":0}],\"usageMetadata\":{\"promptTokenCount\":12,"
      + "\"candidatesTokenCount\":9,\"totalTokenCount\":21},\"modelVersion\":\"gemini-2.5-flash\"}";

  private LoopbackServer server;
  private GeminiKeyRotator rotator;
  private OkHttpClient plainLoopback;
  private OkHttpClient rotatingLoopback;
  private OkHttpClient plainInMemory;
  private OkHttpClient rotatingInMemory;
  private OkHttpClient rotatingInMemoryNoGuard;
  private Request loopbackRequest;
  private Request inMemoryRequest;

  @Setup(Level.Trial)
  public void setUp() throws IOException {
    server = new LoopbackServer(ANSWER);
    List<ApiKey> keys = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      keys.add(ApiKey.of("k" + i, String.format("AIzaSyBENCH%028d", i)));
    }
    rotator = GeminiKeyRotator.builder().keys(keys).build();
    GeminiKeyInterceptor interceptor = GeminiKeyInterceptor.of(rotator);

    plainLoopback = new OkHttpClient.Builder().connectionPool(new ConnectionPool()).build();
    rotatingLoopback = plainLoopback.newBuilder().connectionPool(new ConnectionPool())
        .addInterceptor(interceptor).build();

    OkHttpClient upstreamInMemory = new OkHttpClient.Builder()
        .addInterceptor(chain -> new Response.Builder()
            .request(chain.request())
            .protocol(Protocol.HTTP_1_1)
            .code(200)
            .message("OK")
            .header("Content-Type", "application/json; charset=UTF-8")
            .body(ResponseBody.create(ANSWER, JSON))
            .build())
        .build();
    plainInMemory = upstreamInMemory;
    rotatingInMemory = new OkHttpClient.Builder()
        .addInterceptor(interceptor)
        .addInterceptor(upstreamInMemory.interceptors().get(0))
        .build();
    rotatingInMemoryNoGuard = new OkHttpClient.Builder()
        .addInterceptor(GeminiKeyInterceptor.builder().rotator(rotator)
            .guard(CircuitGuard.disabled()).build())
        .addInterceptor(upstreamInMemory.interceptors().get(0))
        .build();

    loopbackRequest = new Request.Builder().url(server.url() + PATH)
        .post(RequestBody.create(PROMPT, JSON)).build();
    inMemoryRequest = new Request.Builder().url("https://generativelanguage.googleapis.com" + PATH)
        .post(RequestBody.create(PROMPT, JSON)).build();
  }

  @TearDown(Level.Trial)
  public void tearDown() throws IOException {
    for (OkHttpClient client : List.of(plainLoopback, rotatingLoopback)) {
      client.dispatcher().executorService().shutdown();
      client.connectionPool().evictAll();
    }
    server.close();
    rotator.close();
  }

  private static String call(OkHttpClient client, Request request) throws IOException {
    try (Response response = client.newCall(request).execute()) {
      if (response.code() != 200) throw new IOException("unexpected " + response.code());
      return response.body().string();
    }
  }

  @Benchmark
  public String loopbackPlain() throws IOException {
    return call(plainLoopback, loopbackRequest);
  }

  @Benchmark
  public String loopbackWithInterceptor() throws IOException {
    return call(rotatingLoopback, loopbackRequest);
  }

  @Benchmark
  public String inMemoryPlain() throws IOException {
    return call(plainInMemory, inMemoryRequest);
  }

  @Benchmark
  public String inMemoryWithInterceptor() throws IOException {
    return call(rotatingInMemory, inMemoryRequest);
  }

  /** The same without the circuit guard, to show what the guard's bookkeeping costs. */
  @Benchmark
  public String inMemoryWithInterceptorNoGuard() throws IOException {
    return call(rotatingInMemoryNoGuard, inMemoryRequest);
  }
}
