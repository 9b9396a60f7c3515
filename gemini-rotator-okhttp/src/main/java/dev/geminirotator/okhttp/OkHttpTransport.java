package dev.geminirotator.okhttp;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.CircuitOpenException;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.internal.exchange.Attempt;
import dev.geminirotator.core.internal.exchange.LocalAnswer;
import dev.geminirotator.core.internal.exchange.Transport;
import java.io.IOException;
import java.time.Clock;
import okhttp3.Call;
import okhttp3.Interceptor;
import okhttp3.Request;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;
import okio.ByteString;
import okio.GzipSource;
import okio.Okio;

/**
 * One call's transport for core's {@link
 * dev.geminirotator.core.internal.exchange.GeminiExchange}: sends
 * the stripped request with a key down the chain, and hands answers on with the pool keys
 * scrubbed (from the returned {@code request()}s, from header values, from error bodies). It holds
 * no lease, guard or retry logic. Used by one call, on its thread.
 */
final class OkHttpTransport implements Transport.Blocking<Response> {

  private final Interceptor.Chain chain;
  private final Call call;
  private final Request base;
  /** A builder of {@code base} the first attempt adds its key to, or null: a new one. */
  private Request.Builder firstAttempt;
  /** Whether the key goes in as a bearer token (the OpenAI-compatible surface). */
  private final boolean openAi;
  private final GeminiKeyInterceptor interceptor;
  private final long deadline;
  /** The last peek, kept for {@link #keep}: the response it was read from and its bytes. */
  private Response peekedOf;
  private ByteString peeked;

  OkHttpTransport(Interceptor.Chain chain, Request base, Request.Builder firstAttempt,
      boolean openAi, GeminiKeyInterceptor interceptor) {
    this.chain = chain;
    this.call = chain.call();
    this.base = base;
    this.firstAttempt = firstAttempt;
    this.openAi = openAi;
    this.interceptor = interceptor;
    long timeoutNanos = call.timeout().timeoutNanos();
    this.deadline = timeoutNanos > 0 ? System.nanoTime() + timeoutNanos : 0;
  }

  @Override
  public Response send(ApiKey key) throws IOException {
    Request.Builder b = firstAttempt != null ? firstAttempt : base.newBuilder();
    firstAttempt = null;
    try {
      return chain.proceed(Credentials.withKey(b, base, key.secret(), openAi,
          interceptor.keyPlacement));
    } catch (IOException e) {
      throw Redaction.redact(e, key);
    } catch (RuntimeException e) {
      throw Redaction.redact(e, key);
    }
  }

  @Override
  public long deadlineNanos() {
    return deadline;
  }

  @Override
  public boolean cancelled() {
    return call.isCanceled();
  }

  @Override
  public int status(Response response) {
    return response.code();
  }

  @Override
  public String header(Response response, String name) {
    return response.header(name);
  }

  /** The peeked bytes as text, gunzipped when the caller asked for gzip and got it raw. */
  @Override
  public String peek(Response response) {
    ByteString bytes;
    try {
      bytes = response.peekBody(GeminiClassifier.MAX_PEEK_BYTES).byteString();
    } catch (IOException | RuntimeException e) {
      bytes = null; // the classifier falls back to the status
    }
    peekedOf = response;
    peeked = bytes;
    if (bytes == null || bytes.size() == 0) {
      return null;
    }
    if (!"gzip".equalsIgnoreCase(response.header("Content-Encoding"))) {
      return bytes.utf8();
    }
    Buffer out = new Buffer();
    try (BufferedSource gunzip = Okio.buffer(new GzipSource(new Buffer().write(bytes)))) {
      while (out.size() < GeminiClassifier.MAX_PEEK_BYTES
          && gunzip.read(out, GeminiClassifier.MAX_PEEK_BYTES - out.size()) != -1) {
        // keep reading
      }
    } catch (IOException e) {
      // Cut mid-stream by the peek: what was inflated so far is what there is.
    }
    return out.readUtf8();
  }

  @Override
  public boolean fromUpstream(Response response) {
    return response.networkResponse() != null || response.cacheResponse() == null;
  }

  /** A 2xx: its body streams to the caller and completes the attempt when it ends. */
  @Override
  public Response serve(Response response, Attempt attempt) {
    Response.Builder b = Credentials.scrubbed(response, base, attempt.scrubber());
    ResponseBody body = response.body();
    int code = response.code();
    if (body.contentLength() == 0 || code == 204 || code == 205 || "HEAD".equals(base.method())) {
      attempt.succeeded();
      return b.build();
    }
    return b.body(new LeasedResponseBody(body, attempt, call)).build();
  }

  @Override
  public Response pass(Response response, Attempt attempt, long retryAfterSeconds) {
    Response.Builder b = Credentials.scrubbed(response, base, attempt.scrubber());
    if (ScrubbedErrors.scrubs(response.code())) {
      b = ScrubbedErrors.returned(response, b, attempt.scrubber());
    }
    return withRetryAfter(b, retryAfterSeconds).build();
  }

  /** The failed answer kept while the next attempt runs: its peeked body, scrubbed. */
  @Override
  public Response keep(Response response, Attempt attempt) {
    ByteString bytes = peekedOf == response ? peeked : null;
    if (peekedOf != response) {
      try {
        bytes = response.peekBody(GeminiClassifier.MAX_PEEK_BYTES).byteString();
      } catch (IOException | RuntimeException e) {
        bytes = null;
      }
    }
    peekedOf = null;
    peeked = null;
    Response.Builder b = Credentials.scrubbed(response, base, attempt.scrubber());
    Response kept = b.body(ScrubbedErrors.retained(response, b, bytes, attempt.scrubber())).build();
    response.close();
    return kept;
  }

  @Override
  public Response passKept(Response kept, long retryAfterSeconds) {
    return retryAfterSeconds < 0 ? kept
        : withRetryAfter(kept.newBuilder(), retryAfterSeconds).build();
  }

  @Override
  public void discard(Response response) {
    response.close();
  }

  @Override
  public Response local(LocalAnswer answer) throws IOException {
    Clock clock = interceptor.exchange.clock();
    if (answer.cause() instanceof CircuitOpenException e) {
      if (interceptor.circuitOpenBehavior == GeminiKeyInterceptor.CircuitOpenBehavior.THROW) {
        throw new CircuitOpenIOException(e);
      }
    } else if (answer.cause() instanceof NoKeyAvailableException e
        && interceptor.noKeyBehavior == GeminiKeyInterceptor.NoKeyBehavior.THROW) {
      throw new NoKeyAvailableIOException(e);
    }
    return LocalErrors.render(base, answer, clock);
  }

  private static Response.Builder withRetryAfter(Response.Builder b, long seconds) {
    return seconds < 0 ? b : b.header("Retry-After", Long.toString(seconds));
  }
}
