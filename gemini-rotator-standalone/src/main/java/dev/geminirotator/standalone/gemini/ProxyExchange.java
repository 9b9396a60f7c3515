package dev.geminirotator.standalone.gemini;

import dev.geminirotator.core.internal.exchange.GeminiExchange;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequests;
import dev.geminirotator.core.internal.exchange.LocalAnswer;
import dev.geminirotator.standalone.config.Settings;
import dev.geminirotator.standalone.http.Call;
import dev.geminirotator.standalone.http.HeaderNames;
import dev.geminirotator.standalone.http.ProxyRequest;
import dev.geminirotator.standalone.http.ProxyResponse;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.util.AsciiString;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One client request through the proxy, after {@link Admission}: parses it once (core's {@link
 * GeminiRequests}: the head as the request arrives, the body only when it can add to that), runs
 * core's attempt loop ({@link GeminiExchange#executeAsync}, scheduled on the client connection's
 * event loop) over a {@link NettyTransport}, and writes what the loop
 * answered: an upstream answer ({@link UpstreamAnswer#respond}), or a problem document for the
 * loop's own answers ({@link LocalAnswer}), a transport failure (502, 504) or the proxy's
 * overload (503). Records the request exactly once ({@link #finish}). Confined to the client
 * connection's event loop.
 */
final class ProxyExchange {

  private static final Logger log = LoggerFactory.getLogger(ProxyExchange.class);

  final GeminiProxy proxy;
  final Settings s;
  final Call call;
  final ProxyRequest request;
  final ProxyResponse response;
  final EventLoop loop;
  /** The request as its head reads (core's parse without the body), its route and target. */
  final HeadCache.Head head;
  final String route;
  final long start;
  final AsciiString requestId;
  boolean finished;
  int status;
  String model;
  /**
   * Who asked, for the operator's log: the token's client id, else the address; found only when
   * a refusal is logged, until then {@code null}.
   */
  String client;
  /** Set once the client→proxy connection failed: no further attempt, abort the current one. */
  private Throwable clientGone;
  NettyTransport transport;
  private CompletableFuture<UpstreamAnswer> answer;

  ProxyExchange(GeminiProxy proxy, Settings s, Call call, HeadCache.Head head, long start) {
    this.proxy = proxy;
    this.s = s;
    this.call = call;
    this.request = call.request;
    this.response = call.response;
    this.loop = call.eventLoop();
    this.head = head;
    this.route = head.route();
    this.start = start;
    this.requestId = call.request.requestIdText();
  }

  ProxyMetrics metrics() {
    return proxy.metrics;
  }

  boolean clientGone() {
    return clientGone != null;
  }

  /** The client's body is read: run the attempt loop. */
  void bodyRead(byte[] body) {
    try {
      start(body);
    } catch (RuntimeException e) {
      unexpected(e);
    }
  }

  private void start(byte[] body) {
    call.onGone(this::onClientFailure);
    String path = request.path();
    GeminiRequest parsed = GeminiRequests.withBody(head.request(), path, request.query(), body);
    model = parsed.model();
    // The same for every attempt.
    String target = proxy.upstreamPathPrefix.isEmpty() ? head.target()
        : proxy.upstreamPathPrefix + head.target();
    transport = new NettyTransport(this, proxy.upstream, s.config.upstream().requestTimeout(),
        target, body, parsed.route() == GeminiRequest.Route.OPENAI);
    // An upload's chunks go to the key that started it, once: they cannot be sent again.
    boolean replayable = parsed.route() != GeminiRequest.Route.UPLOAD_CONTINUE;
    answer = proxy.exchangeFor(s).executeAsync(parsed, replayable, transport, loop);
    answer.whenComplete(this::answered);
  }

  private void answered(UpstreamAnswer a, Throwable error) {
    if (!loop.inEventLoop()) { // completed by the placer (a placement that failed)
      loop.execute(() -> answered(a, error));
      return;
    }
    try {
      if (error == null) {
        respond(a);
      } else {
        failed(error instanceof CompletionException && error.getCause() != null
            ? error.getCause() : error);
      }
    } catch (RuntimeException e) {
      unexpected(e);
    }
  }

  private void respond(UpstreamAnswer a) {
    if (clientGone != null) {
      a.discard();
      clientFailed();
      return;
    }
    if (a.local != null) {
      local(a.local);
      return;
    }
    a.respond();
  }

  private void failed(Throwable error) {
    if (error instanceof CancellationException || clientGone != null) {
      clientFailed();
      return;
    }
    if (error instanceof RejectedExecutionException) {
      // The proxy itself refused (shutting down, too many waiting): not the key's fault.
      metrics().rejected("overloaded");
      problem(503, "overloaded", "Proxy overloaded",
          error.getMessage() == null ? "the proxy has too much work queued; try again shortly"
              : error.getMessage(), 1);
      return;
    }
    if (error instanceof java.io.IOException) {
      boolean timedOut = isTimeout(error);
      String reason = describe(proxy.exchangeFor(s).classifier().classifyTransportFailure(error));
      problem(timedOut ? 504 : 502, timedOut ? "upstream-timeout" : "upstream-unreachable",
          timedOut ? "Upstream timed out" : "Upstream unreachable",
          "the request to Gemini failed: " + reason, -1);
      return;
    }
    unexpected(error instanceof RuntimeException r ? r : new IllegalStateException(error));
  }

  private static String describe(dev.geminirotator.api.Outcome o) {
    return o instanceof dev.geminirotator.api.Outcome.TransportError t ? t.reason()
        : o.kind().name();
  }

  private static boolean isTimeout(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof TimeoutException || c instanceof java.net.SocketTimeoutException
          || c instanceof io.netty.channel.ConnectTimeoutException) {
        return true;
      }
    }
    return false;
  }

  /** The loop's own answer, as a problem document naming why. */
  private void local(LocalAnswer a) {
    switch (a.kind()) {
      case CIRCUIT_OPEN -> {
        metrics().rejected("circuit-open");
        problem(a.status(), a.reason(), "Upstream unavailable", a.message(),
            a.retryAfterSeconds());
      }
      case NO_KEY -> {
        metrics().rejected("no-key");
        if (a.retryAfterSeconds() < 0) {
          problem(a.status(), a.reason(), "No usable key",
              a.message() + " (an operator must act)", -1);
        } else {
          problem(a.status(), a.reason(), "No key available", a.message(),
              a.retryAfterSeconds());
        }
      }
      case NO_KEY_FOR_PROJECT -> {
        metrics().rejected("no-key");
        problem(a.status(), a.reason(), "No key for the resource's project", a.message(),
            a.retryAfterSeconds());
      }
      case UNREACHABLE -> {
        metrics().rejected("resource-unreachable");
        problem(a.status(), a.reason(),
            a.status() == 404 ? "Resource not found" : "Resource unreachable", a.message(),
            a.retryAfterSeconds());
      }
    }
  }

  /** Counts an upstream answer's head (and a served model). */
  void upstreamAnswered(int upstreamStatus, long sentAt) {
    metrics().upstream(route, upstreamStatus, sentAt);
    if (upstreamStatus >= 200 && upstreamStatus < 300) metrics().modelServed(model);
  }

  /**
   * Sets the proxy→client status and headers from an upstream answer, every value scrubbed of
   * every pool key and every resumable-upload URL pointed back at this proxy. Returns {@code
   * false}, having set nothing, when an upload URL cannot be pointed back: such a URL is never
   * passed on (fail closed).
   */
  boolean commitHead(UpstreamAnswer a, HttpHeaders from) {
    AsciiString[] names = HeaderCopy.UPLOAD_URL_HEADERS;
    String[] rewritten = null;
    for (int i = 0; i < names.length; i++) {
      String url = from.get(names[i]);
      if (url == null) continue;
      String local = UrlHygiene.rewriteUploadUrl(url, UrlHygiene.clientBase(request, s.identity));
      if (local == null) return false;
      if (rewritten == null) rewritten = new String[names.length];
      rewritten[i] = local;
    }
    status = a.status;
    response.status(a.status);
    HttpHeaders to = response.headers();
    HeaderCopy.copyResponseHeaders(from, to, a.scrubber);
    if (rewritten != null) {
      for (int i = 0; i < names.length; i++) {
        if (rewritten[i] != null) to.set(names[i], a.scrubber.scrub(rewritten[i]));
      }
    }
    return true;
  }

  /**
   * The client went away (its connection closed or idled out): the loop stops (the attempt in
   * flight completes its lease as cancelled, which blames no key) and the upstream exchange is
   * aborted, so it stops holding a connection.
   */
  void onClientFailure(Throwable failure) {
    if (clientGone != null) return;
    clientGone = failure;
    CompletableFuture<UpstreamAnswer> f = answer;
    boolean waiting = f != null && !f.isDone();
    if (waiting) f.cancel(false); // answered() hears it and records 499
    boolean aborted = transport != null && transport.abortCurrent(); // its answer records 499
    if (!waiting && !aborted) clientFailed();
  }

  /** A bug or a closed rotator: answer 502 once, and log the exception's type only. */
  void unexpected(RuntimeException e) {
    log.atError().addKeyValue("requestId", requestId)
        .log("attempt failed unexpectedly: {}", e.getClass().getName());
    if (finished) return;
    if (response.isCommitted()) {
      response.abort();
      finish(e);
      return;
    }
    problem(502, "proxy-error", "Proxy error", "the proxy failed to forward the request", -1);
  }

  /** Sends a problem the proxy made itself. */
  void problem(int status, String slug, String title, String detail, long retryAfter) {
    if (finished) return;
    this.status = status;
    logRefusal(status, slug, detail);
    boolean gemini = GeminiProxy.isProxied(request.path());
    Problems.send(request, response, status, slug, title, detail, gemini, retryAfter,
        this::finish);
  }

  /**
   * Logs a refusal for the operator (rate-limited per kind, see {@link RefusalLog}): every
   * answer of the proxy's own but 502 and 504, which are logged where the upstream failed.
   */
  private void logRefusal(int status, String slug, String detail) {
    if (status >= 500 && status != 503) return;
    if (client == null) {
      client = s.identity.clientAddress(request.remoteAddress(),
          request.header(HeaderNames.X_FORWARDED_FOR));
    }
    metrics().refusals.refused(slug, status, requestId, route, client, detail);
  }

  /**
   * Reading the client's body failed. While nothing was sent yet that is the client's mistake
   * (a body shorter than its Content-Length, then silence or a half-close): answer a problem,
   * 408 for a timeout, else 400.
   */
  void bodyReadFailed(Throwable failure) {
    if (!response.isCommitted() && !call.isGone()) {
      boolean timeout = false;
      for (Throwable c = failure; c != null; c = c.getCause()) {
        if (c instanceof TimeoutException) timeout = true;
      }
      metrics().rejected(timeout ? "body-timeout" : "body-incomplete");
      response.closeAfter();
      if (timeout) {
        problem(408, "request-timeout", "Request body timed out",
            "the request body did not arrive in time (server.body-timeout,"
                + " server.body-min-rate, server.idle-timeout)", -1);
      } else {
        problem(400, "incomplete-body", "Request body incomplete",
            "the request body ended before its declared length", -1);
      }
      return;
    }
    clientGone = failure;
    clientFailed();
  }

  /** The client has gone: answer nothing more and record 499. */
  void clientFailed() {
    if (finished) return;
    status = 499;
    response.abort();
    finish(clientGone != null ? clientGone : new CancellationException("client disconnected"));
  }

  /** Completes the client exchange and records it, exactly once. */
  void finish(Throwable failure) {
    if (finished) return;
    finished = true;
    int recorded = failure != null && status < 400 ? 499 : status;
    String method = request.method();
    // Routes answered every other method with 405 before it got here.
    metrics().requestFinished(route, method, recorded, model, start);
    if (log.isDebugEnabled()) {
      log.atDebug().addKeyValue("requestId", requestId)
          .addKeyValue("method", method).addKeyValue("route", route)
          .addKeyValue("status", recorded).addKeyValue("model", model)
          .addKeyValue("attempts", transport == null ? 0 : transport.attempts)
          .addKeyValue("millis", (System.nanoTime() - start) / 1_000_000)
          .log("proxy->client done");
      if (failure != null) {
        log.atDebug().addKeyValue("requestId", requestId)
            .log("proxy->client failed: {}", failure.getClass().getSimpleName());
      }
    }
  }
}
