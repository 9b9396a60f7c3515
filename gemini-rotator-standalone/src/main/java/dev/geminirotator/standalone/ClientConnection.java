package dev.geminirotator.standalone;

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
 * {@link Routes}, and tells the request's handler when the client goes away (the connection
 * closes, or is idle for {@code server.idle-timeout}). Event-loop confined.
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
final class ClientConnection extends ChannelInboundHandlerAdapter {

  private static final Logger log = LoggerFactory.getLogger(ClientConnection.class);

  /** Decoded messages of pipelined requests held before reading pauses. */
  private static final int MAX_QUEUED = 64;

  /** What every connection shares: the body budget and the settings in force. */
  record Limits(BodyBudget budget, Supplier<Settings> settings) {
  }

  private final Routes routes;
  private final HeaderDeadline deadline;
  private final Limits limits;
  private ChannelHandlerContext ctx;
  private final ArrayDeque<HttpObject> queued = new ArrayDeque<>();
  private final List<Runnable> writable = new ArrayList<>(1);
  /** The request being read or answered, or null between requests. */
  private Call call;
  /** Dropping the rest of a body whose request was answered early. */
  private long discarding = -1;
  /** Body bytes past which {@link #discarding} closes the connection instead. */
  private long discardLimit = GeminiProxy.DISCARD_BEFORE_413;
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

  ClientConnection(Routes routes, HeaderDeadline deadline, Limits limits) {
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
    Call c = new Call(request, response, HttpUtil.is100ContinueExpected(head));
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
  private void startBodyClock() {
    stopBodyClock();
    bodyPending = true;
    bodyBytes = 0;
    if (!inRead) scheduleBodyClock();
  }

  private void scheduleBodyClock() {
    if (!bodyPending || bodyTimer != null || !ctx.channel().isActive()) return;
    long timeout = limits.settings().get().config.bodyTimeout().toNanos();
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
    StandaloneConfig config = limits.settings().get().config;
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
      discardLimit = Math.max(GeminiProxy.DISCARD_BEFORE_413, c.lingerUpTo);
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
  long queuedBodyBytes() {
    long n = 0;
    for (HttpObject o : queued) {
      if (o instanceof HttpContent c) n += c.content().readableBytes();
    }
    return n;
  }

  /** Capacity of the distinct buffers that queued body pieces keep alive. For tests. */
  long queuedBufferBytes() {
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
  void drain() {
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
   * One request on this connection: its body as it arrives, and who wants to know when the client
   * goes away.
   */
  final class Call {
    final ProxyRequest request;
    final ProxyResponse response;
    final boolean expectContinue;
    boolean continued;
    /** The body was handed to its reader (or dropped). */
    boolean bodyRead;
    /** The last piece of the request has arrived from the client. */
    boolean arrived;
    /** The body was malformed (a bad chunk). */
    private boolean bad;
    long received;
    /** Bytes received beyond which a body being dropped makes the connection close instead. */
    private long discardLimit;
    private long max = -1;
    private BodyBytes body;
    /** Bytes of the {@link BodyBudget} this request holds. */
    private long reserved;
    /** Whose share of the {@link BodyBudget} the body counts against, or null: nobody's. */
    private String client;
    /**
     * Body bytes the connection reads and drops after the answer before closing, when more than
     * {@link GeminiProxy#DISCARD_BEFORE_413}: a request refused for want of budget is answered
     * at once, and its body (at most the size limit) is drained so the answer is not lost to a
     * reset.
     */
    long lingerUpTo;
    private Consumer<byte[]> onBody;
    private Consumer<Throwable> onBodyFailure;
    private Runnable onTooLarge;
    private Runnable onOverBudget;
    private Runnable afterDiscard;
    private Consumer<Throwable> onGone;
    private final ArrayDeque<HttpContent> early = new ArrayDeque<>(2);

    Call(ProxyRequest request, ProxyResponse response, boolean expectContinue) {
      this.request = request;
      this.response = response;
      this.expectContinue = expectContinue;
    }

    /**
     * Reads the body whole, up to {@code max} bytes; then {@code then}, or {@code tooLarge}. The
     * body's buffer grows as its bytes arrive (doubling, up to its declared length), and each
     * array is reserved in the {@link BodyBudget} before it is made: a body holds the budget for
     * what it sent, not for what it announced. When the budget is full, {@code overBudget} runs
     * instead and nothing more is read (the caller answers; see {@link #lingerUpTo}). Call only
     * once the request is authenticated.
     */
    /**
     * The client this request's body counts against (its token's digest, or its address): set it
     * before {@link #readBody}, once the request is authenticated.
     */
    void budgetClient(String client) {
      this.client = client;
    }

    void readBody(long max, Consumer<byte[]> then, Consumer<Throwable> failed,
        Runnable tooLarge, Runnable overBudget) {
      this.max = max;
      long declared = request.contentLength();
      long expected = declared > 0 ? Math.min(declared, max) : 0;
      // The first array: what already arrived (usually the whole body), at least a step.
      int first = (int) Math.min(Math.max(received, BodyBytes.STEP), expected);
      if (!bad) {
        if (!limits.budget().tryReserve(client, first)) {
          dropEarly();
          lingerUpTo = expected > 0 ? expected : max;
          bodyRead = true; // nobody reads it: what arrives is dropped
          overBudget.run();
          return;
        }
        reserved = first;
      }
      this.onBody = then;
      this.onBodyFailure = failed;
      this.onTooLarge = tooLarge;
      this.body = new BodyBytes(bad ? 0 : first, expected);
      this.onOverBudget = overBudget;
      if (bad) {
        bodyFailed(new java.io.IOException("malformed request body"));
        return;
      }
      sendContinue();
      replayEarly();
      if (arrived && !bodyRead && onBody != null) deliver();
    }

    private void replayEarly() {
      ctx.channel().config().setAutoRead(true);
      for (HttpContent c; (c = early.poll()) != null; ) add(c);
    }

    /** Gives this request's share of the body budget back, once. */
    void releaseBudget() {
      body = null;
      long r = reserved;
      reserved = 0;
      limits.budget().release(client, r);
    }

    /** The client's body was malformed: whoever reads it hears so. */
    void malformed() {
      bad = true;
      arrived = true;
      if (onBody != null && !bodyRead) {
        releaseBudget();
        bodyFailed(new java.io.IOException("malformed request body"));
      } else if (afterDiscard != null) {
        Runnable then = afterDiscard;
        afterDiscard = null;
        then.run();
      }
    }

    /**
     * Reads and drops the body, up to {@link GeminiProxy#DISCARD_BEFORE_413} bytes, then runs
     * {@code then}; a larger body gets {@code then} at once and the connection closes after.
     */
    void discardThen(Runnable then) {
      if (arrived && early.isEmpty()) {
        bodyRead = true;
        then.run();
        return;
      }
      this.afterDiscard = then;
      this.discardLimit = received + GeminiProxy.DISCARD_BEFORE_413;
      if (request.contentLength() - received > GeminiProxy.DISCARD_BEFORE_413) {
        afterDiscard = null;
        response.closeAfter();
        then.run();
        return;
      }
      sendContinue();
      replayEarly();
      if (arrived && afterDiscard != null) {
        afterDiscard = null;
        bodyRead = true;
        then.run();
      }
    }

    /** Runs {@code listener} once if the client goes away before the response ended. */
    void onGone(Consumer<Throwable> listener) {
      this.onGone = listener;
    }

    boolean isGone() {
      return !ctx.channel().isActive();
    }

    /** The event loop of this connection. */
    io.netty.channel.EventLoop eventLoop() {
      return ctx.channel().eventLoop();
    }

    private void sendContinue() {
      if (expectContinue && !continued && !arrived) {
        continued = true;
        startBodyClock();
        ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
            HttpResponseStatus.CONTINUE));
      }
    }

    void add(HttpContent content) {
      if (bodyRead && afterDiscard == null) {
        content.release(); // nobody reads it any more
        return;
      }
      boolean last = content instanceof LastHttpContent;
      if (afterDiscard != null) {
        content.release();
        if (last || received > discardLimit) {
          bodyRead = last;
          if (!last) response.closeAfter();
          Runnable then = afterDiscard;
          afterDiscard = null;
          then.run();
        }
        return;
      }
      if (onBody == null) {
        if (response.isCommitted() || !content.content().isReadable()) {
          content.release(); // answered without reading it: nobody ever will
          return;
        }
        // Not asked for yet: the handler decides on the head first (and authenticates). Keep
        // what this read brought and read no more until it asks: no body is buffered for a
        // request not yet admitted.
        early.add(content);
        ctx.channel().config().setAutoRead(false);
        return;
      }
      ByteBuf buf = content.content();
      try {
        if (body != null && buf.isReadable()) {
          if (body.size() + (long) buf.readableBytes() > max) {
            releaseBudget();
            Runnable tooLarge = onTooLarge;
            onBody = null;
            if (last) {
              bodyRead = true;
              tooLarge.run();
            } else {
              afterDiscard = tooLarge;
              discardLimit = max + GeminiProxy.DISCARD_BEFORE_413;
              if (received > discardLimit) {
                afterDiscard = null;
                response.closeAfter();
                tooLarge.run();
              }
            }
            return;
          }
          int grown = (int) Math.min(body.capacityFor(buf.readableBytes()), max);
          if (grown > body.capacity()) {
            // Reserve the larger array before making it (the old one is given back once copied).
            if (!limits.budget().tryReserve(client, grown)) {
              overBudgetWhileReading(last);
              return;
            }
            reserved += grown;
            long old = body.capacity();
            body.read(buf, grown);
            reserved -= old;
            limits.budget().release(client, old);
          } else {
            body.read(buf, body.capacity());
          }
        }
      } finally {
        content.release();
      }
      if (last) deliver();
    }

    /** A body that grows past the budget: the caller answers, the rest of the body is dropped. */
    private void overBudgetWhileReading(boolean last) {
      releaseBudget();
      Runnable answer = onOverBudget;
      onBody = null;
      onBodyFailure = null;
      bodyRead = true;
      lingerUpTo = max; // the rest is drained up to the size limit, then the connection closes
      answer.run();
    }

    private void deliver() {
      byte[] bytes;
      if (body == null) {
        bytes = new byte[0];
      } else if (body.size() == body.capacity()) {
        bytes = body.toArray(); // the usual case: a declared length, filled exactly
      } else {
        // A chunked body, copied to its exact length: both arrays exist until the copy is done,
        // so the copy is reserved too; then only the copy is held.
        int size = body.size();
        if (!limits.budget().tryReserve(client, size)) {
          overBudgetWhileReading(true);
          return;
        }
        reserved += size;
        bytes = body.toArray();
        long excess = reserved - size;
        reserved = size;
        limits.budget().release(client, excess);
      }
      bodyRead = true;
      body = null;
      request.body(bytes);
      onBody.accept(bytes);
    }

    void dropEarly() {
      for (HttpContent c; (c = early.poll()) != null; ) c.release();
    }

    void bodyFailed(Throwable failure) {
      Consumer<Throwable> f = onBodyFailure;
      releaseBudget();
      onBody = null;
      if (f != null) f.accept(failure);
    }

    void gone(Throwable failure) {
      for (HttpContent c; (c = early.poll()) != null; ) c.release();
      if (afterDiscard != null) {
        Runnable then = afterDiscard; // its answer fails to write, which ends the exchange
        afterDiscard = null;
        then.run();
        return;
      }
      if (!bodyRead && onBodyFailure != null && !response.isEnded()) {
        Consumer<Throwable> f = onBodyFailure;
        onBodyFailure = null;
        f.accept(failure);
        return;
      }
      Consumer<Throwable> g = onGone;
      onGone = null;
      if (g != null && !response.isEnded()) g.accept(failure);
    }
  }

  /**
   * A request body being read: copied from each buffer into an array that doubles as the bytes
   * arrive, never past the declared length (so a declared body ends in an array of exactly its
   * length, handed on as is). The caller reserves each array in the {@link BodyBudget} first.
   */
  static final class BodyBytes {
    /** The smallest array: a normal request's whole body fits, in one allocation. */
    static final int STEP = 64 * 1024;

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
