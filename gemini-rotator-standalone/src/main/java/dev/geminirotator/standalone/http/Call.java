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
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One request on a {@link ClientConnection}: its head ({@link #request}), its answer
 * ({@link #response}), its body as it arrives, and who wants to know when the client goes away.
 * A {@link RequestHandler} gets one per request. Not thread-safe: confined to the connection's
 * event loop ({@link #eventLoop()}); work done elsewhere comes back there before touching it.
 */
public final class Call {

  /**
   * How much of an oversized body is read and dropped before the 413 goes out. Answering while the
   * client still sends, then closing with its bytes unread, makes the kernel reset the connection,
   * and the reset can destroy the 413 before the client reads it (nginx's lingering close solves
   * the same problem). Bodies beyond this get the 413 at once and may see a reset instead.
   */
  public static final long DISCARD_BEFORE_413 = 1024 * 1024;

  private final ClientConnection connection;
  public final ProxyRequest request;
  public final ProxyResponse response;
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
  private ClientConnection.BodyBytes body;
  /** Bytes of the {@link BodyBudget} this request holds. */
  private long reserved;
  /** Whose share of the {@link BodyBudget} the body counts against, or null: nobody's. */
  private String client;
  /**
   * Body bytes the connection reads and drops after the answer before closing, when more than
   * {@link #DISCARD_BEFORE_413}: a request refused for want of budget is answered
   * at once, and its body (at most the size limit) is drained so the answer is not lost to a
   * reset.
   */
  long lingerUpTo;
  Consumer<byte[]> onBody;
  private Consumer<Throwable> onBodyFailure;
  private Runnable onTooLarge;
  private Runnable onOverBudget;
  private Runnable afterDiscard;
  private Consumer<Throwable> onGone;
  private final ArrayDeque<HttpContent> early = new ArrayDeque<>(2);

  Call(ClientConnection connection, ProxyRequest request, ProxyResponse response,
      boolean expectContinue) {
    this.connection = connection;
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
  public void budgetClient(String client) {
    this.client = client;
  }

  public void readBody(long max, Consumer<byte[]> then, Consumer<Throwable> failed,
      Runnable tooLarge, Runnable overBudget) {
    this.max = max;
    long declared = request.contentLength();
    long expected = declared > 0 ? Math.min(declared, max) : 0;
    // The first array: what already arrived (usually the whole body), at least a step.
    int first = (int) Math.min(Math.max(received, ClientConnection.BodyBytes.STEP), expected);
    if (!bad) {
      if (!connection.limits.budget().tryReserve(client, first)) {
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
    this.body = new ClientConnection.BodyBytes(bad ? 0 : first, expected);
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
    connection.ctx.channel().config().setAutoRead(true);
    for (HttpContent c; (c = early.poll()) != null; ) add(c);
  }

  /** Gives this request's share of the body budget back, once. */
  void releaseBudget() {
    body = null;
    long r = reserved;
    reserved = 0;
    connection.limits.budget().release(client, r);
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
   * Reads and drops the body, up to {@link #DISCARD_BEFORE_413} bytes, then runs
   * {@code then}; a larger body gets {@code then} at once and the connection closes after.
   */
  public void discardThen(Runnable then) {
    if (arrived && early.isEmpty()) {
      bodyRead = true;
      then.run();
      return;
    }
    this.afterDiscard = then;
    this.discardLimit = received + DISCARD_BEFORE_413;
    if (request.contentLength() - received > DISCARD_BEFORE_413) {
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
  public void onGone(Consumer<Throwable> listener) {
    this.onGone = listener;
  }

  public boolean isGone() {
    return !connection.ctx.channel().isActive();
  }

  /** The event loop of this connection. */
  public io.netty.channel.EventLoop eventLoop() {
    return connection.ctx.channel().eventLoop();
  }

  private void sendContinue() {
    if (expectContinue && !continued && !arrived) {
      continued = true;
      connection.startBodyClock();
      connection.ctx.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
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
      connection.ctx.channel().config().setAutoRead(false);
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
            discardLimit = max + DISCARD_BEFORE_413;
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
          if (!connection.limits.budget().tryReserve(client, grown)) {
            overBudgetWhileReading(last);
            return;
          }
          reserved += grown;
          long old = body.capacity();
          body.read(buf, grown);
          reserved -= old;
          connection.limits.budget().release(client, old);
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
      if (!connection.limits.budget().tryReserve(client, size)) {
        overBudgetWhileReading(true);
        return;
      }
      reserved += size;
      bytes = body.toArray();
      long excess = reserved - size;
      reserved = size;
      connection.limits.budget().release(client, excess);
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
