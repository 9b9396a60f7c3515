package dev.geminirotator.standalone;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.pool.AbstractChannelPoolHandler;
import io.netty.channel.pool.ChannelHealthChecker;
import io.netty.channel.pool.FixedChannelPool;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.URI;
import java.nio.channels.ClosedChannelException;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * The proxy→upstream HTTP/1.1 client: keep-alive connections to the one upstream origin, pooled
 * per event loop, so that a request and its upstream connection share the client connection's
 * thread (no hand-off between threads per request). At most {@code max-connections} in all;
 * requests beyond wait for a free connection. TLS (with host-name verification) for https.
 * Thread-safe.
 */
final class Upstream implements AutoCloseable {

  /** Requests that may wait for a connection, per event loop. */
  static final int MAX_PENDING = 65_536;

  private final String host;
  private final int port;
  private final String authority;
  private final SslContext ssl;
  private final Duration idleTimeout;
  private final Map<EventExecutor, FixedChannelPool> pools = new HashMap<>();

  Upstream(URI base, EventLoopGroup group, Class<? extends SocketChannel> channelType,
      int maxConnections, Duration connectTimeout, Duration idleTimeout) throws SSLException {
    boolean tls = "https".equalsIgnoreCase(base.getScheme());
    this.host = base.getHost();
    this.port = base.getPort() > 0 ? base.getPort() : tls ? 443 : 80;
    this.authority = base.getPort() > 0 ? host + ":" + port : host;
    this.ssl = tls ? SslContextBuilder.forClient().build() : null;
    this.idleTimeout = idleTimeout;
    int loops = 0;
    for (EventExecutor ignored : group) loops++;
    int perLoop = Math.max(1, (maxConnections + loops - 1) / loops);
    for (EventExecutor e : group) {
      Bootstrap b = new Bootstrap().group((EventLoop) e).channel(channelType)
          .option(ChannelOption.TCP_NODELAY, true)
          .option(ChannelOption.SO_KEEPALIVE, true)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
              Math.max(1, connectTimeout.toMillis())))
          .remoteAddress(host, port);
      pools.put(e, new FixedChannelPool(b, new AbstractChannelPoolHandler() {
        @Override
        public void channelCreated(Channel ch) {
          initChannel(ch);
        }
      }, ChannelHealthChecker.ACTIVE, null, -1, perLoop, MAX_PENDING, true, true));
    }
  }

  /** The {@code Host} header for upstream requests. */
  String authority() {
    return authority;
  }

  private void initChannel(Channel ch) {
    if (ssl != null) {
      SslHandler handler = ssl.newHandler(ch.alloc(), host, port);
      SSLEngine engine = handler.engine();
      SSLParameters params = engine.getSSLParameters();
      params.setEndpointIdentificationAlgorithm("HTTPS");
      engine.setSSLParameters(params);
      ch.pipeline().addLast(handler);
    }
    long idle = idleTimeout.toMillis();
    if (idle > 0) ch.pipeline().addLast(new IdleStateHandler(idle, 0, 0, TimeUnit.MILLISECONDS));
    ch.pipeline().addLast(new HttpClientCodec(4096, 64 * 1024, 16 * 1024));
    ch.pipeline().addLast(new Connection());
  }

  /**
   * Sends {@code request} (released here) on a connection of {@code loop}'s pool; {@code listener}
   * hears on {@code loop}. A {@code timeout} above zero bounds the whole exchange.
   */
  Attempt send(EventLoop loop, FullHttpRequest request, Listener listener, Duration timeout) {
    Attempt attempt = new Attempt(listener);
    FixedChannelPool pool = pools.get(loop);
    if (pool == null) pool = pools.values().iterator().next();
    FixedChannelPool p = pool;
    if (!timeout.isZero()) {
      attempt.timer = loop.schedule(() -> attempt.fail(new TimeoutException(
          "no complete upstream response within " + timeout)), timeout.toMillis(),
          TimeUnit.MILLISECONDS);
    }
    p.acquire().addListener(f -> {
      if (!f.isSuccess()) {
        request.release();
        attempt.fail(f.cause());
        return;
      }
      Channel ch = (Channel) f.getNow();
      if (attempt.finished) {
        request.release();
        p.release(ch);
        return;
      }
      attempt.channel = ch;
      attempt.pool = p;
      ch.pipeline().get(Connection.class).attempt = attempt;
      ch.writeAndFlush(request).addListener(w -> {
        if (!w.isSuccess()) attempt.fail(w.cause());
      });
    });
    return attempt;
  }

  @Override
  public void close() {
    for (FixedChannelPool p : pools.values()) p.close();
  }

  /** What one attempt hears, on its event loop; after a failure or the last content, nothing. */
  interface Listener {
    void onHeaders(HttpResponse response);

    /** A piece of the body (the listener releases it); {@code last} ends the response. */
    void onContent(ByteBuf content, boolean last);

    void onFailure(Throwable failure);
  }

  /** One request on one upstream connection. Event-loop confined. */
  static final class Attempt {
    private final Listener listener;
    Channel channel;
    FixedChannelPool pool;
    ScheduledFuture<?> timer;
    boolean finished;
    private boolean keepAlive = true;

    Attempt(Listener listener) {
      this.listener = listener;
    }

    /** Stops reading the response (the client is slow); {@link #resume} reads on. */
    void pause() {
      if (channel != null) channel.config().setAutoRead(false);
    }

    void resume() {
      if (channel != null && !finished) {
        channel.config().setAutoRead(true);
        channel.read();
      }
    }

    /** Abandons the exchange: the connection closes, the listener hears {@code cause}. */
    void abort(Throwable cause) {
      fail(cause);
    }

    void fail(Throwable cause) {
      if (finished) return;
      finished = true;
      if (timer != null) timer.cancel(false);
      Channel ch = channel;
      if (ch != null) {
        ch.pipeline().get(Connection.class).attempt = null;
        ch.close();
        pool.release(ch);
      }
      listener.onFailure(cause);
    }

    private void headers(HttpResponse response) {
      keepAlive = HttpUtil.isKeepAlive(response);
      listener.onHeaders(response);
    }

    private void content(ByteBuf content, boolean last) {
      if (last) {
        finished = true;
        if (timer != null) timer.cancel(false);
        Channel ch = channel;
        ch.pipeline().get(Connection.class).attempt = null;
        ch.config().setAutoRead(true);
        if (!keepAlive) ch.close();
        pool.release(ch);
      }
      listener.onContent(content, last);
    }
  }

  /** The handler of one pooled connection: passes what it reads to the current attempt. */
  private static final class Connection extends ChannelInboundHandlerAdapter {
    Attempt attempt;

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
      Attempt a = attempt;
      if (a == null || a.finished || !(msg instanceof HttpObject o)) {
        ReferenceCountUtil.release(msg);
        if (a == null) ctx.close(); // nothing was asked: the connection is out of step
        return;
      }
      if (o.decoderResult().isFailure()) {
        ReferenceCountUtil.release(msg);
        a.fail(new IOException("malformed upstream response: "
            + o.decoderResult().cause().getClass().getSimpleName()));
        return;
      }
      if (o instanceof HttpResponse r) {
        int status = r.status().code();
        if (status >= 100 && status < 200 && status != 101) {
          ReferenceCountUtil.release(msg); // 100 Continue and friends: wait for the real one
          return;
        }
        a.headers(r);
        if (a.finished) {
          ReferenceCountUtil.release(msg);
          return;
        }
      }
      if (o instanceof HttpContent c) {
        a.content(c.content(), c instanceof LastHttpContent);
      }
    }

    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
      if (evt instanceof IdleStateEvent) {
        Attempt a = attempt;
        if (a != null) {
          a.fail(new TimeoutException("the upstream sent nothing for the idle timeout"));
        } else {
          ctx.close();
        }
        return;
      }
      ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      Attempt a = attempt;
      if (a != null) a.fail(new ClosedChannelException());
      ctx.fireChannelInactive();
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      Attempt a = attempt;
      if (a != null) {
        a.fail(cause);
      } else {
        ctx.close();
      }
    }
  }
}
