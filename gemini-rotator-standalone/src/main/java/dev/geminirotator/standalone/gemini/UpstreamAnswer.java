package dev.geminirotator.standalone.gemini;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.internal.affinity.Affinity;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.internal.exchange.Attempt;
import dev.geminirotator.core.internal.exchange.GeminiExchange;
import dev.geminirotator.core.internal.exchange.LocalAnswer;
import dev.geminirotator.core.internal.exchange.SecretScrubber;
import dev.geminirotator.standalone.http.ContentDecoder;
import dev.geminirotator.standalone.http.HeaderNames;
import dev.geminirotator.standalone.http.Upstream;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponse;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One attempt's upstream→proxy answer: what the upstream connection feeds (its {@link
 * Upstream.Listener}) and what core's exchange decides on (the {@link NettyTransport}'s response
 * type). Its {@link #head} completes when the status and headers are there, and, for the statuses
 * whose body core classifies ({@link GeminiExchange#readsErrorBody}), up to {@link
 * GeminiClassifier#MAX_PEEK_BYTES} of the body (inflated when it is gzip or deflate). Once core
 * has decided, the answer goes to the client: a success streams untouched (its first bytes teed to
 * core when asked, its end reported to core's {@link Attempt}); an error streams scrubbed of every
 * pool key; a kept one goes as its peek. Chunks stream with back-pressure: the upstream connection
 * pauses while the client cannot take more. An answer the exchange made itself ({@link #local})
 * carries only that. Confined to the request's event loop.
 */
final class UpstreamAnswer implements Upstream.Listener {

  private static final Logger log = LoggerFactory.getLogger(UpstreamAnswer.class);

  private enum Phase { WAITING, PEEKING, DECIDING, STREAMING, DONE }

  final ProxyExchange ex;
  final ApiKey key;
  final long sentAt;
  /** Completes when core can decide: the head, and the peek when the status needs one. */
  final CompletableFuture<UpstreamAnswer> head = new CompletableFuture<>();
  /** The exchange's own answer, or {@code null} for an upstream one. */
  final LocalAnswer local;
  Upstream.Attempt upstream;
  private Phase phase = Phase.WAITING;
  int status;
  HttpHeaders headers;
  private ByteArrayOutputStream peek;
  /** Whether {@link #peek} holds the whole body (the upstream answer is over). */
  boolean whole;
  /** The rest of the chunk the peek filled up, sent after it when the answer is passed on. */
  private ByteBuf rest;
  /** Chunks that arrived while core was deciding (not expected: it decides at once). */
  private ArrayDeque<ByteBuf> held;
  private boolean heldLast;
  /** Inflates a gzip or deflate error body, so it can be classified and scrubbed. */
  private ContentDecoder decoder;
  /**
   * An error body in an encoding the proxy cannot decode (br, zstd, ...): it cannot be checked
   * for pool keys, so it is dropped and the client gets the status and headers with no body.
   */
  private boolean undecodable;
  /** Takes every pool key out of an error body as it streams, a key split across chunks too. */
  private SecretScrubber.Stream errorScrub;
  /** Core's attempt for a served success: its body's end is reported to it. */
  private Attempt served;
  /** The scrubber of the attempt, once core handed the answer on. */
  SecretScrubber scrubber;
  /** The {@code Retry-After} core chose, in seconds, or -1. */
  long retryAfter = -1;
  /** A copy kept by core while the next attempt ran: its head and peek; its upstream is closed. */
  boolean kept;
  private byte[] keptBody;

  UpstreamAnswer(ProxyExchange ex, ApiKey key, long sentAt) {
    this.ex = ex;
    this.key = key;
    this.sentAt = sentAt;
    this.local = null;
  }

  private UpstreamAnswer(ProxyExchange ex, LocalAnswer local) {
    this.ex = ex;
    this.key = null;
    this.sentAt = 0;
    this.local = local;
    this.status = local.status();
    this.phase = Phase.DONE;
  }

  static UpstreamAnswer local(ProxyExchange ex, LocalAnswer local) {
    return new UpstreamAnswer(ex, local);
  }

  // ---------------------------------------------------------------- upstream→proxy

  @Override
  public void onHeaders(HttpResponse upstreamToProxyResponse) {
    try {
      headers(upstreamToProxyResponse);
    } catch (RuntimeException e) {
      failed(e);
    }
  }

  @Override
  public void onContent(ByteBuf chunk, boolean last) {
    try {
      content(chunk, last);
    } catch (RuntimeException e) {
      if (chunk.refCnt() > 0) chunk.release();
      failed(e);
    }
  }

  private void headers(HttpResponse upstreamToProxyResponse) {
    status = upstreamToProxyResponse.status().code();
    headers = upstreamToProxyResponse.headers();
    ex.upstreamAnswered(status, sentAt);
    if (status >= 400) {
      String encoding = headers.get(HttpHeaderNames.CONTENT_ENCODING);
      if (!ContentDecoder.isIdentity(encoding)) {
        decoder = ContentDecoder.forEncoding(encoding);
        undecodable = decoder == null;
        if (undecodable) {
          log.atWarn().addKeyValue("requestId", ex.requestId)
              .log("upstream sent a {} error body as {}, which cannot be checked for pool keys;"
                  + " passing the status on without the body", status,
                  encoding.length() > 32 ? encoding.substring(0, 32) : encoding);
        }
      }
    }
    if (GeminiExchange.readsErrorBody(status)) {
      peek = new ByteArrayOutputStream(1024);
      phase = Phase.PEEKING;
      return;
    }
    phase = Phase.DECIDING;
    head.complete(this);
  }

  private void content(ByteBuf chunk, boolean last) {
    if (status >= 400 && (phase == Phase.PEEKING || phase == Phase.STREAMING
        || phase == Phase.DECIDING)) {
      if (undecodable) {
        chunk.release();
        chunk = Unpooled.EMPTY_BUFFER;
      } else if (decoder != null) {
        chunk = decoder.decode(chunk, last);
      }
    }
    decoded(chunk, last);
  }

  /** A chunk of the body as the client may get it (inflated when it was encoded). */
  private void decoded(ByteBuf chunk, boolean last) {
    switch (phase) {
      case STREAMING -> stream(chunk, last);
      case PEEKING -> {
        int n = Math.min(GeminiClassifier.MAX_PEEK_BYTES - peek.size(), chunk.readableBytes());
        byte[] bytes = new byte[n];
        chunk.readBytes(bytes);
        peek.write(bytes, 0, n);
        if (last) {
          // The whole rest goes with the peek (classified on its first MAX_PEEK_BYTES only).
          byte[] tail = new byte[chunk.readableBytes()];
          chunk.readBytes(tail);
          peek.write(tail, 0, tail.length);
          chunk.release();
          whole = true;
          forget();
          phase = Phase.DECIDING;
          head.complete(this);
        } else if (peek.size() >= GeminiClassifier.MAX_PEEK_BYTES) {
          rest = chunk; // the rest of this chunk goes after the peek
          phase = Phase.DECIDING;
          head.complete(this);
        } else {
          chunk.release();
        }
      }
      case DECIDING -> {
        if (held == null) held = new ArrayDeque<>();
        held.add(chunk);
        heldLast = last;
      }
      default -> chunk.release();
    }
  }

  private void stream(ByteBuf chunk, boolean last) {
    if (served != null && served.teeing()) {
      int n = chunk.readableBytes();
      if (n > 0) {
        byte[] bytes = new byte[Math.min(n, Affinity.MAX_ANSWER_BYTES)];
        chunk.getBytes(chunk.readerIndex(), bytes);
        served.tee(bytes, 0, bytes.length);
      }
    }
    if (errorScrub != null) {
      byte[] bytes = new byte[chunk.readableBytes()];
      chunk.readBytes(bytes);
      chunk.release();
      byte[] sent = errorScrub.next(bytes, last);
      if (sent.length == 0 && !last) return; // all held back, waiting for the next chunk
      chunk = Unpooled.wrappedBuffer(sent);
    }
    if (last) {
      phase = Phase.DONE;
      forget();
      // Before the client can see the end (and name what it created): core learns from it.
      if (served != null) served.succeeded();
      ex.response.end(chunk, ex::finish);
      return;
    }
    // A failed write closes the client connection: the exchange hears it from there.
    ex.response.stream(chunk);
    if (!ex.response.isWritable()) {
      Upstream.Attempt a = upstream;
      if (a != null) {
        a.pause();
        ex.response.whenWritable(a::resume);
      }
    }
  }

  @Override
  public void onFailure(Throwable failure) {
    Phase p = phase;
    forget();
    switch (p) {
      case WAITING, PEEKING -> {
        phase = Phase.DONE;
        if (failure instanceof RejectedExecutionException || ex.clientGone()) {
          head.completeExceptionally(failure); // the proxy refused, or the client left
          return;
        }
        log.atWarn().addKeyValue("requestId", ex.requestId).addKeyValue("keyId", key.id())
            .log("proxy->upstream failed: {}", failure.getClass().getSimpleName());
        head.completeExceptionally(failure instanceof IOException ? failure
            : new IOException("upstream exchange failed: " + failure.getClass().getSimpleName(),
                failure));
      }
      case STREAMING -> {
        phase = Phase.DONE;
        if (ex.clientGone()) {
          // The client left mid-response and the stream was aborted: nobody is blamed.
          if (served != null) served.cancelled();
          ex.clientFailed();
          return;
        }
        log.atWarn().addKeyValue("requestId", ex.requestId).addKeyValue("keyId", key.id())
            .log("upstream->proxy failed mid-response: {}", failure.getClass().getSimpleName());
        if (served != null) served.failed(failure);
        ex.response.abort();
        ex.finish(failure);
      }
      default -> { }
    }
  }

  /** A bug (or a closed rotator) while handling this answer: end it and the request. */
  private void failed(RuntimeException e) {
    Phase p = phase;
    if (p == Phase.DONE && ex.finished) return;
    phase = Phase.DONE;
    releaseBuffers();
    forget();
    if (upstream != null) upstream.abort(new CancellationException("proxy error"));
    if (!head.isDone()) {
      head.completeExceptionally(e); // core completes the attempt as cancelled
      return;
    }
    if (served != null) served.cancelled();
    ex.unexpected(e);
  }

  /** This attempt's upstream exchange is over: the transport no longer points at it. */
  private void forget() {
    ex.transport.forget(this);
    if (decoder != null) decoder.close();
  }

  private void releaseBuffers() {
    if (rest != null) {
      if (rest.refCnt() > 0) rest.release();
      rest = null;
    }
    if (held != null) {
      for (ByteBuf b : held) {
        if (b.refCnt() > 0) b.release();
      }
      held = null;
    }
  }

  // ---------------------------------------------------------------- core's decisions

  /** The peek as text for the classifier, or {@code null} when there is none. */
  String peekText() {
    if (peek == null || peek.size() == 0) return null;
    byte[] bytes = peek.toByteArray();
    return new String(bytes, 0, Math.min(bytes.length, GeminiClassifier.MAX_PEEK_BYTES),
        StandardCharsets.UTF_8);
  }

  /** A success to serve: its body streams to the client and reports its end to {@code attempt}. */
  void serving(Attempt attempt) {
    this.served = attempt;
    this.scrubber = attempt.scrubber();
  }

  /** Not a success, for the client as the upstream gave it, scrubbed. */
  void passing(Attempt attempt, long retryAfterSeconds) {
    this.scrubber = attempt.scrubber();
    this.retryAfter = retryAfterSeconds;
  }

  /**
   * Kept as the client's possible final answer while the next attempt runs: its head and peek
   * stay, its upstream exchange ends (aborted when the body was not read to its end).
   */
  void keep(Attempt attempt) {
    this.scrubber = attempt.scrubber();
    this.kept = true;
    this.keptBody = peek == null ? new byte[0] : peek.toByteArray();
    HttpHeaders copy = new DefaultHttpHeaders().set(headers);
    if (decoder != null || undecodable) {
      copy.remove(HttpHeaderNames.CONTENT_ENCODING); // the kept body is inflated (or none)
      copy.remove(HeaderNames.CONTENT_LENGTH);
    }
    this.headers = copy;
    end("retrying on another key");
  }

  /** Nobody will read this answer: its upstream exchange ends, a served body is cancelled. */
  void discard() {
    end("answer not needed");
    if (served != null && !served.done()) served.cancelled();
  }

  private void end(String why) {
    boolean live = phase != Phase.DONE && !whole;
    phase = Phase.DONE;
    releaseBuffers();
    forget();
    if (live && upstream != null) upstream.abort(new CancellationException(why));
  }

  // ---------------------------------------------------------------- proxy→client

  /** Sends this answer, as core handed it on, to the client. Called once, on the loop. */
  void respond() {
    if (kept) {
      sendKept();
      return;
    }
    if (!ex.commitHead(this, headers)) {
      unusableUploadUrl();
      return;
    }
    if (decoder != null || undecodable) {
      // The client gets the body inflated (or none): the upstream's coding and length are gone.
      ex.response.headers().remove(HttpHeaderNames.CONTENT_ENCODING);
      ex.response.headers().remove(HeaderNames.CONTENT_LENGTH);
    }
    if (retryAfter >= 0) ex.response.headers().set("Retry-After", Long.toString(retryAfter));
    if (status == 429 || status >= 500) {
      log.atWarn().addKeyValue("requestId", ex.requestId).addKeyValue("keyId", key.id())
          .log("returning upstream {} to the client", status);
    }
    if (status >= 400) {
      // An error body may name a pool key: scrubbed as it streams, so its length may change.
      ex.response.headers().remove(HeaderNames.CONTENT_LENGTH);
    }
    if (peek != null && whole) {
      byte[] peeked = peek.toByteArray();
      byte[] sent = scrubber.scrub(peeked);
      if (sent != peeked) ex.response.headers().remove(HeaderNames.CONTENT_LENGTH);
      phase = Phase.DONE;
      ex.response.end(Unpooled.wrappedBuffer(sent), ex::finish);
      return;
    }
    if (status >= 400) errorScrub = scrubber.stream();
    phase = Phase.STREAMING;
    if (peek != null) {
      byte[] sent = errorScrub.next(peek.toByteArray(), false);
      if (sent.length > 0) ex.response.stream(Unpooled.wrappedBuffer(sent));
      ByteBuf r = rest;
      rest = null;
      if (r != null) stream(r, false); // already inflated
    }
    ArrayDeque<ByteBuf> waiting = held;
    held = null;
    if (waiting != null) {
      while (!waiting.isEmpty() && phase == Phase.STREAMING) {
        ByteBuf b = waiting.poll();
        stream(b, waiting.isEmpty() && heldLast);
      }
      for (ByteBuf b : waiting) b.release();
    }
  }

  /**
   * The answer kept from the last failed attempt (status and peeked body): every pool key becomes
   * its id, in headers and body; a body cut at the peek also loses any start of a key it was cut
   * in.
   */
  private void sendKept() {
    ex.status = status;
    ex.response.status(status);
    HeaderCopy.copyResponseHeaders(headers, ex.response.headers(), scrubber);
    // A failed attempt's upload session is abandoned: its URLs are not the client's to use.
    for (var name : HeaderCopy.UPLOAD_URL_HEADERS) ex.response.headers().remove(name);
    byte[] body = whole ? scrubber.scrub(keptBody) : scrubber.scrubTruncated(keptBody);
    // Only part of a longer body was kept, or a key was taken out of it: its length changed.
    if (!whole || body != keptBody) ex.response.headers().remove(HeaderNames.CONTENT_LENGTH);
    if (retryAfter >= 0) ex.response.headers().set("Retry-After", Long.toString(retryAfter));
    ex.response.end(Unpooled.wrappedBuffer(body), ex::finish);
  }

  /**
   * The upstream sent an upload URL the proxy cannot rewrite: end this answer and answer 502, so
   * that the URL, and the key it may carry, stay here.
   */
  private void unusableUploadUrl() {
    end("unusable upload URL");
    if (served != null && !served.done()) served.cancelled();
    log.atWarn().addKeyValue("requestId", ex.requestId).addKeyValue("keyId", key.id())
        .log("upstream sent an upload URL that cannot be rewritten; answering 502");
    ex.problem(502, "bad-upload-url", "Unusable upload URL",
        "Gemini answered with a resumable-upload URL the proxy cannot point back at itself", -1);
  }

  @Override
  public String toString() {
    return "UpstreamAnswer{status=" + status + ", key=" + (key == null ? "-" : key.id()) + '}';
  }
}
