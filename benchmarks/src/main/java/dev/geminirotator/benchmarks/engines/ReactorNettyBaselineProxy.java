package dev.geminirotator.benchmarks.engines;

import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.util.AsciiString;
import java.util.Map;
import reactor.core.publisher.Mono;
import reactor.netty.DisposableServer;
import reactor.netty.http.HttpProtocol;
import reactor.netty.http.client.HttpClient;
import reactor.netty.http.server.HttpServer;
import reactor.netty.resources.ConnectionProvider;
import reactor.netty.resources.LoopResources;

/**
 * The Reactor Netty engine baseline (issue 16 item 7): the same minimal reverse proxy as
 * {@link NettyBaselineProxy}, written the way Reactor Netty's reference guide writes a server and
 * a client: an {@code HttpServer} whose handler sends the request with an {@code HttpClient} and
 * sends its answer back, both {@code ByteBuf} streams passed on without being aggregated (the
 * pattern of Spring Cloud Gateway's {@code NettyRoutingFilter}, which runs on Reactor Netty). A
 * measuring stick for {@code benchmarks/load/engines.sh}, not product code: no rotation, no
 * retries, no auth, no timeouts.
 *
 * <p>Client→proxy: {@code HttpServer} speaking HTTP/1.1 and h2c on one port
 * ({@code protocol(HTTP11, H2C)}; the proxy serves both, see its {@code H2cDetector}).
 * Proxy→upstream: the same method, path and query, the client's headers minus the hop-by-hop
 * ones (RFC 9110 7.6.1), {@code Host} (the client sets the upstream's) and the client's
 * {@code x-goog-api-key}, plus {@code --key}. Upstream→proxy→client: status, headers (minus
 * hop-by-hop) and body as they arrive; a failed exchange answers 502 when nothing was sent yet,
 * else the client connection is closed, as the Netty baseline does.
 *
 * <p>Configuration (the reference guide's, changed only where the Netty baseline differs): one
 * {@code LoopResources} of {@code --threads} event loops (default: the number of CPUs, as the
 * Netty baseline; Reactor Netty's own default is the CPUs but at least 4) for the server and the
 * client. On it the client is colocated by default: a request's upstream connection is opened on
 * the event loop of the client connection that asked for it. Native transport preferred, as by
 * default: io_uring where the kernel allows, else epoll (Reactor Netty 1.3 picks io_uring first
 * when Netty's io_uring classes are present), which is the proxy's {@code server.transport: auto}.
 * {@code --transport nio} turns native transports off. The upstream pool
 * ({@code ConnectionProvider}) allows {@code --max-connections} (default 512, the proxy's
 * {@code upstream.max-connections}); Reactor Netty's default of 2 × max(CPUs, 8) = 16 would make
 * 64 client connections queue for one.
 *
 * <p>Options: {@code --upstream http://host:port} (required), {@code --port} (0: a free one),
 * {@code --key}, {@code --threads}, {@code --max-connections} and {@code --transport auto|nio}.
 * Binds 127.0.0.1, prints {@code READY port=N transport=T threads=N} and runs until killed.
 * Thread-safe: Reactor Netty's server and client are.
 */
public final class ReactorNettyBaselineProxy {

  private static final AsciiString API_KEY = AsciiString.cached("x-goog-api-key");

  private ReactorNettyBaselineProxy() {
  }

  public static void main(String[] argv) {
    BaselineArgs args =
        BaselineArgs.parse(argv, "threads", "transport", "max-connections");
    int threads = args.number("threads", Runtime.getRuntime().availableProcessors());
    String transportName = args.string("transport", "auto");
    if (!transportName.equals("auto") && !transportName.equals("nio")) {
      throw new IllegalArgumentException("--transport must be auto (io_uring, else epoll, else"
          + " NIO: Reactor Netty's own choice) or nio but was " + transportName);
    }
    boolean preferNative = transportName.equals("auto");
    LoopResources loops = LoopResources.create("reactor-baseline", threads, true);
    ConnectionProvider pool = ConnectionProvider.builder("upstream")
        .maxConnections(args.number("max-connections", 512))
        .build();
    HttpClient upstream = HttpClient.create(pool)
        .runOn(loops, preferNative)
        .baseUrl(args.upstreamBaseUrl());
    String key = args.key;

    DisposableServer server = HttpServer.create()
        .host("127.0.0.1")
        .port(args.port)
        .protocol(HttpProtocol.HTTP11, HttpProtocol.H2C)
        .runOn(loops, preferNative)
        .handle((req, res) -> upstream
            .request(req.method())
            .uri(req.uri())
            .send((up, out) -> {
              copy(req.requestHeaders(), up.requestHeaders(), true);
              up.requestHeaders().set(API_KEY, key);
              return out.send(req.receive().retain());
            })
            .response((answer, body) -> {
              copy(answer.responseHeaders(), res.responseHeaders(), false);
              return res.status(answer.status()).send(body.retain());
            })
            .onErrorResume(cause -> res.hasSentHeaders()
                ? Mono.error(cause)
                : res.status(HttpResponseStatus.BAD_GATEWAY).send()))
        .bindNow();
    // the transport Reactor Netty chose, from the class of the listening channel
    String channel = server.channel().getClass().getSimpleName();
    String transport = channel.startsWith("IoUring") ? "io_uring"
        : channel.startsWith("Epoll") ? "epoll" : channel.startsWith("Nio") ? "nio" : channel;
    System.out.println("READY port=" + server.port() + " transport=" + transport
        + " threads=" + threads);
    System.out.flush();
    server.onDispose().block();
  }

  /** Copies every header but the hop-by-hop ones and, for a request, Host and the client's key. */
  private static void copy(HttpHeaders from, HttpHeaders to, boolean request) {
    for (Map.Entry<CharSequence, CharSequence> h : iterable(from)) {
      CharSequence name = h.getKey();
      if (hopByHop(name)) continue;
      if (request && (AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.HOST)
          || AsciiString.contentEqualsIgnoreCase(name, API_KEY))) {
        continue;
      }
      to.add(name, h.getValue());
    }
  }

  private static Iterable<Map.Entry<CharSequence, CharSequence>> iterable(HttpHeaders headers) {
    return headers::iteratorCharSequence;
  }

  private static boolean hopByHop(CharSequence name) {
    return AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.CONNECTION)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.KEEP_ALIVE)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TRANSFER_ENCODING)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TE)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.TRAILER)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.UPGRADE)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.PROXY_AUTHORIZATION)
        || AsciiString.contentEqualsIgnoreCase(name, HttpHeaderNames.PROXY_AUTHENTICATE);
  }
}
