package dev.geminirotator.okhttp;

import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.internal.exchange.SecretScrubber;
import java.io.IOException;
import java.util.Locale;
import okhttp3.MediaType;
import okhttp3.Response;
import okhttp3.ResponseBody;
import okio.Buffer;
import okio.BufferedSource;
import okio.ByteString;
import okio.GzipSource;
import okio.Okio;
import okio.Source;
import okio.Timeout;

/**
 * Keeps every pool key out of the error bodies (4xx, 5xx) the interceptor hands its caller, with
 * core's {@link SecretScrubber}: Gemini names the key in some messages ("Consumer 'api_key:AIza…'
 * has been suspended"), and an answer may name another pool key. A returned error body is
 * scrubbed as the caller reads it, holding back no more than a secret's length, never buffered
 * whole; a kept failure's peeked bytes are scrubbed at once. A gzip body (one the caller asked for
 * with its own {@code Accept-Encoding}, so OkHttp left it compressed) is inflated and handed over
 * plain, without {@code Content-Encoding}; a body in any other coding cannot be checked and is
 * dropped. The scrubbed body has no declared length. Stateless; each body it makes is read by one
 * caller.
 */
final class ScrubbedErrors {

  private ScrubbedErrors() {
  }

  /** Whether {@code code}'s body goes through the scrubber. */
  static boolean scrubs(int code) {
    return code >= 400;
  }

  /**
   * {@code b}, building the returned error {@code response}, with a body that yields the
   * response's body with every pool key replaced, and the headers that no longer hold.
   */
  static Response.Builder returned(Response response, Response.Builder b,
      SecretScrubber scrubber) {
    ResponseBody body = response.body();
    String encoding = response.header("Content-Encoding");
    b.removeHeader("Content-Length");
    Source source;
    if (isIdentity(encoding)) {
      source = body.source();
    } else if (isGzip(encoding)) {
      source = new GzipSource(body.source());
      b.removeHeader("Content-Encoding");
    } else {
      body.close();
      b.removeHeader("Content-Encoding");
      return b.body(ResponseBody.create(ByteString.EMPTY, body.contentType()));
    }
    return b.body(new Scrubbed(body.contentType(),
        Okio.buffer(new ScrubbingSource(source, scrubber.stream()))));
  }

  /**
   * The body kept of a failed attempt, from its {@code peeked} bytes (null if lost): inflated
   * when gzip, scrubbed, and cut before any secret the peek was cut in. Sets the headers that no
   * longer hold on {@code b}.
   */
  static ResponseBody retained(Response response, Response.Builder b, ByteString peeked,
      SecretScrubber scrubber) {
    ResponseBody body = response.body();
    ByteString bytes = peeked != null ? peeked : ByteString.EMPTY;
    boolean complete = peeked != null && bytes.size() < GeminiClassifier.MAX_PEEK_BYTES;
    String encoding = response.header("Content-Encoding");
    if (!isIdentity(encoding)) {
      b.removeHeader("Content-Encoding");
      if (isGzip(encoding)) {
        Buffer out = new Buffer();
        try (BufferedSource gunzip = Okio.buffer(new GzipSource(new Buffer().write(bytes)))) {
          while (out.size() <= GeminiClassifier.MAX_PEEK_BYTES
              && gunzip.read(out, GeminiClassifier.MAX_PEEK_BYTES + 1 - out.size()) != -1) {
            // keep reading
          }
          complete = complete && gunzip.exhausted() && out.size() <= GeminiClassifier.MAX_PEEK_BYTES;
        } catch (IOException e) {
          complete = false; // cut mid-stream by the peek: what was inflated so far is all
        }
        bytes = out.readByteString();
      } else {
        bytes = ByteString.EMPTY; // a coding we cannot read, so cannot check: not passed on
        complete = true;
      }
    }
    byte[] raw = bytes.toByteArray();
    byte[] scrubbed = complete ? scrubber.scrub(raw) : scrubber.scrubTruncated(raw);
    if (body.contentLength() != scrubbed.length || scrubbed != raw) {
      b.removeHeader("Content-Length"); // cut to the peek, a key taken out, or unknown
    }
    return ResponseBody.create(scrubbed, body.contentType());
  }

  private static boolean isIdentity(String encoding) {
    return encoding == null || encoding.isBlank() || encoding.trim().equalsIgnoreCase("identity");
  }

  private static boolean isGzip(String encoding) {
    String e = encoding.trim().toLowerCase(Locale.ROOT);
    return e.equals("gzip") || e.equals("x-gzip");
  }

  /** A body of unknown length read from a scrubbing source. */
  private static final class Scrubbed extends ResponseBody {
    private final MediaType contentType;
    private final BufferedSource source;

    Scrubbed(MediaType contentType, BufferedSource source) {
      this.contentType = contentType;
      this.source = source;
    }

    @Override
    public MediaType contentType() {
      return contentType;
    }

    @Override
    public long contentLength() {
      return -1;
    }

    @Override
    public BufferedSource source() {
      return source;
    }
  }

  /** Reads the delegate in chunks and yields each scrubbed, holding back a possible secret start. */
  private static final class ScrubbingSource implements Source {
    private static final int CHUNK = 8192;
    private final Source delegate;
    private final SecretScrubber.Stream stream;
    private final Buffer in = new Buffer();
    private final Buffer ready = new Buffer();
    private boolean done;

    ScrubbingSource(Source delegate, SecretScrubber.Stream stream) {
      this.delegate = delegate;
      this.stream = stream;
    }

    @Override
    public long read(Buffer sink, long byteCount) throws IOException {
      while (ready.size() == 0) {
        if (done) return -1;
        long n = delegate.read(in, CHUNK);
        boolean last = n == -1;
        byte[] chunk = in.readByteArray();
        ready.write(stream.next(chunk, last));
        done = last;
      }
      return ready.read(sink, Math.min(byteCount, ready.size()));
    }

    @Override
    public Timeout timeout() {
      return delegate.timeout();
    }

    @Override
    public void close() throws IOException {
      delegate.close();
    }
  }
}
