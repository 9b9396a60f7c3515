package dev.geminirotator.benchmarks.engines;

import java.nio.ByteBuffer;
import org.eclipse.jetty.client.BufferingResponseListener;
import org.eclipse.jetty.client.ByteBufferRequestContent;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.Result;
import org.eclipse.jetty.http.HttpCookieStore;
import org.eclipse.jetty.http.HttpField;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.io.Content;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The Jetty engine baseline: a minimal reverse proxy on Jetty 12 (a core, non-blocking server
 * handler and Jetty's async {@code HttpClient}), to show what the engine under gemini-rotator's
 * standalone proxy can carry on this machine with nothing of ours on top. It is a measuring stick
 * for {@code benchmarks/load/engines.sh}, not product code: no rotation, no retries, no auth, no
 * streaming (request and response are buffered, at most 1 MiB).
 *
 * <p>Client→proxy: the request body read asynchronously into one buffer. Proxy→upstream: the same
 * method, path and query, the headers minus {@code Host}, {@code Content-Length},
 * {@code Connection} and the client's {@code x-goog-api-key}, plus {@code --key}. Upstream→proxy→
 * client: status, headers (minus hop-by-hop and length) and the buffered body; a failed exchange
 * answers 502. Server and client share one thread pool (as the standalone proxy does); the client
 * keeps no cookies.
 *
 * <p>Options: {@code --upstream http://host:port} (required), {@code --port} (0: a free one),
 * {@code --key}, {@code --threads} (pool maximum, default 200), {@code --selectors} (server
 * selectors, default 1) and {@code --max-connections} (upstream connections, default 512). Binds
 * 127.0.0.1, prints {@code READY port=N} and runs until killed.
 */
public final class JettyBaselineProxy {

  private static final int MAX_CONTENT = 1 << 20;

  private JettyBaselineProxy() {
  }

  public static void main(String[] argv) throws Exception {
    BaselineArgs args = BaselineArgs.parse(argv, "threads", "selectors", "max-connections");
    QueuedThreadPool threads = new QueuedThreadPool(args.number("threads", 200));
    threads.setName("jetty-baseline");
    Server server = new Server(threads);
    ServerConnector connector = new ServerConnector(server, 1, args.number("selectors", 1));
    connector.setHost("127.0.0.1");
    connector.setPort(args.port);
    server.addConnector(connector);

    HttpClient client = new HttpClient();
    client.setExecutor(threads);
    client.setMaxConnectionsPerDestination(args.number("max-connections", 512));
    client.setHttpCookieStore(new HttpCookieStore.Empty());
    server.addBean(client);

    String base = args.upstreamBaseUrl();
    String key = args.key;
    server.setHandler(new Handler.Abstract.NonBlocking() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        Content.Source.asByteBufferAsync(request).whenComplete((body, failure) -> {
          if (failure != null) {
            Response.writeError(request, response, callback, failure);
            return;
          }
          client.newRequest(base + request.getHttpURI().getPathQuery())
              .method(request.getMethod())
              .headers(headers -> {
                for (HttpField field : request.getHeaders()) {
                  if (!dropped(field)) headers.add(field);
                }
                headers.put("x-goog-api-key", key);
              })
              .body(new ByteBufferRequestContent(body))
              .send(new BufferingResponseListener(MAX_CONTENT) {
                @Override
                public void onComplete(Result result) {
                  if (result.isFailed()) {
                    Response.writeError(request, response, callback, 502);
                    return;
                  }
                  response.setStatus(result.getResponse().getStatus());
                  for (HttpField field : result.getResponse().getHeaders()) {
                    if (!dropped(field)) response.getHeaders().add(field);
                  }
                  response.write(true, ByteBuffer.wrap(getContent()), callback);
                }
              });
        });
        return true;
      }
    });
    server.start();
    System.out.println("READY port=" + connector.getLocalPort());
    System.out.flush();
    server.join();
  }

  /** Headers each side sets for itself, and the client's credential. */
  private static boolean dropped(HttpField field) {
    HttpHeader h = field.getHeader();
    return h == HttpHeader.HOST || h == HttpHeader.CONTENT_LENGTH || h == HttpHeader.CONNECTION
        || h == HttpHeader.KEEP_ALIVE || h == HttpHeader.TRANSFER_ENCODING
        || field.is("x-goog-api-key");
  }
}
