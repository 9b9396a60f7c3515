package dev.geminirotator.benchmarks.engines;

import io.netty.bootstrap.Bootstrap;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import io.netty.channel.socket.ServerSocketChannel;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.concurrent.FastThreadLocal;
import java.net.InetSocketAddress;
import java.util.ArrayDeque;

/**
 * The Netty engine baseline: a minimal reverse proxy on Netty 4.2, to show what Netty itself can
 * carry on this machine. It is a measuring stick for {@code benchmarks/load/engines.sh}, not
 * product code: no rotation, no retries, no auth, no timeouts, no streaming (each request and
 * response is aggregated in memory, at most 1 MiB).
 *
 * <p>Client→proxy: {@code HttpServerCodec} and {@code HttpObjectAggregator}. Proxy→upstream: the
 * request with {@code Connection} dropped, {@code Host} set to the upstream and
 * {@code x-goog-api-key} replaced by {@code --key}, on a keep-alive connection taken from a pool
 * kept per event loop; the connection lives on the client's event loop, so a request never
 * changes thread. Upstream→proxy→client: the aggregated response, headers unchanged; the
 * connection goes back to the pool unless the upstream asked to close it. A failed or closed
 * upstream connection answers 502.
 *
 * <p>Options: {@code --upstream http://host:port} (required), {@code --port} (0: a free one),
 * {@code --key}, {@code --threads} (event loops; default the number of CPUs) and
 * {@code --transport io_uring|epoll|nio|auto} (default {@code auto}: the first of io_uring, epoll
 * and NIO that works here, as the proxy's {@code server.transport: auto}). Binds 127.0.0.1,
 * prints {@code READY port=N transport=T threads=N} and runs until killed.
 */
public final class NettyBaselineProxy {

  private static final int MAX_CONTENT = 1 << 20;

  /** Idle upstream connections of the current event loop (only its thread touches them). */
  private static final FastThreadLocal<ArrayDeque<Channel>> IDLE_UPSTREAM =
      new FastThreadLocal<>() {
        @Override
        protected ArrayDeque<Channel> initialValue() {
          return new ArrayDeque<>();
        }
      };

  private NettyBaselineProxy() {
  }

  public static void main(String[] argv) throws InterruptedException {
    BaselineArgs args = BaselineArgs.parse(argv, "threads", "transport");
    int threads = args.number("threads", Runtime.getRuntime().availableProcessors());
    Transport transport = Transport.pick(args.string("transport", "auto"));
    EventLoopGroup loops = new MultiThreadIoEventLoopGroup(threads, transport.ioHandlerFactory());
    Bootstrap upstream = new Bootstrap()
        .channel(transport.channel)
        .option(ChannelOption.TCP_NODELAY, true)
        .remoteAddress(args.upstreamHost, args.upstreamPort)
        .handler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new HttpClientCodec(), new HttpObjectAggregator(MAX_CONTENT),
                new UpstreamToProxy());
          }
        });
    String host = args.upstreamHost + ":" + args.upstreamPort;
    Channel server = new ServerBootstrap()
        .group(loops)
        .channel(transport.serverChannel)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel ch) {
            ch.pipeline().addLast(new HttpServerCodec(), new HttpObjectAggregator(MAX_CONTENT),
                new ClientToProxy(upstream, host, args.key));
          }
        })
        .bind("127.0.0.1", args.port).sync().channel();
    System.out.println("READY port=" + ((InetSocketAddress) server.localAddress()).getPort()
        + " transport=" + transport.label + " threads=" + threads);
    System.out.flush();
    server.closeFuture().sync();
  }

  /** io_uring or epoll (native, Linux) or NIO (JDK selectors). */
  private enum Transport {
    EPOLL("epoll", EpollServerSocketChannel.class, EpollSocketChannel.class),
    IO_URING("io_uring", IoUringServerSocketChannel.class, IoUringSocketChannel.class),
    NIO("nio", NioServerSocketChannel.class, NioSocketChannel.class);

    final String label;
    final Class<? extends ServerSocketChannel> serverChannel;
    final Class<? extends SocketChannel> channel;

    Transport(String label, Class<? extends ServerSocketChannel> serverChannel,
        Class<? extends SocketChannel> channel) {
      this.label = label;
      this.serverChannel = serverChannel;
      this.channel = channel;
    }

    IoHandlerFactory ioHandlerFactory() {
      switch (this) {
        case EPOLL:
          return EpollIoHandler.newFactory();
        case IO_URING:
          return IoUringIoHandler.newFactory();
        default:
          return NioIoHandler.newFactory();
      }
    }

    static Transport pick(String name) {
      switch (name) {
        case "nio":
          return NIO;
        case "io_uring":
          if (IoUring.isAvailable()) return IO_URING;
          throw new IllegalStateException("--transport io_uring is unavailable here"
              + " (use --transport epoll, nio or auto)", IoUring.unavailabilityCause());
        case "auto":
          if (IoUring.isAvailable()) return IO_URING;
          if (Epoll.isAvailable()) return EPOLL;
          System.err.println("epoll unavailable, using NIO: " + Epoll.unavailabilityCause());
          return NIO;
        case "epoll":
          if (Epoll.isAvailable()) return EPOLL;
          throw new IllegalStateException("--transport epoll: the native library did not load"
              + " (use --transport nio or auto)", Epoll.unavailabilityCause());
        default:
          throw new IllegalArgumentException("--transport must be io_uring, epoll, nio or auto"
              + " but was " + name);
      }
    }
  }

  /** Client→proxy: one aggregated request at a time per client connection. */
  private static final class ClientToProxy extends SimpleChannelInboundHandler<FullHttpRequest> {
    private final Bootstrap upstream;
    private final String host;
    private final String key;

    ClientToProxy(Bootstrap upstream, String host, String key) {
      this.upstream = upstream;
      this.host = host;
      this.key = key;
    }

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
      boolean keepAlive = HttpUtil.isKeepAlive(request);
      request.headers()
          .remove(HttpHeaderNames.CONNECTION)
          .set(HttpHeaderNames.HOST, host)
          .set("x-goog-api-key", key);
      request.retain(); // released by the write to the upstream
      Channel client = ctx.channel();
      ArrayDeque<Channel> idle = IDLE_UPSTREAM.get();
      Channel up;
      while ((up = idle.poll()) != null && !up.isActive()) {
        // a connection the upstream closed while idle: drop it
      }
      if (up != null) {
        send(up, request, client, keepAlive);
        return;
      }
      upstream.clone(client.eventLoop()).connect().addListener((ChannelFutureListener) f -> {
        if (f.isSuccess()) {
          send(f.channel(), request, client, keepAlive);
        } else {
          request.release();
          badGateway(client);
        }
      });
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }

    private static void send(Channel up, FullHttpRequest request, Channel client,
        boolean keepAlive) {
      UpstreamToProxy back = up.pipeline().get(UpstreamToProxy.class);
      back.client = client;
      back.clientKeepAlive = keepAlive;
      up.writeAndFlush(request);
    }
  }

  /** Upstream→proxy→client: relays the aggregated response and returns the connection. */
  private static final class UpstreamToProxy extends SimpleChannelInboundHandler<FullHttpResponse> {
    Channel client;
    boolean clientKeepAlive;

    @Override
    protected void channelRead0(ChannelHandlerContext ctx, FullHttpResponse response) {
      Channel c = client;
      client = null;
      if (c == null) {
        ctx.close(); // a response nobody asked for
        return;
      }
      if (HttpUtil.isKeepAlive(response)) IDLE_UPSTREAM.get().push(ctx.channel());
      else ctx.close();
      var written = c.writeAndFlush(response.retain());
      if (!clientKeepAlive) written.addListener(ChannelFutureListener.CLOSE);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
      Channel c = client;
      client = null;
      if (c != null) badGateway(c);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
      ctx.close();
    }
  }

  private static void badGateway(Channel client) {
    FullHttpResponse response =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.BAD_GATEWAY);
    HttpUtil.setContentLength(response, 0);
    client.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
  }
}
