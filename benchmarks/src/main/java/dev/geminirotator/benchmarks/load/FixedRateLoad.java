package dev.geminirotator.benchmarks.load;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import org.eclipse.jetty.client.HttpClient;
import org.eclipse.jetty.client.StringRequestContent;
import org.eclipse.jetty.http.HttpMethod;
import org.eclipse.jetty.util.thread.QueuedThreadPool;

/**
 * The open-model load generator of {@code benchmarks/load/soak.sh}: sends POST generateContent
 * requests to {@code --url} at a fixed {@code --rate} per second for {@code --duration-s}
 * seconds, whatever the response times (a request is due at {@code start + i / rate}, not after
 * the previous answer), and counts every answer by status. A request that fails (reset, timeout)
 * or has no answer {@code --timeout-s} after the end is lost. Every {@code --sample-s} seconds
 * it prints the proxy's ({@code --proxy-pid}) RSS, threads and fds. Prints
 * {@code LOAD_RESULT ...}; exits 1 when a request was lost.
 */
public final class FixedRateLoad {

  private FixedRateLoad() {
  }

  public static void main(String[] argv) throws Exception {
    Args args = new Args(argv, "url", "rate", "duration-s", "timeout-s", "proxy-pid",
        "sample-s", "connections");
    String url = args.string("url", null);
    long rate = args.number("rate", 500);
    long durationS = args.number("duration-s", 600);
    long timeoutS = args.number("timeout-s", 30);
    long proxyPid = args.number("proxy-pid", 0);
    long sampleS = args.number("sample-s", 30);
    int connections = (int) args.number("connections", 256);
    if (rate < 1 || durationS < 1) throw new IllegalArgumentException("rate and duration >= 1");

    QueuedThreadPool threads = new QueuedThreadPool(32, 4);
    threads.setName("load-client");
    HttpClient client = new HttpClient();
    client.setExecutor(threads);
    client.setMaxConnectionsPerDestination(connections);
    client.setMaxRequestsQueuedPerDestination((int) Math.min(1_000_000, rate * timeoutS * 2));
    client.setIdleTimeout(TimeUnit.SECONDS.toMillis(60));
    client.start();

    String body = "{\"contents\":[{\"parts\":[{\"text\":\"Say hello.\"}]}]}";
    Map<Integer, LongAdder> byStatus = new ConcurrentHashMap<>();
    Map<String, LongAdder> failures = new ConcurrentHashMap<>();
    LongAdder answered = new LongAdder();
    AtomicLong sent = new AtomicLong();
    long total = rate * durationS;
    long start = System.nanoTime();
    long nextSample = start + TimeUnit.SECONDS.toNanos(sampleS);
    long maxBehindMs = 0;
    System.out.println("t=0s " + ProcStats.read(proxyPid));
    for (long i = 0; i < total; i++) {
      long due = start + i * 1_000_000_000L / rate;
      long now = System.nanoTime();
      if (due > now) {
        TimeUnit.NANOSECONDS.sleep(due - now);
      } else {
        maxBehindMs = Math.max(maxBehindMs, (now - due) / 1_000_000);
      }
      if (now >= nextSample) {
        nextSample += TimeUnit.SECONDS.toNanos(sampleS);
        System.out.println("t=" + (now - start) / 1_000_000_000L + "s sent=" + sent.get()
            + " answered=" + answered.sum() + " " + ProcStats.read(proxyPid));
      }
      sent.incrementAndGet();
      client.newRequest(url)
          .method(HttpMethod.POST)
          .body(new StringRequestContent("application/json", body))
          .timeout(timeoutS, TimeUnit.SECONDS)
          .send(result -> {
            if (result.isFailed()) {
              failures.computeIfAbsent(result.getFailure().getClass().getSimpleName(),
                  k -> new LongAdder()).increment();
            } else {
              byStatus.computeIfAbsent(result.getResponse().getStatus(), k -> new LongAdder())
                  .increment();
            }
            answered.increment();
          });
    }
    long sendSeconds = (System.nanoTime() - start) / 1_000_000L;
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutS + 5);
    while (answered.sum() < sent.get() && System.nanoTime() < deadline) Thread.sleep(50);
    long failed = failures.values().stream().mapToLong(LongAdder::sum).sum();
    long unanswered = sent.get() - answered.sum();
    long lost = failed + unanswered;
    StringBuilder statuses = new StringBuilder();
    new TreeMap<>(byStatus).forEach((s, n) -> statuses.append(" status_").append(s).append('=')
        .append(n.sum()));
    System.out.println("LOAD_RESULT sent=" + sent.get() + statuses + " lost=" + lost
        + " failures=" + failures + " unanswered=" + unanswered
        + " achievedRate=" + sent.get() * 1000 / Math.max(1, sendSeconds)
        + " maxBehindMs=" + maxBehindMs);
    client.stop();
    System.exit(lost == 0 ? 0 : 1);
  }
}
