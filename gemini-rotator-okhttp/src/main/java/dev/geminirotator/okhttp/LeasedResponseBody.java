package dev.geminirotator.okhttp;

import dev.geminirotator.core.internal.exchange.Attempt;
import java.io.IOException;
import okhttp3.Call;
import okhttp3.MediaType;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;
import okio.Okio;
import okio.Source;
import okio.Timeout;

/**
 * A successful response's body, passed through as the caller reads it, that reports the
 * body's end to core's {@link Attempt}: success once it has been read to the end (or to its
 * {@code Content-Length}), a transport error (or cancellation) when reading it fails, cancelled
 * when it is closed before the end. Nothing is read ahead: each read asks upstream for no more
 * than the caller asked for, so a server-sent event reaches the caller as soon as it arrives.
 * While the attempt asks for it ({@link Attempt#teeing()}), the bytes read are also copied to it,
 * for resource affinity.
 *
 * <p>Like any {@link ResponseBody}, read by one thread at a time; completion is thread-safe, so a
 * close or cancel from another thread is fine.
 */
final class LeasedResponseBody extends ResponseBody {

  private final ResponseBody delegate;
  private final BufferedSource source;

  LeasedResponseBody(ResponseBody delegate, Attempt attempt, Call call) {
    this.delegate = delegate;
    this.source = Okio.buffer(new CompletingSource(delegate, attempt, call));
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

  @Override
  public void close() {
    try {
      source.close();
    } catch (IOException e) {
      // Closing a response body never throws to the caller (ResponseBody.close contract).
    }
  }

  /** The upstream source, counting what passes and completing the attempt at its end. */
  private static final class CompletingSource implements Source {
    private final ResponseBody body;
    private final Source upstream;
    private final long contentLength;
    private final Attempt attempt;
    private final Call call;
    private long read;

    CompletingSource(ResponseBody body, Attempt attempt, Call call) {
      this.body = body;
      this.upstream = body.source();
      this.contentLength = body.contentLength();
      this.attempt = attempt;
      this.call = call;
    }

    @Override
    public long read(Buffer sink, long byteCount) throws IOException {
      long n;
      try {
        n = upstream.read(sink, byteCount);
      } catch (IOException e) {
        if (call.isCanceled()) {
          attempt.cancelled();
        } else {
          attempt.failed(e);
        }
        throw Redaction.redact(e, attempt.key());
      } catch (RuntimeException e) {
        attempt.cancelled();
        throw Redaction.redact(e, attempt.key());
      }
      if (n == -1) {
        attempt.succeeded();
      } else {
        if (attempt.teeing()) tee(sink, n);
        read += n;
        if (contentLength >= 0 && read >= contentLength) {
          attempt.succeeded();
        }
      }
      return n;
    }

    /** Hands the {@code n} bytes just read into {@code sink} to the attempt's tee. */
    private void tee(Buffer sink, long n) {
      Buffer copy = new Buffer();
      sink.copyTo(copy, sink.size() - n, n);
      byte[] bytes = copy.readByteArray();
      attempt.tee(bytes, 0, bytes.length);
    }

    @Override
    public Timeout timeout() {
      return upstream.timeout();
    }

    @Override
    public void close() throws IOException {
      try {
        body.close();
      } finally {
        // Read to the end: already a success. Closed after reading some of it: also a success,
        // since the 2xx proved the key works; parsers stop at the closing brace, and with
        // transparent gzip the length is unknown, so EOF is often never read. Closed before
        // reading anything: the caller gave up, and nobody is blamed.
        if (read > 0) {
          attempt.succeeded();
        } else {
          attempt.cancelled();
        }
      }
    }
  }
}
