package dev.geminirotator.standalone;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.eclipse.jetty.io.EndPoint;
import org.eclipse.jetty.server.Connector;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.internal.HttpConnection;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.Scheduler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A deadline for reading a request head ({@code server.header-timeout}), like nginx's
 * {@code client_header_timeout} or Go's {@code ReadHeaderTimeout}: Jetty 12 has none, so a client
 * trickling header bytes just below the idle timeout held a connection forever (issue 7).
 *
 * <p>The clock starts when the first bytes of a request head arrive (on a TLS connection, the
 * handshake's bytes count for the first request); the connection is closed, without a response,
 * if the head is not complete when it runs out. A connection idle between keep-alive requests
 * has no deadline (the idle timeout closes it), nor has a request being handled: a slow body
 * is bounded by the idle timeout, a stream by nothing here. No 408 is written: Jetty's parser may
 * be in the middle of the head, and a client this slow is not owed one.
 *
 * <p>Installed as the connector's {@link Factory} plus {@link #handler} outermost: the handler
 * marks the head complete when a request reaches it, and open again when the request completes.
 */
final class HeaderDeadline {

  private static final Logger log = LoggerFactory.getLogger(HeaderDeadline.class);

  private HeaderDeadline() {
  }

  /** Wraps {@code next} so that requests on {@link DeadlineConnection}s stop their deadline. */
  static Handler handler(Handler next) {
    return new Handler.Wrapper(next) {
      @Override
      public boolean handle(Request request, Response response, Callback callback)
          throws Exception {
        if (request.getConnectionMetaData().getConnection()
            instanceof DeadlineConnection connection) {
          connection.requestStarted();
          Request.addCompletionListener(request, x -> connection.requestCompleted());
        }
        return super.handle(request, response, callback);
      }
    };
  }

  /** An HTTP/1.1 connection factory whose connections enforce the header deadline. */
  static final class Factory extends HttpConnectionFactory {
    private final long timeoutNanos;

    Factory(HttpConfiguration config, Duration timeout) {
      super(config);
      this.timeoutNanos = timeout.toNanos();
    }

    @Override
    public org.eclipse.jetty.io.Connection newConnection(Connector connector, EndPoint endPoint) {
      DeadlineConnection connection = new DeadlineConnection(getHttpConfiguration(), connector,
          endPoint, timeoutNanos);
      connection.setTransferEncodingChunkMaxLength(getTransferEncodingChunkMaxLength());
      return configure(connection, connector, endPoint);
    }
  }

  /**
   * Jetty's HTTP/1 connection, timing request heads. Requests are counted (started, completed)
   * rather than flagged, so a completion reported after the next request started does not
   * reopen the deadline under it.
   */
  static final class DeadlineConnection extends HttpConnection {
    private final long timeoutNanos;
    private final Scheduler scheduler;
    private final Object lock = new Object();
    private long started;
    private long completed;
    /** Set while a head is being read: when it began, and the check waiting for it. */
    private long headSince;
    private Scheduler.Task check;
    private boolean closed;

    DeadlineConnection(HttpConfiguration config, Connector connector, EndPoint endPoint,
        long timeoutNanos) {
      super(config, connector, endPoint);
      this.timeoutNanos = timeoutNanos;
      this.scheduler = connector.getScheduler();
    }

    @Override
    public void onFillable() {
      long bytesBefore = getBytesIn();
      long startedBefore;
      long now = System.nanoTime();
      synchronized (lock) {
        startedBefore = started;
      }
      super.onFillable();
      synchronized (lock) {
        // Arm only for bytes of a head: not while a request (its body) is being handled, not
        // when this fill completed a head, not for a wake-up that read nothing.
        if (closed || check != null || started != startedBefore || started != completed) return;
        if (getBytesIn() == bytesBefore && isRequestBufferEmpty()) return;
        headSince = now;
        long left = Math.max(0, timeoutNanos - (System.nanoTime() - now));
        check = scheduler.schedule(this::expire, left, TimeUnit.NANOSECONDS);
      }
    }

    void requestStarted() {
      Scheduler.Task cancel;
      synchronized (lock) {
        started++;
        cancel = check;
        check = null;
      }
      if (cancel != null) cancel.cancel();
    }

    void requestCompleted() {
      synchronized (lock) {
        completed++;
      }
    }

    private void expire() {
      synchronized (lock) {
        if (check == null || closed) return;
        check = null;
        if (started != completed) return;
      }
      log.debug("Closing {}: no complete request head within {} ms", getEndPoint()
          .getRemoteSocketAddress(), TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - headSince));
      getEndPoint().close();
    }

    @Override
    public void onClose(Throwable cause) {
      Scheduler.Task cancel;
      synchronized (lock) {
        closed = true;
        cancel = check;
        check = null;
      }
      if (cancel != null) cancel.cancel();
      super.onClose(cause);
    }
  }
}
