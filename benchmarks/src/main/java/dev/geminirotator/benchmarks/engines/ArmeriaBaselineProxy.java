package dev.geminirotator.benchmarks.engines;

import com.linecorp.armeria.client.ClientFactory;
import com.linecorp.armeria.client.WebClient;
import com.linecorp.armeria.common.HttpResponse;
import com.linecorp.armeria.common.HttpStatus;
import com.linecorp.armeria.common.util.ThreadFactories;
import com.linecorp.armeria.common.util.TransportType;
import com.linecorp.armeria.server.HttpService;
import com.linecorp.armeria.server.Server;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.uring.IoUring;
import io.netty.util.AsciiString;
import java.net.InetSocketAddress;
import java.util.Locale;

/**
 * The Armeria engine baseline (issue 16 item 7): the same minimal reverse proxy as
 * {@link NettyBaselineProxy}, written the way Armeria's documentation and its own
 * {@code examples/proxy-server} write one: an {@code HttpService} under {@code /} that hands the
 * client's {@code HttpRequest} to a {@code WebClient} and returns its {@code HttpResponse} as it
 * is ("You don't have to implement your own backpressure control because Armeria handles it by
 * nature", that example's {@code ProxyService}). A measuring stick for
 * {@code benchmarks/load/engines.sh}, not product code: no rotation, no retries, no auth.
 *
 * <p>Client→proxy: Armeria's server, HTTP/1.1 and h2c (prior knowledge or upgrade) on one port, as
 * Armeria serves by default. Proxy→upstream: the same method, path and query and the client's
 * headers with {@code :authority} (the {@code Host}) set to the upstream and
 * {@code x-goog-api-key} replaced by {@code --key}; Armeria drops the hop-by-hop headers itself
 * (RFC 9110 7.6.1). The request body and the answer stream through without being aggregated.
 * Upstream→proxy→client: the upstream's status, headers and body as they arrive; a failed
 * exchange answers 502, as the Netty baseline does (a {@code ServerErrorHandler}: Armeria's own
 * mapping would answer 500 or 503). The upstream client speaks
 * HTTP/1.1 only ({@code h1c://}: the fake Gemini is nginx, and a cleartext {@code http://}
 * client would first try an HTTP/2 preface), with Armeria's connection pool.
 *
 * <p>Configuration (the defaults Armeria documents, changed only where the Netty baseline differs):
 * one event loop group of {@code --threads} loops (default: the number of CPUs, as the Netty
 * baseline; Armeria's own default is twice that) shared by the server and the client factory
 * ({@code ServerBuilder.workerGroup}, {@code ClientFactoryBuilder.workerGroup}), made by
 * Armeria's own {@code TransportType} with its {@code FastThreadLocalThread} factory
 * ({@code ThreadFactories.newEventLoopThreadFactory}). The client may use every loop for the one
 * upstream ({@code maxNumEventLoopsPerHttp1Endpoint}; Armeria's default is one loop per endpoint);
 * which loop a request's upstream connection is on is Armeria's choice (its
 * {@code EventLoopScheduler}), not necessarily the client connection's, unlike the Netty
 * baseline. io_uring when {@code --transport auto} finds it (Armeria turns io_uring on only when
 * asked: the flag
 * {@code com.linecorp.armeria.transportType=io_uring}, set here before Armeria reads it), else
 * epoll, as the proxy picks. Armeria's default request and response timeouts (10 s each) stay
 * on: they are deadlines the proxy writes by hand, and the Netty baseline has none. Armeria's
 * {@code Server} and {@code Date} response headers stay too (the proxy sends a {@code Date}).
 *
 * <p>Options: {@code --upstream http://host:port} (required), {@code --port} (0: a free one),
 * {@code --key}, {@code --threads} and {@code --transport io_uring|epoll|nio|auto}. Binds
 * 127.0.0.1, prints {@code READY port=N transport=T threads=N} and runs until killed.
 * Thread-safe: Armeria's server and client are.
 */
public final class ArmeriaBaselineProxy {

  private static final AsciiString API_KEY = AsciiString.cached("x-goog-api-key");

  private ArmeriaBaselineProxy() {
  }

  public static void main(String[] argv) {
    BaselineArgs args = BaselineArgs.parse(argv, "threads", "transport");
    int threads = args.number("threads", Runtime.getRuntime().availableProcessors());
    TransportType transport = pickTransport(args.string("transport", "auto"));
    EventLoopGroup loops = transport.newEventLoopGroup(threads, type -> ThreadFactories
        .newEventLoopThreadFactory("armeria-baseline-" + type.lowerCasedName(), false));

    // Armeria gives one endpoint a single event loop unless told otherwise
    // (DefaultEventLoopScheduler.DEFAULT_MAX_NUM_EVENT_LOOPS): with one upstream that put every
    // upstream connection on one loop (measured: 85% of the loops' CPU on one of two). The
    // documented knob spreads them over all loops (ClientFactoryBuilder Javadoc).
    ClientFactory factory = ClientFactory.builder()
        .workerGroup(loops, false)
        .maxNumEventLoopsPerEndpoint(threads)
        .maxNumEventLoopsPerHttp1Endpoint(threads)
        .build();
    WebClient upstream = WebClient.builder("h1c://" + args.upstreamHost + ":" + args.upstreamPort)
        .factory(factory)
        .build();
    String authority = args.upstreamHost + ":" + args.upstreamPort;
    String key = args.key;
    HttpService proxy = (ctx, req) -> upstream.execute(req.withHeaders(req.headers().toBuilder()
        .authority(authority)
        .set(API_KEY, key)));
    Server server = Server.builder()
        .http(new InetSocketAddress("127.0.0.1", args.port))
        .workerGroup(loops, true)
        .serviceUnder("/", proxy)
        // only on failure, so a served request pays nothing for it (HttpResponse.recover would
        // wrap every response)
        .errorHandler((ctx, cause) -> HttpResponse.of(HttpStatus.BAD_GATEWAY))
        .build();
    server.closeOnJvmShutdown();
    server.start().join();
    System.out.println("READY port=" + server.activeLocalPort() + " transport="
        + transport.lowerCasedName() + " threads=" + threads);
    System.out.flush();
  }

  /**
   * The transport {@code name} asks for; {@code auto} is io_uring where it works, else epoll, else
   * NIO (the proxy's {@code server.transport: auto}). Armeria reads its flags once, at first use,
   * so this runs before any other Armeria class is touched.
   */
  private static TransportType pickTransport(String name) {
    String flag = "com.linecorp.armeria.transportType";
    switch (name) {
      case "auto":
        if (System.getProperty(flag) == null && IoUring.isAvailable()) {
          System.setProperty(flag, "io_uring");
        }
        for (TransportType t : new TransportType[] {TransportType.IO_URING, TransportType.EPOLL}) {
          if (t.isAvailable()) return t;
        }
        return TransportType.NIO;
      case "io_uring":
      case "epoll":
      case "nio":
        System.setProperty(flag, name);
        TransportType t = TransportType.valueOf(name.toUpperCase(Locale.ROOT));
        if (!t.isAvailable()) {
          throw new IllegalStateException("--transport " + name + " is unavailable here (use"
              + " --transport auto)", t.unavailabilityCause());
        }
        return t;
      default:
        throw new IllegalArgumentException("--transport must be io_uring, epoll, nio or auto"
            + " but was " + name);
    }
  }
}
