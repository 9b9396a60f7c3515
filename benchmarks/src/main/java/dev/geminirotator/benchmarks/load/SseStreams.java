package dev.geminirotator.benchmarks.load;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The client of {@code benchmarks/load/sse.sh}: opens {@code --streams} concurrent
 * {@code streamGenerateContent?alt=sse} POSTs to {@code --url} (at most {@code --ramp} new ones
 * per second), reads each to its end and checks it carried {@code --events} events. While every
 * stream is open (the plateau) it samples the proxy ({@code --proxy-pid}): threads, RSS, fds.
 * Prints {@code SSE_RESULT ...}; exits 1 when any stream failed or came back short.
 */
public final class SseStreams {

  private SseStreams() {
  }

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv, "url", "streams", "ramp", "events", "proxy-pid", "timeout-s",
        "protocol");
    String url = args.string("url", null);
    int streams = (int) args.number("streams", 10_000);
    long ramp = args.number("ramp", 1000);
    int events = (int) args.number("events", 30);
    long proxyPid = args.number("proxy-pid", 0);
    long timeoutS = args.number("timeout-s", events + 120);

    QueuedThreadPool threads = new QueuedThreadPool(32, 4);
    threads.setName("sse-client");
    String protocol = args.string("protocol", "http/1.1");
    if (!protocol.equals("http/1.1") && !protocol.equals("h2c")) {
      throw new IllegalArgumentException("--protocol must be http/1.1 or h2c, not " + protocol);
    }
    // h2c: HTTP/2 with prior knowledge, many streams per connection (one socket per stream
    // otherwise, on both sides of the proxy).
    HttpClient client = protocol.equals("h2c")
        ? new HttpClient(new org.eclipse.jetty.http2.client.transport.HttpClientTransportOverHTTP2(
            new org.eclipse.jetty.http2.client.HTTP2Client()))
        : new HttpClient();
    client.setExecutor(threads);
    client.setMaxConnectionsPerDestination(streams + 16);
    client.setMaxRequestsQueuedPerDestination(streams + 16);
    client.setIdleTimeout(TimeUnit.SECONDS.toMillis(timeoutS));
    client.setConnectTimeout(TimeUnit.SECONDS.toMillis(30));
    client.start();

    AtomicInteger open = new AtomicInteger();
    AtomicInteger opened = new AtomicInteger();
    AtomicInteger completed = new AtomicInteger();
    AtomicInteger errors = new AtomicInteger();
    AtomicLong eventsSeen = new AtomicLong();
    Map<String, LongAdder> errorKinds = new ConcurrentHashMap<>();
    CountDownLatch done = new CountDownLatch(streams);
    String body = "{\"contents\":[{\"parts\":[{\"text\":\"Count slowly to thirty.\"}]}]}";

    long start = System.nanoTime();
    Thread sampler = new Thread(() -> sample(start, streams, open, opened, completed, errors,
        proxyPid, done), "sampler");
    sampler.setDaemon(true);
    sampler.start();

    for (int i = 0; i < streams; i++) {
      long due = start + i * 1_000_000_000L / ramp;
      long wait = due - System.nanoTime();
      if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
      int[] newlines = new int[1];
      client.newRequest(url)
          .method(HttpMethod.POST)
          .body(new StringRequestContent("application/json", body))
          .timeout(timeoutS, TimeUnit.SECONDS)
          .onResponseHeaders(r -> {
            if (r.getStatus() == 200) {
              open.incrementAndGet();
              opened.incrementAndGet();
            }
          })
          .onResponseContent((r, buf) -> newlines[0] += countNewlines(buf))
          .send(result -> {
            int seen = newlines[0] / 2; // each event is one "data: {...}" line and a blank line
            eventsSeen.addAndGet(seen);
            if (result.getResponse() != null && result.getResponse().getStatus() == 200) {
              open.decrementAndGet();
            }
            String problem = null;
            if (result.isFailed()) {
              problem = result.getFailure().getClass().getSimpleName();
            } else if (result.getResponse().getStatus() != 200) {
              problem = "status " + result.getResponse().getStatus();
            } else if (seen != events) {
              problem = "short stream";
            }
            if (problem == null) {
              completed.incrementAndGet();
            } else {
              errors.incrementAndGet();
              errorKinds.computeIfAbsent(problem, k -> new LongAdder()).increment();
            }
            done.countDown();
          });
    }
    boolean finished = done.await(timeoutS + 60, TimeUnit.SECONDS);
    long seconds = (System.nanoTime() - start) / 1_000_000_000L;
    System.out.println("SSE_RESULT streams=" + streams + " opened=" + opened.get()
        + " completed=" + completed.get() + " errors=" + errors.get()
        + " unfinished=" + (finished ? 0 : done.getCount()) + " events=" + eventsSeen.get()
        + " seconds=" + seconds + " errorKinds=" + errorKinds);
    client.stop();
    System.exit(errors.get() == 0 && finished ? 0 : 1);
  }

  private static int countNewlines(ByteBuffer buf) {
    int n = 0;
    for (int i = buf.position(); i < buf.limit(); i++) {
      if (buf.get(i) == '\n') n++;
    }
    return n;
  }

  private static void sample(long start, int streams, AtomicInteger open, AtomicInteger opened,
      AtomicInteger completed, AtomicInteger errors, long proxyPid, CountDownLatch done) {
    int maxThreads = 0;
    long maxRss = 0;
    int maxFds = 0;
    int plateauSamples = 0;
    while (done.getCount() > 0) {
      try {
        Thread.sleep(2000);
      } catch (InterruptedException e) {
        return;
      }
      ProcStats proxy = ProcStats.read(proxyPid);
      boolean plateau = open.get() == streams;
      if (plateau && proxy != null) {
        plateauSamples++;
        maxThreads = Math.max(maxThreads, proxy.threads);
        maxRss = Math.max(maxRss, proxy.rssKb);
        maxFds = Math.max(maxFds, proxy.fds);
      }
      System.out.println("t=" + (System.nanoTime() - start) / 1_000_000_000L + "s open="
          + open.get() + " opened=" + opened.get() + " completed=" + completed.get()
          + " errors=" + errors.get() + (plateau ? " PLATEAU" : "")
          + (proxy != null ? " proxy: " + proxy : ""));
      if (plateauSamples > 0) {
        System.out.println("PLATEAU_MAX samples=" + plateauSamples + " proxyThreads="
            + maxThreads + " proxyRssMB=" + maxRss / 1024 + " proxyFds=" + maxFds);
      }
    }
  }
}
