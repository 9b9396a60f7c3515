package dev.geminirotator.benchmarks.load;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * A slow fake Gemini for {@code benchmarks/load/sse.sh}: answers every request with a
 * {@code text/event-stream} of {@code --events} Gemini-shaped events, one every
 * {@code --interval-ms}, written asynchronously (no thread is held between events), so one small
 * process can hold 10,000 streams. Binds 127.0.0.1 on {@code --port} (0: a free port) and prints
 * {@code READY port=N}; then a status line every 5 s. Runs until killed.
 */
public final class SlowSseUpstream {

  private SlowSseUpstream() {
  }

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv, "port", "events", "interval-ms");
    int events = (int) args.number("events", 30);
    long intervalMs = args.number("interval-ms", 1000);
    ScheduledExecutorService timer = Executors.newScheduledThreadPool(2);
    AtomicInteger active = new AtomicInteger();
    AtomicLong started = new AtomicLong();
    AtomicLong finished = new AtomicLong();
    AtomicLong failed = new AtomicLong();

    QueuedThreadPool threads = new QueuedThreadPool(64, 4);
    threads.setName("sse-upstream");
    Server server = new Server(threads);
    ServerConnector connector = new ServerConnector(server, 1, 1);
    connector.setHost("127.0.0.1");
    connector.setPort((int) args.number("port", 0));
    connector.setAcceptQueueSize(4096);
    connector.setIdleTimeout(TimeUnit.MINUTES.toMillis(5));
    server.addConnector(connector);
    server.setHandler(new Handler.Abstract.NonBlocking() {
      @Override
      public boolean handle(Request request, Response response, Callback callback) {
        response.setStatus(200);
        response.getHeaders().put(HttpHeader.CONTENT_TYPE, "text/event-stream");
        response.getHeaders().put(HttpHeader.CACHE_CONTROL, "no-cache");
        active.incrementAndGet();
        started.incrementAndGet();
        new Stream(response, callback, events, intervalMs, timer, () -> {
          active.decrementAndGet();
          finished.incrementAndGet();
        }, () -> {
          active.decrementAndGet();
          failed.incrementAndGet();
        }).next();
        return true;
      }
    });
    server.start();
    System.out.println("READY port=" + connector.getLocalPort());
    System.out.flush();
    timer.scheduleAtFixedRate(() -> System.out.println("upstream active=" + active.get()
        + " started=" + started.get() + " finished=" + finished.get() + " failed="
        + failed.get()), 5, 5, TimeUnit.SECONDS);
    server.join();
  }

  /** One response: writes event i, and when the write completes schedules event i + 1. */
  private static final class Stream implements Callback {
    private final Response response;
    private final Callback done;
    private final int events;
    private final long intervalMs;
    private final ScheduledExecutorService timer;
    private final Runnable onFinished;
    private final Runnable onFailed;
    private int sent;

    Stream(Response response, Callback done, int events, long intervalMs,
        ScheduledExecutorService timer, Runnable onFinished, Runnable onFailed) {
      this.response = response;
      this.done = done;
      this.events = events;
      this.intervalMs = intervalMs;
      this.timer = timer;
      this.onFinished = onFinished;
      this.onFailed = onFailed;
    }

    void next() {
      int i = ++sent;
      String event = "data: {\"candidates\": [{\"content\": {\"parts\": [{\"text\": \"event " + i
          + " of " + events + "\"}],\"role\": \"model\"},\"index\": 0}],"
          + "\"modelVersion\": \"gemini-2.5-flash\"}\n\n";
      response.write(i >= events, ByteBuffer.wrap(event.getBytes(StandardCharsets.UTF_8)), this);
    }

    @Override
    public void succeeded() {
      if (sent >= events) {
        onFinished.run();
        done.succeeded();
      } else {
        timer.schedule(this::next, intervalMs, TimeUnit.MILLISECONDS);
      }
    }

    @Override
    public void failed(Throwable x) {
      onFailed.run();
      done.failed(x);
    }
  }
}
