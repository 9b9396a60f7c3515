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
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * One client connection: decodes requests one at a time (pipelined requests wait, decoded, until
 * the response before them has ended), reads each body whole up to a limit, hands each request to
 * {@link Routes}, and tells the request's handler when the client goes away (the connection
 * closes, or is idle for {@code server.idle-timeout}). Event-loop confined.
 */
final class ClientConnection extends ChannelInboundHandlerAdapter {

  /** Decoded messages of pipelined requests held before reading pauses. */
  private static final int MAX_QUEUED = 64;

  private final Routes routes;
  private final HeaderDeadline deadline;
  private ChannelHandlerContext ctx;
  private final ArrayDeque<HttpObject> queued = new ArrayDeque<>();
  private final List<Runnable> writable = new ArrayList<>(1);
  /** The request being read or answered, or null between requests. */
  private Call call;
  /** Dropping the rest of a body whose request was answered early. */
  private long discarding = -1;
  private ProxyRequest.Peer peer;
  /** The connection is closing (a bad head was answered): nothing more is processed. */
  private boolean closing;

  ClientConnection(Routes routes, HeaderDeadline deadline) {
    this.routes = routes;
    this.deadline = deadline;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    this.ctx = ctx;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (!(msg instanceof HttpObject o) || closing) {
      ReferenceCountUtil.release(msg);
      return;
    }
    // One request at a time: what follows a request that has fully arrived waits, decoded, until
    // its response has ended (pipelined requests are answered in order).
    if ((call != null && call.arrived) || !queued.isEmpty()) {
      queued.add(o);
      if (queued.size() >= MAX_QUEUED) ctx.channel().config().setAutoRead(false);
      return;
    }
    process(o);
  }

  private void process(HttpObject o) {
    if (discarding >= 0) {
      if (o instanceof HttpContent c) {
        discarding += c.content().readableBytes();
        boolean last = c instanceof LastHttpContent;
        c.release();
        if (discarding > GeminiProxy.DISCARD_BEFORE_413) {
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
    routes.handle(c);
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
    if (!c.arrived) discarding = c.received; // drop the rest of its body, then go on
    // Hand on the requests the client pipelined meanwhile, in order.
    while (!queued.isEmpty() && (call == null || !call.arrived) && !closing
        && ctx.channel().isActive()) {
      process(queued.poll());
    }
    if (queued.size() < MAX_QUEUED) ctx.channel().config().setAutoRead(true);
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
    Call c = call;
    call = null;
    if (c != null) c.gone(new ClosedChannelException());
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
    private long earlyBytes;
    private long max = -1;
    private BodyBytes body;
    private Consumer<byte[]> onBody;
    private Consumer<Throwable> onBodyFailure;
    private Runnable onTooLarge;
    private Runnable afterDiscard;
    private Consumer<Throwable> onGone;
    private final ArrayDeque<HttpContent> early = new ArrayDeque<>(2);

    Call(ProxyRequest request, ProxyResponse response, boolean expectContinue) {
      this.request = request;
      this.response = response;
      this.expectContinue = expectContinue;
    }

    /** Reads the body whole, up to {@code max} bytes; then {@code then}, or {@code tooLarge}. */
    void readBody(long max, Consumer<byte[]> then, Consumer<Throwable> failed,
        Runnable tooLarge) {
      this.max = max;
      this.onBody = then;
      this.onBodyFailure = failed;
      this.onTooLarge = tooLarge;
      long declared = request.contentLength();
      this.body = new BodyBytes(declared);
      if (bad) {
        bodyFailed(new java.io.IOException("malformed request body"));
        return;
      }
      sendContinue();
      replayEarly();
      if (arrived && !bodyRead && onBody != null) deliver();
    }

    private void replayEarly() {
      earlyBytes = 0;
      ctx.channel().config().setAutoRead(true);
      for (HttpContent c; (c = early.poll()) != null; ) add(c);
    }

    /** The client's body was malformed: whoever reads it hears so. */
    void malformed() {
      bad = true;
      arrived = true;
      if (onBody != null && !bodyRead) {
        body = null;
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
        // Not asked for yet: keep it (the handler decides on the head first), up to a bound.
        if (content.content().isReadable()) {
          early.add(content);
          earlyBytes += content.content().readableBytes();
          if (earlyBytes > 64 * 1024) ctx.channel().config().setAutoRead(false);
        } else {
          content.release();
        }
        return;
      }
      ByteBuf buf = content.content();
      try {
        if (body != null && buf.isReadable()) {
          if (body.size() + (long) buf.readableBytes() > max) {
            body = null;
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
          body.read(buf);
        }
      } finally {
        content.release();
      }
      if (last) deliver();
    }

    private void deliver() {
      bodyRead = true;
      byte[] bytes = body == null ? new byte[0] : body.toArray();
      body = null;
      request.body(bytes);
      onBody.accept(bytes);
    }

    void dropEarly() {
      for (HttpContent c; (c = early.poll()) != null; ) c.release();
    }

    void bodyFailed(Throwable failure) {
      Consumer<Throwable> f = onBodyFailure;
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
   * A request body being read: copied once from each buffer into an array sized by the declared
   * length (at first at most 64 KB, so a length alone reserves little), which is handed on as is
   * when it fills exactly.
   */
  static final class BodyBytes {
    private byte[] bytes;
    private int size;
    private final long declared;

    BodyBytes(long declared) {
      this.declared = declared;
      this.bytes = new byte[(int) Math.min(Math.max(declared, 0), 64 * 1024)];
    }

    int size() {
      return size;
    }

    /** Appends {@code buf}'s readable bytes (the caller keeps the total within an int). */
    void read(ByteBuf buf) {
      int n = buf.readableBytes();
      int need = size + n;
      if (need > bytes.length) {
        long grown = Math.max(need, Math.min((long) bytes.length * 2, Integer.MAX_VALUE - 8));
        if (declared >= need && grown > declared) grown = declared; // ends exactly full
        bytes = Arrays.copyOf(bytes, (int) grown);
      }
      buf.readBytes(bytes, size, n);
      size = need;
    }

    byte[] toArray() {
      return size == bytes.length ? bytes : Arrays.copyOf(bytes, size);
    }
  }
}
