package dev.geminirotator.standalone.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.DateFormatter;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.DefaultLastHttpContent;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.util.AsciiString;
import java.util.Date;
import java.util.function.Consumer;

/**
 * The proxy→client response of one request: status and headers until the first write commits
 * them, then content written in order, each write flushed (a stream's event reaches the client as
 * soon as the upstream sends it). A response without a declared length is sent chunked (HTTP/1.1)
 * or ends by closing the connection (HTTP/1.0). Event-loop confined: call it on the connection's
 * event loop only.
 */
public final class ProxyResponse {

  private final ClientConnection connection;
  private final Channel channel;
  private final boolean headRequest;
  private final boolean http10;
  private final HttpHeaders headers = new DefaultHttpHeaders(false);
  private int status = 200;
  private boolean committed;
  private boolean ended;
  private boolean keepAlive;

  ProxyResponse(ClientConnection connection, Channel channel, boolean keepAlive,
      boolean headRequest, boolean http10) {
    this.connection = connection;
    this.channel = channel;
    this.keepAlive = keepAlive;
    this.headRequest = headRequest;
    this.http10 = http10;
  }

  public void status(int status) {
    this.status = status;
  }

  public HttpHeaders headers() {
    return headers;
  }

  public boolean isCommitted() {
    return committed;
  }

  public boolean isEnded() {
    return ended;
  }

  /** Asks for the connection to be closed once this response is sent. */
  public void closeAfter() {
    keepAlive = false;
  }

  /** Whether the client reads fast enough for more writes now. */
  public boolean isWritable() {
    return channel.isWritable();
  }

  /** Runs {@code task} once when the client can take more writes (at once if it can now). */
  public void whenWritable(Runnable task) {
    connection.whenWritable(task);
  }

  /** Sends a whole response at once. */
  public void send(int status, String contentType, byte[] body, Consumer<Throwable> onDone) {
    this.status = status;
    if (contentType != null) headers.set(HeaderNames.CONTENT_TYPE, contentType);
    headers.set(HeaderNames.CONTENT_LENGTH, HeaderNames.decimal(body.length));
    end(Unpooled.wrappedBuffer(body), onDone);
  }

  /**
   * Writes {@code content} (released here) and ends the response, the head first if not yet
   * committed. {@code onDone} gets {@code null} once written, else the failure (the client has
   * gone and the connection is closed).
   */
  public void end(ByteBuf content, Consumer<Throwable> onDone) {
    if (ended) {
      content.release();
      onDone.accept(new IllegalStateException("response already ended"));
      return;
    }
    if (!committed) commit(content.readableBytes());
    ended = true;
    LastHttpContent last = content.isReadable() && !headRequest
        ? new DefaultLastHttpContent(content, HeaderNames.NO_TRAILERS)
        : releaseThenEmpty(content);
    boolean close = !keepAlive;
    channel.writeAndFlush(last).addListener(done -> {
      if (done.isSuccess()) {
        try {
          onDone.accept(null); // first: the exchange is recorded before the next request runs
        } finally {
          connection.responseEnded(this, close);
        }
      } else {
        channel.close();
        onDone.accept(done.cause());
      }
    });
  }

  /**
   * Writes a piece of the body (released here) and flushes it, the head first if not yet
   * committed. No listener: a failed write closes the connection, which the request's
   * {@link ClientConnection.Call#onGone} listener hears.
   */
  public void stream(ByteBuf content) {
    if (!committed && !ended) commit(-1);
    if (ended || !content.isReadable() || headRequest) {
      content.release();
      return;
    }
    channel.writeAndFlush(new DefaultHttpContent(content), channel.voidPromise());
  }

  private static LastHttpContent releaseThenEmpty(ByteBuf content) {
    content.release();
    return LastHttpContent.EMPTY_LAST_CONTENT;
  }

  /** Abandons the response: the connection closes, the client sees it cut. */
  public void abort() {
    ended = true;
    channel.close();
  }

  private void commit(int wholeLength) {
    committed = true;
    boolean noBody = status < 200 || status == 204 || status == 304;
    if (noBody) {
      headers.remove(HeaderNames.CONTENT_LENGTH);
      headers.remove(HeaderNames.TRANSFER_ENCODING);
    } else if (!headers.contains(HeaderNames.CONTENT_LENGTH)) {
      if (wholeLength >= 0 && !headRequest) {
        headers.set(HeaderNames.CONTENT_LENGTH, HeaderNames.decimal(wholeLength));
      } else if (!headRequest) {
        if (http10) {
          keepAlive = false; // the end of the body is the end of the connection
        } else {
          headers.set(HeaderNames.TRANSFER_ENCODING, HttpHeaderValues.CHUNKED);
        }
      }
    }
    if (!keepAlive) {
      headers.set(HeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    } else if (http10) {
      headers.set(HeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
    }
    headers.set(HeaderNames.DATE, HttpDate.now());
    DefaultHttpResponse head = new DefaultHttpResponse(http10 ? HttpVersion.HTTP_1_0
        : HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(status), headers);
    channel.write(head, channel.voidPromise());
  }

  /** The {@code Date} header's value, formatted once a second per thread. Thread-safe. */
  public static final class HttpDate {
    private static final ThreadLocal<HttpDate> CACHE = ThreadLocal.withInitial(HttpDate::new);
    private long second = -1;
    private AsciiString text;

    public static AsciiString now() {
      HttpDate d = CACHE.get();
      long nowSecond = System.currentTimeMillis() / 1000;
      if (nowSecond != d.second) {
        d.second = nowSecond;
        d.text = new AsciiString(DateFormatter.format(new Date(nowSecond * 1000)));
      }
      return d.text;
    }
  }
}
