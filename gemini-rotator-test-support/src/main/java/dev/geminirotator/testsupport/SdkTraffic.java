package dev.geminirotator.testsupport;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import okhttp3.Interceptor;
import okhttp3.Response;

/**
 * Records what an HTTP client got back (status, headers and up to {@link #MAX_BODY} bytes of each
 * body), as the outermost OkHttp interceptor of the client the GenAI SDK runs on, so a test can
 * scan everything the SDK saw for secrets. Keeps at most {@link #MAX_EXCHANGES} exchanges (the
 * oldest are dropped). It reads a copy of the body ({@code peekBody}), so the caller still gets
 * all of it; use it only on responses that end (not on a stream that never does). Thread-safe.
 */
public final class SdkTraffic implements Interceptor {

  /** The most exchanges remembered. */
  public static final int MAX_EXCHANGES = 10_000;
  /** The most bytes of one body remembered. */
  public static final long MAX_BODY = 1L << 20;

  private final List<String> exchanges = new ArrayList<>();

  @Override
  public Response intercept(Chain chain) throws IOException {
    Response response = chain.proceed(chain.request());
    String body = response.peekBody(MAX_BODY).string();
    String seen = chain.request().method() + " " + chain.request().url().encodedPath() + " -> "
        + response.code() + "\n" + response.headers() + "\n" + body;
    synchronized (exchanges) {
      if (exchanges.size() >= MAX_EXCHANGES) exchanges.remove(0);
      exchanges.add(seen);
    }
    return response;
  }

  /** Every recorded answer, one after another: status line, headers, body. */
  public String text() {
    synchronized (exchanges) {
      return String.join("\n\n", exchanges);
    }
  }

  /** How many answers were recorded. */
  public int count() {
    synchronized (exchanges) {
      return exchanges.size();
    }
  }
}
