package dev.geminirotator.standalone.http;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.CompositeByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.compression.ZlibCodecFactory;
import io.netty.handler.codec.compression.ZlibWrapper;
import java.util.Locale;

/**
 * Inflates an upstream→proxy body sent with {@code Content-Encoding: gzip} (or {@code x-gzip},
 * {@code deflate}) chunk by chunk, with Netty's zlib decoder, so the proxy can read and scrub an
 * error body it passes on. No chunk inflates to more than {@link #MAX_INFLATED_PER_CHUNK} bytes: a
 * compression bomb fails the body with a {@link
 * io.netty.handler.codec.compression.DecompressionException} instead of filling memory. Not
 * thread-safe: one per response, on its event loop.
 */
public final class ContentDecoder {

  /** The most one upstream chunk may inflate to. */
  static final int MAX_INFLATED_PER_CHUNK = 1 << 20;

  private final EmbeddedChannel channel;

  private ContentDecoder(ZlibWrapper wrapper) {
    channel = new EmbeddedChannel(ZlibCodecFactory.newZlibDecoder(wrapper, MAX_INFLATED_PER_CHUNK));
  }

  /** Whether a {@code Content-Encoding} value says the body is sent as it is. */
  public static boolean isIdentity(String contentEncoding) {
    return contentEncoding == null || contentEncoding.isBlank()
        || contentEncoding.trim().equalsIgnoreCase("identity");
  }

  /**
   * A decoder for this (not identity) {@code Content-Encoding}, or {@code null} when the proxy
   * cannot decode it (br, zstd, a list of codings, anything else).
   */
  public static ContentDecoder forEncoding(String contentEncoding) {
    switch (contentEncoding.trim().toLowerCase(Locale.ROOT)) {
      case "gzip", "x-gzip":
        return new ContentDecoder(ZlibWrapper.GZIP);
      case "deflate":
        return new ContentDecoder(ZlibWrapper.ZLIB_OR_NONE);
      default:
        return null;
    }
  }

  /**
   * The inflated bytes of {@code chunk} (released); with {@code last}, also whatever the decoder
   * still held, and the decoder is closed. May be empty.
   *
   * @throws io.netty.handler.codec.compression.DecompressionException when the bytes are not
   *     valid for the encoding or a chunk inflates to too much
   */
  public ByteBuf decode(ByteBuf chunk, boolean last) {
    CompositeByteBuf out = Unpooled.compositeBuffer();
    try {
      channel.writeInbound(chunk);
      drain(out);
      if (last) {
        channel.finish();
        drain(out);
      }
      return out;
    } catch (RuntimeException e) {
      out.release();
      close();
      throw e;
    }
  }

  private void drain(CompositeByteBuf out) {
    for (ByteBuf b; (b = channel.readInbound()) != null; ) {
      if (b.isReadable()) {
        out.addComponent(true, b);
      } else {
        b.release();
      }
    }
  }

  /** Frees what the decoder holds; safe to call more than once. */
  public void close() {
    if (channel.isOpen()) channel.finishAndReleaseAll();
  }
}
