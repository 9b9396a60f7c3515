package dev.geminirotator.standalone.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http2.Http2CodecUtil;
import io.netty.handler.codec.http2.Http2FrameCodec;
import io.netty.handler.codec.http2.Http2FrameCodecBuilder;
import io.netty.handler.codec.http2.Http2MultiplexHandler;
import io.netty.handler.codec.http2.Http2Settings;
import io.netty.handler.codec.http2.Http2StreamChannel;
import io.netty.handler.codec.http2.Http2StreamFrameToHttpObjectCodec;
import io.netty.handler.timeout.IdleStateEvent;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import io.netty.handler.timeout.IdleStateHandler;
import java.util.List;

/**
 * Tells HTTP/2 with prior knowledge (the client's first bytes are the HTTP/2 connection preface,
 * as {@code curl --http2-prior-knowledge}, gRPC-style clients and load balancers speaking h2c to
 * their backends send) from HTTP/1.x on a cleartext connection, then leaves the pipeline. An
 * HTTP/2 connection carries many requests at once, each on a stream that is handled exactly as
 * an HTTP/1.1 request on a connection of its own ({@link ClientConnection}): thousands of
 * concurrent streams need one socket, not one each. One per connection; removes itself after its
 * first decision, so HTTP/1.1 pays nothing after the first read. Not thread-safe: confined to
 * its connection's event loop.
 */
public final class H2cDetector extends ByteToMessageDecoder {

  /**
   * Concurrent streams a client may open on one HTTP/2 connection, as Google's own front ends
   * allow: bodies are read whole, so this also bounds what one socket can make the proxy hold.
   */
  static final int MAX_CONCURRENT_STREAMS = 100;

  private static final ByteBuf PREFACE = Http2CodecUtil.connectionPrefaceBuf();

  private final RequestHandler routes;
  private final HeaderDeadline deadline;
  private final long idleMillis;
  private final ClientConnection.Limits limits;

  public H2cDetector(RequestHandler routes, HeaderDeadline deadline, long idleMillis,
      ClientConnection.Limits limits) {
    this.routes = routes;
    this.deadline = deadline;
    this.idleMillis = idleMillis;
    this.limits = limits;
  }

  @Override
  protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
    int n = Math.min(in.readableBytes(), PREFACE.readableBytes());
    if (!ByteBufUtil.equals(in, in.readerIndex(), PREFACE, PREFACE.readerIndex(), n)) {
      ctx.pipeline().remove(this); // HTTP/1.x: what was read goes on to the HTTP/1 codec
      return;
    }
    if (n < PREFACE.readableBytes()) return; // a prefix of the preface so far: wait
    // The header deadline runs on from the preface's first byte until the first stream's head
    // (HEADERS and its CONTINUATIONs) is complete: a preface alone holds no connection longer.
    // Later streams have no head deadline of their own; a connection with none open closes
    // after the idle timeout (below).
    ChannelPipeline p = ctx.pipeline();
    p.remove(HttpServerCodec.class);
    p.remove(ClientConnection.class);
    Http2FrameCodec codec = Http2FrameCodecBuilder.forServer()
        .initialSettings(Http2Settings.defaultSettings()
            .maxConcurrentStreams(MAX_CONCURRENT_STREAMS)
            .maxHeaderListSize(Listeners.MAX_REQUEST_HEAD))
        .build();
    p.addAfter(ctx.name(), "h2", codec);
    p.addAfter("h2", "h2-streams", new Http2MultiplexHandler(
        new ChannelInitializer<Http2StreamChannel>() {
          @Override
          protected void initChannel(Http2StreamChannel ch) {
            ch.pipeline().addLast(new Http2StreamFrameToHttpObjectCodec(true));
            // Each stream is idle on its own: a stalled body gets 408, a silent stream closes.
            if (idleMillis > 0) {
              ch.pipeline().addLast(new IdleStateHandler(idleMillis, 0, 0,
                  TimeUnit.MILLISECONDS));
            }
            deadline.headComplete(); // idempotent after the first stream
            ch.pipeline().addLast(new ClientConnection(routes, new HeaderDeadline(Duration.ZERO),
                limits));
          }
        }));
    p.addAfter("h2-streams", "h2-idle", new ChannelInboundHandlerAdapter() {
      @Override
      public void userEventTriggered(ChannelHandlerContext c, Object evt) {
        // Read-idle for server.idle-timeout: close only a connection with no stream open.
        if (evt instanceof IdleStateEvent) {
          if (codec.connection().numActiveStreams() == 0) c.close();
          return;
        }
        c.fireUserEventTriggered(evt);
      }

      @Override
      public void exceptionCaught(ChannelHandlerContext c, Throwable cause) {
        // A protocol error or a reset from the client: close quietly (no stack trace per peer).
        c.close();
      }
    });
    if (idleMillis > 0) closeWhenNoStreams(ctx, codec);
    p.remove(this); // the preface and what follows go on to the HTTP/2 codec
  }

  /**
   * Closes the connection once it has had no stream open for a whole idle period, whatever
   * control frames (PING, SETTINGS) keep it from being read-idle.
   */
  private void closeWhenNoStreams(ChannelHandlerContext ctx, Http2FrameCodec codec) {
    int[] quietChecks = {0};
    io.netty.util.concurrent.ScheduledFuture<?> task = ctx.executor().scheduleAtFixedRate(() -> {
      if (codec.connection().numActiveStreams() > 0) {
        quietChecks[0] = 0;
      } else if (++quietChecks[0] >= 2) {
        ctx.channel().close();
      }
    }, idleMillis, idleMillis, TimeUnit.MILLISECONDS);
    ctx.channel().closeFuture().addListener(f -> task.cancel(false));
  }
}
