package dev.geminirotator.standalone.http;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.ReferenceCountUtil;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.util.concurrent.TimeoutException;

/**
 * The handler of one pooled {@link Upstream} connection: passes what it reads to the current
 * attempt. Not thread-safe: confined to the connection's event loop.
 */
final class UpstreamConnection extends ChannelInboundHandlerAdapter {
  final Channel channel;
  /** The connection's read-idle handler, or {@code null} without an idle timeout. */
  final IdleStateHandler idle;
  Upstream.Attempt attempt;
  /** A 1xx response was just read: its empty last content is not the response's end. */
  private boolean skipInformationalEnd;

  UpstreamConnection(Channel channel, IdleStateHandler idle) {
    this.channel = channel;
    this.idle = idle;
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    Upstream.Attempt a = attempt;
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
        // 100 Continue, 103 Early Hints: the decoder ends each with an empty last content,
        // which must not end this attempt; the final response follows.
        ReferenceCountUtil.release(msg);
        skipInformationalEnd = true;
        return;
      }
      a.headers(r);
      if (a.finished) {
        ReferenceCountUtil.release(msg);
        return;
      }
    }
    if (o instanceof HttpContent c) {
      if (skipInformationalEnd && c instanceof LastHttpContent) {
        skipInformationalEnd = false;
        c.release();
        return;
      }
      a.content(c.content(), c instanceof LastHttpContent);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
    if (evt instanceof IdleStateEvent) {
      Upstream.Attempt a = attempt;
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
    Upstream.Attempt a = attempt;
    if (a != null) a.fail(new ClosedChannelException());
    ctx.fireChannelInactive();
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    Upstream.Attempt a = attempt;
    if (a != null) {
      a.fail(cause);
    } else {
      ctx.close();
    }
  }
}
