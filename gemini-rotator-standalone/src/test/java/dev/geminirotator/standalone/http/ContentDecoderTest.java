package dev.geminirotator.standalone.http;

import static dev.geminirotator.testsupport.Compression.gzip;
import static dev.geminirotator.testsupport.Compression.deflate;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.compression.DecompressionException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Error bodies the upstream compressed are inflated chunk by chunk, within a bound. */
class ContentDecoderTest {

  /** Feeds {@code body} in chunks of {@code size} and returns what comes out. */
  private static String inflate(ContentDecoder decoder, byte[] body, int size) {
    StringBuilder out = new StringBuilder();
    for (int i = 0; i < body.length; i += size) {
      boolean last = i + size >= body.length;
      ByteBuf decoded = decoder.decode(
          Unpooled.wrappedBuffer(Arrays.copyOfRange(body, i, Math.min(body.length, i + size))),
          last);
      out.append(decoded.toString(StandardCharsets.UTF_8));
      decoded.release();
    }
    return out.toString();
  }

  @Test
  void gzipAndDeflateBodiesAreInflatedAcrossChunks() throws IOException {
    byte[] text = "{\"error\": {\"code\": 403, \"message\": \"suspended\"}}".repeat(50)
        .getBytes(StandardCharsets.UTF_8);
    for (String coding : new String[] {"gzip", "x-gzip", " GZIP "}) {
      assertThat(inflate(ContentDecoder.forEncoding(coding), gzip(text), 7))
          .isEqualTo(new String(text, StandardCharsets.UTF_8));
    }
    assertThat(inflate(ContentDecoder.forEncoding("deflate"), deflate(text), 5))
        .isEqualTo(new String(text, StandardCharsets.UTF_8));
  }

  @Test
  void codingsItCannotReadAreNamedAsSuch() {
    assertThat(ContentDecoder.forEncoding("br")).isNull();
    assertThat(ContentDecoder.forEncoding("zstd")).isNull();
    assertThat(ContentDecoder.forEncoding("gzip, br")).isNull();
    assertThat(ContentDecoder.isIdentity(null)).isTrue();
    assertThat(ContentDecoder.isIdentity(" identity")).isTrue();
    assertThat(ContentDecoder.isIdentity("gzip")).isFalse();
  }

  @Test
  void aCompressionBombFailsInsteadOfFillingMemory() throws IOException {
    // 64 MB of zeros gzip to about 64 KB, sent as one chunk.
    byte[] bomb = gzip(new byte[64 << 20]);
    assertThat(bomb.length).isLessThan(ContentDecoder.MAX_INFLATED_PER_CHUNK);
    ContentDecoder decoder = ContentDecoder.forEncoding("gzip");
    assertThatThrownBy(() -> decoder.decode(Unpooled.wrappedBuffer(bomb), false))
        .isInstanceOf(DecompressionException.class);
    decoder.close();
  }
}
