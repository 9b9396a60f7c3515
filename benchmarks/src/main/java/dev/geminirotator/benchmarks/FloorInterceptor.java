package dev.geminirotator.benchmarks;

import java.io.IOException;
import okhttp3.Interceptor;
import okhttp3.MediaType;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;
import okio.ForwardingSource;
import okio.Okio;

/**
 * The least an OkHttp application interceptor can do and still meet what gemini-rotator's
 * interceptor must, with nothing of ours in it: a yardstick for {@link InterleavedOverhead}, not
 * product code. It
 *
 * <ul>
 *   <li>sends the request with one fixed key in {@code x-goog-api-key}, in place of the caller's
 *       (one {@code Request.Builder}: {@code header} replaces);
 *   <li>keeps that key out of what the caller gets back: the returned response's {@code
 *       request()} and its {@code networkResponse().request()} are the caller's own request (the
 *       cheapest request without the key: it exists already, so nothing is stripped or built);
 *   <li>sees the end of the body (a forwarding source over the network body), which a lease
 *       released at the end of a streamed answer needs.
 * </ul>
 *
 * <p>No rotation, retry, guard, parse, scrub or error handling. What it allocates per call is
 * OkHttp's price for those three things through its public API.
 */
final class FloorInterceptor implements Interceptor {

  private final String key;
  /** Bodies that reached their end; read so the forwarding cannot be optimised away. */
  long ended;

  FloorInterceptor(String key) {
    this.key = key;
  }

  @Override
  public Response intercept(Chain chain) throws IOException {
    Request caller = chain.request();
    Response response = chain.proceed(caller.newBuilder().header("x-goog-api-key", key).build());
    Response.Builder b = response.newBuilder().request(caller);
    Response network = response.networkResponse();
    if (network != null) {
      b.networkResponse(network.newBuilder().request(caller).build());
    }
    ResponseBody body = response.body();
    return b.body(new EndSeeingBody(body)).build();
  }

  /**
   * The same three things done with the key added by a network interceptor instead: {@link
   * #applicationSide()} hands the key to {@link #networkSide()} in a thread-local (OkHttp runs a
   * call's whole chain on one thread) and returns OkHttp's answer as it is, whose {@code
   * request()} {@code BridgeInterceptor} already set to the caller's; {@link #networkSide()}
   * sends with the key, then builds the network response once, with the keyless network request
   * and the body seen to its end. Needs a network round trip: in memory no network interceptor
   * runs.
   */
  static final class Network {
    private final String key;
    private final ThreadLocal<String> handed = new ThreadLocal<>();
    private final FloorInterceptor counter = new FloorInterceptor("");

    Network(String key) {
      this.key = key;
    }

    Interceptor applicationSide() {
      return chain -> {
        handed.set(key);
        try {
          return chain.proceed(chain.request());
        } finally {
          handed.remove();
        }
      };
    }

    Interceptor networkSide() {
      return chain -> {
        Request request = chain.request();
        Response response = chain.proceed(
            request.newBuilder().header("x-goog-api-key", handed.get()).build());
        return response.newBuilder().request(request)
            .body(counter.new EndSeeingBody(response.body())).build();
      };
    }

    long ended() {
      return counter.ended;
    }
  }

  private final class EndSeeingBody extends ResponseBody {
    private final ResponseBody delegate;
    private final BufferedSource source;

    EndSeeingBody(ResponseBody delegate) {
      this.delegate = delegate;
      this.source = Okio.buffer(new ForwardingSource(delegate.source()) {
        @Override
        public long read(Buffer sink, long byteCount) throws IOException {
          long n = super.read(sink, byteCount);
          if (n == -1) ended++;
          return n;
        }
      });
    }

    @Override
    public MediaType contentType() {
      return delegate.contentType();
    }

    @Override
    public long contentLength() {
      return delegate.contentLength();
    }

    @Override
    public BufferedSource source() {
      return source;
    }
  }
}
