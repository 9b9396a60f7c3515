package dev.geminirotator.standalone.gemini;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.core.internal.exchange.Attempt;
import dev.geminirotator.core.internal.exchange.LocalAnswer;
import dev.geminirotator.core.internal.exchange.Transport;
import dev.geminirotator.standalone.http.HeaderNames;
import dev.geminirotator.standalone.http.Upstream;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpVersion;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionStage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The proxy's transport for core's {@link
 * dev.geminirotator.core.internal.exchange.GeminiExchange}: sends
 * the client's request upstream with a key (over {@link Upstream}, on the client connection's
 * event loop) and hands each answer on ({@link UpstreamAnswer}). It decides nothing: which key,
 * what an answer means, whether to try again and what the client gets are core's. One instance
 * per request, confined to its event loop.
 */
final class NettyTransport implements Transport.Async<UpstreamAnswer> {

  private static final Logger log = LoggerFactory.getLogger(NettyTransport.class);

  private static final HttpHeadersFactory UNVALIDATED =
      DefaultHttpHeadersFactory.headersFactory().withValidation(false);

  private final ProxyExchange ex;
  private final Upstream upstream;
  private final Duration timeout;
  /** The upstream request target, the same for every attempt. */
  private final String target;
  private final byte[] body;
  private final boolean openAi;
  /** The attempt in flight, aborted when the client goes away. */
  private UpstreamAnswer current;
  int attempts;

  NettyTransport(ProxyExchange ex, Upstream upstream, Duration timeout, String target,
      byte[] body, boolean openAi) {
    this.ex = ex;
    this.upstream = upstream;
    this.timeout = timeout;
    this.target = target;
    this.body = body;
    this.openAi = openAi;
  }

  @Override
  public CompletionStage<UpstreamAnswer> send(ApiKey key) {
    String method = ex.request.method();
    boolean withBody = body.length > 0 || !(method.equals("GET") || method.equals("HEAD")
        || method.equals("DELETE"));
    // The client's headers were validated when decoded: no second validation on the copy.
    DefaultFullHttpRequest proxyToUpstream = new DefaultFullHttpRequest(HttpVersion.HTTP_1_1,
        ex.request.head().method(), target,
        withBody ? Unpooled.wrappedBuffer(body) : Unpooled.EMPTY_BUFFER, UNVALIDATED,
        HeaderNames.NO_TRAILERS);
    HttpHeaders h = proxyToUpstream.headers();
    HeaderCopy.copyRequestHeaders(ex.request.headers(), h);
    if (openAi) {
      h.set(HeaderNames.AUTHORIZATION, HeaderNames.ascii("Bearer " + key.secret()));
    } else {
      h.set(HeaderNames.X_GOOG_API_KEY, HeaderNames.ascii(key.secret()));
    }
    h.set(HeaderNames.HOST, upstream.authority());
    if (withBody) h.set(HeaderNames.CONTENT_LENGTH, HeaderNames.decimal(body.length));
    attempts++;
    UpstreamAnswer answer = new UpstreamAnswer(ex, key, System.nanoTime());
    if (log.isDebugEnabled()) {
      log.atDebug().addKeyValue("requestId", ex.requestId).addKeyValue("attempt", attempts)
          .addKeyValue("keyId", key.id())
          .log("proxy->upstream {} {}", method, ex.request.path());
    }
    Upstream.Attempt a = upstream.attempt(ex.loop, proxyToUpstream, answer, timeout);
    answer.upstream = a;
    current = answer; // before go(): the answer may arrive within it
    a.go();
    return answer.head;
  }

  /**
   * The client went away: the attempt in flight (if any: true) stops holding an upstream
   * connection, and its answer hears the abort.
   */
  boolean abortCurrent() {
    UpstreamAnswer a = current;
    if (a == null || a.upstream == null) return false;
    a.upstream.abort(new CancellationException("client disconnected"));
    return true;
  }

  /** {@code answer}'s upstream exchange is over. */
  void forget(UpstreamAnswer answer) {
    if (current == answer) current = null;
  }

  @Override
  public int status(UpstreamAnswer response) {
    return response.status;
  }

  @Override
  public String header(UpstreamAnswer response, String name) {
    return response.headers == null ? null : response.headers.get(name);
  }

  @Override
  public String peek(UpstreamAnswer response) {
    return response.peekText();
  }

  @Override
  public boolean peekedWhole(UpstreamAnswer response) {
    return response.whole;
  }

  @Override
  public UpstreamAnswer serve(UpstreamAnswer response, Attempt attempt) {
    response.serving(attempt);
    return response;
  }

  @Override
  public UpstreamAnswer pass(UpstreamAnswer response, Attempt attempt, long retryAfterSeconds) {
    response.passing(attempt, retryAfterSeconds);
    return response;
  }

  @Override
  public UpstreamAnswer keep(UpstreamAnswer response, Attempt attempt) {
    response.keep(attempt);
    return response;
  }

  @Override
  public UpstreamAnswer passKept(UpstreamAnswer kept, long retryAfterSeconds) {
    kept.retryAfter = retryAfterSeconds;
    return kept;
  }

  @Override
  public void discard(UpstreamAnswer response) {
    response.discard();
  }

  @Override
  public UpstreamAnswer local(LocalAnswer answer) {
    return UpstreamAnswer.local(ex, answer);
  }

  @Override
  public boolean cancelled() {
    return ex.clientGone();
  }

  @Override
  public void retrying(Outcome outcome) {
    ex.metrics().retry(outcome.kind().name().toLowerCase(Locale.ROOT));
  }
}
