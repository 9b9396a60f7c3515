package dev.geminirotator.standalone;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CancellationException;
import java.util.function.Consumer;
import org.eclipse.jetty.http.HttpVersion;
import org.eclipse.jetty.io.AbstractEndPoint;
import org.eclipse.jetty.io.Connection;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.io.EofException;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.util.Callback;

/**
 * Notices an HTTP/1 client closing its connection while its request waits for the upstream or
 * streams a response.
 *
 * <p>Jetty's HTTP/1 connection does not read from the socket while a request is being handled
 * and its body has been read, so a client that goes away is only noticed at the next write, which
 * for a slow upstream (or a quiet stream) may be minutes later. Meanwhile the upstream call holds
 * a connection and a key lease. This watch registers read interest on the connection's endpoint
 * once the request body is fully read: an end of stream or a failure there means the client left.
 *
 * <p>Bytes that arrive instead belong to a pipelined next request, which this watch has then
 * consumed: it stops watching and {@link #closeIfConsumed()} closes the connection once the
 * response is written (a pipelining client retries unanswered requests on a new one).
 * {@link #stop()} must be called before the request completes, so that Jetty can register its own
 * read interest for the next request. Thread-safe.
 */
final class ClientDisconnectWatch {

  /**
   * Withdraws the read interest in {@link #stop()}: it only reaches this watch's own callback,
   * which ignores it, so one shared instance without a stack trace does (stop() runs on every
   * request, and filling in a stack trace each time was a visible share of the proxy's CPU).
   */
  private static final CancellationException REQUEST_COMPLETE = new CancellationException(
      "request complete") {
    @Override
    public synchronized Throwable fillInStackTrace() {
      return this;
    }
  };

  private final EndPoint endPoint;
  private final Consumer<Throwable> onGone;
  private final Object lock = new Object();
  private boolean registered;
  private boolean stopped;
  private boolean consumed;
  private final Callback readable = new Callback() {
    @Override
    public void succeeded() {
      onReadable();
    }

    @Override
    public void failed(Throwable x) {
      onFailed(x);
    }
  };

  private ClientDisconnectWatch(EndPoint endPoint, Consumer<Throwable> onGone) {
    this.endPoint = endPoint;
    this.onGone = onGone;
  }

  /**
   * Starts watching an HTTP/1 request whose body has been read completely; {@code onGone} runs
   * once, on a Jetty thread, if the client closes or loses the connection. Returns {@code null}
   * when the request is not watchable this way (HTTP/2 streams report resets to the request's
   * failure listeners already).
   */
  static ClientDisconnectWatch start(Request request, Consumer<Throwable> onGone) {
    HttpVersion version = request.getConnectionMetaData().getHttpVersion();
    if (version != HttpVersion.HTTP_1_1 && version != HttpVersion.HTTP_1_0) return null;
    Connection connection = request.getConnectionMetaData().getConnection();
    EndPoint endPoint = connection == null ? null : connection.getEndPoint();
    if (!(endPoint instanceof AbstractEndPoint)) return null;
    ClientDisconnectWatch watch = new ClientDisconnectWatch(endPoint, onGone);
    watch.register();
    return watch;
  }

  private void register() {
    synchronized (lock) {
      if (stopped || registered) return;
      // False when someone else (Jetty itself) already waits for input: leave it alone.
      registered = endPoint.tryFillInterested(readable);
    }
  }

  private void onReadable() {
    Throwable gone = null;
    synchronized (lock) {
      registered = false;
      if (stopped) return;
      ByteBuffer buffer = ByteBuffer.allocate(512);
      buffer.flip(); // Jetty's fill appends to a buffer in flush mode
      try {
        int n = endPoint.fill(buffer);
        if (n < 0) {
          gone = new EofException("client closed the connection");
        } else if (n > 0) {
          consumed = true; // a pipelined request: stop here; see closeIfConsumed()
          return;
        } else {
          registered = endPoint.tryFillInterested(readable);
          return;
        }
      } catch (IOException e) {
        gone = e;
      }
      stopped = true;
    }
    onGone.accept(gone);
  }

  private void onFailed(Throwable x) {
    synchronized (lock) {
      registered = false;
      if (stopped) return;
      stopped = true;
    }
    onGone.accept(x);
  }

  /**
   * Stops watching and withdraws the read interest, so that the connection can read its next
   * request. Idempotent. After it returns this watch no longer touches the connection.
   */
  void stop() {
    synchronized (lock) {
      if (stopped && !registered) return;
      stopped = true;
      if (registered) {
        registered = false;
        ((AbstractEndPoint) endPoint).getFillInterest().onFail(
            REQUEST_COMPLETE);
      }
    }
  }

  /**
   * Once the response is written and before the request completes: closes the connection if
   * this watch consumed bytes of a pipelined next request. Jetty resumes reading the moment the
   * request completes and would parse what is left of that request (its body, say) as a request
   * of its own, so the close must come first.
   */
  void closeIfConsumed() {
    boolean close;
    synchronized (lock) {
      close = consumed;
    }
    if (close) endPoint.close();
  }
}
