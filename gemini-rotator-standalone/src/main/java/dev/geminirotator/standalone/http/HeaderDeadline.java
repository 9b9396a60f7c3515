package dev.geminirotator.standalone.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A deadline for reading a request head ({@code server.header-timeout}), like nginx's
 * {@code client_header_timeout} or Go's {@code ReadHeaderTimeout}: a client trickling header bytes
 * just below the idle timeout would otherwise hold a connection forever (issue 7).
 *
 * <p>The clock starts when the first bytes of a request head arrive (on a TLS connection, the
 * handshake's bytes count for the first request: this handler sits before TLS); the connection is
 * closed, without a response, if the head is not complete when it runs out. A connection idle
 * between keep-alive requests has no deadline (the idle timeout closes it), nor has a request
 * being handled: a slow body is bounded by {@code server.body-timeout} (see
 * {@link ClientConnection}), a stream by nothing here. On an h2c connection the deadline runs
 * from the preface until the first stream's head is complete (see {@link H2cDetector}). No 408 is
 * written: a client this slow is not owed one. One per connection; event-loop confined.
 */
public final class HeaderDeadline extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(HeaderDeadline.class);

  private final long timeoutNanos;
  private ChannelHandlerContext ctx;
  private boolean betweenRequests = true;
  /** Request heads decoded on this connection. */
  private long heads;
  private ScheduledFuture<?> timer;

  /** A deadline of {@code timeout}; zero disables it. */
  public HeaderDeadline(Duration timeout) {
    this.timeoutNanos = timeout.toNanos();
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    boolean mayStartHead = betweenRequests && timer == null && timeoutNanos > 0;
    long headsBefore = heads;
    ctx.fireChannelRead(msg);
    // Usually the whole head came in this read and was decoded just now: no timer needed (and
    // if its response already ended, the connection is idle, which has no deadline). Otherwise
    // the deadline runs from the end of this read, which took microseconds: no clock is read
    // for the usual case.
    if (mayStartHead && heads == headsBefore && betweenRequests && timer == null
        && ctx.channel().isActive()) {
      timer = ctx.executor().schedule(this::expire, timeoutNanos, TimeUnit.NANOSECONDS);
    }
  }

  /** A request head was decoded: no deadline until that request completes. */
  void headComplete() {
    heads++;
    betweenRequests = false;
    cancel();
  }

  /** The request's response ended: the next head's bytes start a new deadline. */
  void requestCompleted() {
    betweenRequests = true;
  }

  private void expire() {
    timer = null;
    if (!betweenRequests) return;
    log.atDebug().addKeyValue("peer", String.valueOf(ctx.channel().remoteAddress()))
        .log("closing a connection whose request head did not arrive in time");
    ctx.close();
  }

  private void cancel() {
    if (timer != null) {
      timer.cancel(false);
      timer = null;
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    cancel();
    ctx.fireChannelInactive();
  }
}
