package dev.geminirotator.standalone.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.handler.codec.http2.DefaultHttp2ResetFrame;
import io.netty.handler.codec.http2.Http2Error;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.ReferenceCountUtil;
import java.nio.channels.ClosedChannelException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client connection: decodes requests one at a time (pipelined requests wait, decoded, until
 * the response before them has ended), reads each body whole up to a limit, hands each request to
 * its {@link RequestHandler}, and tells the request's handler when the client goes away (the
 * connection closes, or is idle for {@code server.idle-timeout}). Not thread-safe: one per
 * connection, confined to its event loop.
 *
 * <p>No byte of a body is held before its handler asks for it ({@link Call#readBody}, which a
 * handler calls only once it has authenticated the request): what arrives earlier pauses reading,
 * and what arrives once the request was answered is dropped. A body held whole reserves its room
 * in the {@link BodyBudget} as it grows (for the bytes that arrived, not the length announced)
 * and gives it back when the request ends. A body must arrive within {@code server.body-timeout}
 * plus one second per {@code server.body-min-rate} bytes, timed from the end of the read that
 * brought its head or, when no read is under way, from when it is due; otherwise its request gets
 * 408 (or, if it was already answered, the connection closes).
 */
public final class ClientConnection extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(ClientConnection.class);

  /** Decoded messages of pipelined requests held before reading pauses. */
  private static final int MAX_QUEUED = 64;

  /**
   * What every connection shares: the body budget and the body timing in force (read anew for
   * each body, so a reload applies to the next one).
   */
  public record Limits(BodyBudget budget, Supplier<? extends BodyPace> pace) {
  }

  /**
   * How fast a request body must arrive: {@code server.body-timeout}, plus one second per
   * {@code server.body-min-rate} bytes received. Implementations are immutable.
   */
  public interface BodyPace {
    /** The time a body has before what it sent earns more; zero disables the clock. */
    java.time.Duration bodyTimeout();

    /** The bytes that earn one more second, or zero: none do. */
    long bodyMinRate();
  }

  private final RequestHandler routes;
  private final HeaderDeadline deadline;
  final Limits limits;
  ChannelHandlerContext ctx;
  private final ArrayDeque<HttpObject> queued = new ArrayDeque<>();
  private final List<Runnable> writable = new ArrayList<>(1);
  /** The request being read or answered, or null between requests. */
  private Call call;
  /** Dropping the rest of a body whose request was answered early. */
  private long discarding = -1;
  /** Body bytes past which {@link #discarding} closes the connection instead. */
  private long discardLimit = Call.DISCARD_BEFORE_413;
  private ProxyRequest.Peer peer;
  /** The connection is closing (a bad head was answered): nothing more is processed. */
  private boolean closing;
  /** A body is on its way (the clock below runs once a read ends with it still incomplete). */
  private boolean bodyPending;
  private long bodyStartNanos;
  /** Body bytes received since the body clock started. */
  private long bodyBytes;
  private io.netty.util.concurrent.ScheduledFuture<?> bodyTimer;
  /** Inside a read (between channelRead and channelReadComplete). */
  private boolean inRead;

  public ClientConnection(RequestHandler routes, HeaderDeadline deadline, Limits limits) {
    this.routes = routes;
    this.deadline = deadline;
    this.limits = limits;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    inRead = true;
    if (!(msg instanceof HttpObject o) || closing) {
      ReferenceCountUtil.release(msg);
      return;
    }
    // One request at a time: what follows a request that has fully arrived waits, decoded, until
    // its response has ended (pipelined requests are answered in order).
    if ((call != null && call.arrived) || !queued.isEmpty()) {
      queued.add(o);
      // A queued body belongs to a request not yet authenticated: read no more of it (what this
      // read brought waits; a client that does not read its answers cannot pile up more).
      if (queued.size() >= MAX_QUEUED || o instanceof HttpContent c && c.content().isReadable()) {
        ctx.channel().config().setAutoRead(false);
      }
      return;
    }
    process(o);
  }

  private void process(HttpObject o) {
    if (o instanceof HttpContent c && bodyPending) {
      bodyBytes += c.content().readableBytes();
      if (c instanceof LastHttpContent) stopBodyClock();
    }
    if (discarding >= 0) {
      if (o instanceof HttpContent c) {
        discarding += c.content().readableBytes();
        boolean last = c instanceof LastHttpContent;
        c.release();
        if (discarding > discardLimit) {
          ctx.close();
          return;
        }
        if (last) discarding = -1;
        return;
      }
      discarding = -1; // a new request: the last body ended without a LastHttpContent
    }
    if (o instanceof HttpRequest head) {
      startCall(head);
      if (o instanceof HttpContent c) content(c);
      return;
    }
    if (o instanceof HttpContent c) content(c);
  }

  private void startCall(HttpRequest head) {
    deadline.headComplete();
    if (head.decoderResult().isFailure()) {
      badHead(head);
      return;
    }
    String[] target = ProxyRequest.isPrintableAscii(head.uri())
        ? ProxyRequest.splitTarget(head.uri()) : null;
    if (target == null) {
      call = null;
      plainError(400, "the request target must be a path or an absolute http(s) URL of visible ASCII characters");
      return;
    }
    String hostProblem = hostProblem(head);
    if (hostProblem != null) {
      plainError(400, hostProblem);
      return;
    }
    boolean secure = ctx.pipeline().get(SslHandler.class) != null;
    if (peer == null) {
      peer = new ProxyRequest.Peer(ctx.channel().remoteAddress(), ctx.channel().localAddress());
    }
    ProxyRequest request = new ProxyRequest(head, target[0], target[1], peer, secure);
    boolean http10 = head.protocolVersion().equals(HttpVersion.HTTP_1_0);
    ProxyResponse response = new ProxyResponse(this, ctx.channel(), HttpUtil.isKeepAlive(head),
        head.method().equals(HttpMethod.HEAD), http10);
    Call c = new Call(this, request, response, HttpUtil.is100ContinueExpected(head));
    call = c;
    // A body follows unless this message ends the request; one sent after 100 Continue is timed
    // from then.
    if (!(head instanceof LastHttpContent) && !c.expectContinue) startBodyClock();
    routes.handle(c);
  }

  /**
   * A body is on its way: timed from the end of the read that leaves it incomplete, or from now
   * when no read is under way (a pipelined request taken up once the answer before it was
   * written, or 100 Continue sent then): no read may ever come to start it.
   */
  void startBodyClock() {
    stopBodyClock();
    bodyPending = true;
    bodyBytes = 0;
    if (!inRead) scheduleBodyClock();
  }

  private void scheduleBodyClock() {
    if (!bodyPending || bodyTimer != null || !ctx.channel().isActive()) return;
    long timeout = limits.pace().get().bodyTimeout().toNanos();
    if (timeout > 0) {
      bodyStartNanos = System.nanoTime();
      bodyBytes = 0; // what arrives from now on earns time
      bodyTimer = ctx.executor().schedule(this::checkBodyClock, timeout, TimeUnit.NANOSECONDS);
    }
  }

  private void stopBodyClock() {
    bodyPending = false;
    if (bodyTimer != null) {
      bodyTimer.cancel(false);
      bodyTimer = null;
    }
  }

  @Override
  public void channelReadComplete(ChannelHandlerContext ctx) {
    inRead = false;
    // Usually a body arrives within the read that brought its head: no timer, no clock read.
    scheduleBodyClock();
    ctx.fireChannelReadComplete();
  }

  /**
   * The body's time is up unless what arrived earned more: {@code server.body-timeout}, plus one
   * second for every {@code server.body-min-rate} bytes received. As a body is at most
   * {@code server.max-request-size}, none holds its connection and its share of the budget longer
   * than {@code body-timeout + max-request-size / body-min-rate} (140 s by default), however it
   * is trickled.
   */
  private void checkBodyClock() {
    bodyTimer = null;
    if (!bodyPending || !ctx.channel().isActive()) return;
    BodyPace config = limits.pace().get();
    long rate = config.bodyMinRate();
    long allowed = config.bodyTimeout().toNanos()
        + (rate > 0 ? (long) (bodyBytes * 1e9 / rate) : 0);
    long left = bodyStartNanos + allowed - System.nanoTime();
    if (left > 0) {
      bodyTimer = ctx.executor().schedule(this::checkBodyClock, left, TimeUnit.NANOSECONDS);
      return;
    }
    bodyPending = false;
    Call c = call;
    if (c != null && c.onBody != null && !c.bodyRead && !c.response.isCommitted()) {
      c.bodyFailed(new TimeoutException("the request body arrived too slowly"));
      return;
    }
    log.atDebug().addKeyValue("peer", String.valueOf(ctx.channel().remoteAddress()))
        .log("closing a connection whose request body arrived too slowly");
    ctx.close();
  }

  private void content(HttpContent content) {
    Call c = call;
    if (c == null || c.arrived) {
      content.release();
      return;
    }
    if (content.decoderResult().isFailure()) {
      // A malformed chunked body: the decoder drops everything after it.
      content.release();
      c.response.closeAfter();
      c.malformed();
      return;
    }
    c.received += content.content().readableBytes();
    if (content instanceof LastHttpContent) c.arrived = true;
    c.add(content);
  }

  /**
   * What is wrong with the request's {@code Host} fields, or {@code null}: RFC 9112 section 3.2
   * wants 400 for an HTTP/1.1 request without one and for any request with more than one (two
   * hosts let a front end and this proxy disagree about the target). HTTP/1.0 may omit it; an
   * HTTP/2 stream names its authority in {@code :authority} and is not checked here.
   */
  private String hostProblem(HttpRequest head) {
    if (ctx.channel() instanceof Http2StreamChannel) return null;
    java.util.Iterator<? extends CharSequence> hosts =
        head.headers().valueCharSequenceIterator(HttpHeaderNames.HOST);
    if (!hosts.hasNext()) {
      return head.protocolVersion().equals(HttpVersion.HTTP_1_0) ? null
          : "an HTTP/1.1 request must carry a Host header";
    }
    hosts.next();
    return hosts.hasNext() ? "a request must carry exactly one Host header, not several" : null;
  }

  /** The request line or a header could not be decoded: a problem, then close. */
  private void badHead(HttpRequest head) {
    Throwable cause = head.decoderResult().cause();
    int status = 400;
    String detail = "the request head is malformed";
    if (cause instanceof TooLongHttpLineException) {
      status = 414;
      detail = "the request line is too long";
    } else if (cause instanceof TooLongHttpHeaderException
        || cause instanceof TooLongFrameException) {
      status = 431;
      detail = "the request headers are too large";
    }
    plainError(status, detail);
  }

  private void plainError(int status, String text) {
    call = null;
    closing = true;
    for (HttpObject o; (o = queued.poll()) != null; ) ReferenceCountUtil.release(o);
    routes.badRequestHead(ctx.channel(), status, text);
  }

  /** Called by {@link ProxyResponse} once the last byte of {@code response} was written. */
  void responseEnded(ProxyResponse response, boolean close) {
    Call c = call;
    if (c == null || c.response != response) return;
    call = null;
    deadline.requestCompleted();
    c.dropEarly();
    c.releaseBudget();
    if (!c.arrived && ctx.channel() instanceof Http2StreamChannel) {
      // HTTP/2: the answer is complete; tell the client to stop sending (RFC 9113 8.1).
      ctx.writeAndFlush(new DefaultHttp2ResetFrame(Http2Error.NO_ERROR));
      ctx.close();
      return;
    }
    if (close || closing || c.expectContinue && !c.arrived && !c.continued) {
      ctx.close();
      return;
    }
    if (!c.arrived) {
      discarding = c.received; // drop the rest of its body, then go on
      discardLimit = Math.max(Call.DISCARD_BEFORE_413, c.lingerUpTo);
    } else {
      stopBodyClock();
    }
    // Hand on the requests the client pipelined meanwhile, in order.
    while (!queued.isEmpty() && (call == null || !call.arrived) && !closing
        && ctx.channel().isActive()) {
      process(queued.poll());
    }
    if (queued.size() < MAX_QUEUED) ctx.channel().config().setAutoRead(true);
  }

  /** Body bytes of pipelined requests waiting, decoded, for their turn. For tests. */
  public long queuedBodyBytes() {
    long n = 0;
    for (HttpObject o : queued) {
      if (o instanceof HttpContent c) n += c.content().readableBytes();
    }
    return n;
  }

  /** Capacity of the distinct buffers that queued body pieces keep alive. For tests. */
  public long queuedBufferBytes() {
    java.util.Set<ByteBuf> held = java.util.Collections.newSetFromMap(
        new java.util.IdentityHashMap<>());
    for (HttpObject o : queued) {
      if (o instanceof HttpContent c && c.content().isReadable()) {
        ByteBuf b = c.content();
        while (b.unwrap() != null) b = b.unwrap();
        held.add(b);
      }
    }
    long n = 0;
    for (ByteBuf b : held) n += b.capacity();
    return n;
  }

  /** Shutting down: the connection closes after the response in progress, if any. */
  public void drain() {
    Call c = call;
    if (c != null) c.response.closeAfter();
  }

  void whenWritable(Runnable task) {
    if (ctx.channel().isWritable()) {
      task.run();
    } else {
      writable.add(task);
    }
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) {
    if (ctx.channel().isWritable() && !writable.isEmpty()) {
      List<Runnable> tasks = new ArrayList<>(writable);
      writable.clear();
      for (Runnable t : tasks) t.run();
    }
    ctx.fireChannelWritabilityChanged();
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent) {
      // Nothing read for server.idle-timeout. A request being answered (a long generation, a
      // stream) is not idle: the upstream's own idle timeout bounds it. A body that stalls gets
      // 408; a connection between requests is closed.
      Call c = call;
      if (c == null) {
        ctx.close();
      } else if (!c.bodyRead && !c.response.isCommitted() && c.onBody != null) {
        c.bodyFailed(new TimeoutException("idle timeout while reading the request body"));
      } else if (!c.bodyRead) {
        ctx.close();
      }
      return;
    }
    ctx.fireUserEventTriggered(evt);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) {
    for (HttpObject o; (o = queued.poll()) != null; ) ReferenceCountUtil.release(o);
    writable.clear();
    stopBodyClock();
    Call c = call;
    call = null;
    if (c != null) {
      c.releaseBudget();
      c.gone(new ClosedChannelException());
    }
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close(); // a reset or a TLS failure: the client is gone
  }


  /**
   * A request body being read: copied from each buffer into an array that doubles as the bytes
   * arrive, never past the declared length (so a declared body ends in an array of exactly its
   * length, handed on as is). The caller reserves each array in the {@link BodyBudget} first.
   */
  public static final class BodyBytes {
    /** The smallest array: a normal request's whole body fits, in one allocation. */
    public static final int STEP = 64 * 1024;

    private byte[] bytes;
    private int size;
    /** The declared length (the array never grows past it), or 0 when not declared. */
    private final long expected;

    BodyBytes(int first, long expected) {
      this.bytes = new byte[Math.max(first, 0)];
      this.expected = expected;
    }

    int size() {
      return size;
    }

    int capacity() {
      return bytes.length;
    }

    /** The array length that holds {@code n} more bytes: the current one if they fit. */
    int capacityFor(int n) {
      int need = size + n;
      if (need <= bytes.length) return bytes.length;
      long doubled = Math.max((long) bytes.length * 2, STEP);
      if (expected > 0) doubled = Math.min(doubled, expected);
      return (int) Math.max(need, Math.min(doubled, Integer.MAX_VALUE - 8));
    }

    /**
     * Appends {@code buf}'s readable bytes into an array of {@code capacity} (from
     * {@link #capacityFor}; the caller keeps the total within an int).
     */
    void read(ByteBuf buf, int capacity) {
      int n = buf.readableBytes();
      if (capacity > bytes.length) bytes = Arrays.copyOf(bytes, capacity);
      buf.readBytes(bytes, size, n);
      size += n;
    }

    byte[] toArray() {
      return size == bytes.length ? bytes : Arrays.copyOf(bytes, size);
    }
  }
}
