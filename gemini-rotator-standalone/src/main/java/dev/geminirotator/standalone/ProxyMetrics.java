package dev.geminirotator.standalone;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Pattern;

/**
 * The proxy's own meters: requests by route, method, status and model (with a duration
 * histogram), upstream latency, requests in flight and retries by reason. Model names come from
 * request paths, so only sane names are used as labels and at most {@value #MAX_MODELS} distinct
 * ones; the rest count as {@code other}. No label ever carries a secret. Thread-safe.
 */
final class ProxyMetrics {

  static final int MAX_MODELS = 100;
  private static final Pattern SANE_MODEL = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private final MeterRegistry registry;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final Set<String> models = ConcurrentHashMap.newKeySet();

  ProxyMetrics(MeterRegistry registry) {
    this.registry = registry;
    registry.gauge("gemini.proxy.requests.inflight", inFlight);
  }

  void requestStarted() {
    inFlight.incrementAndGet();
  }

  void requestFinished(String route, String method, int status, String model, long startNanos) {
    inFlight.decrementAndGet();
    Timer.builder("gemini.proxy.requests")
        .description("Requests the proxy answered")
        .tag("route", route)
        .tag("method", method)
        .tag("status", Integer.toString(status))
        .tag("model", modelLabel(model))
        .publishPercentileHistogram()
        .register(registry)
        .record(Duration.ofNanos(System.nanoTime() - startNanos));
  }

  void upstream(String route, int status, long startNanos) {
    Timer.builder("gemini.proxy.upstream.latency")
        .description("Time from sending a request upstream to its response headers")
        .tag("route", route)
        .tag("status", status <= 0 ? "none" : Integer.toString(status))
        .publishPercentileHistogram()
        .register(registry)
        .record(Duration.ofNanos(System.nanoTime() - startNanos));
  }

  void retry(String reason) {
    Counter.builder("gemini.proxy.retries")
        .description("Attempts retried on another key, by the outcome that caused them")
        .tag("reason", reason)
        .register(registry)
        .increment();
  }

  void rejected(String reason) {
    Counter.builder("gemini.proxy.rejected")
        .description("Requests the proxy refused itself")
        .tag("reason", reason)
        .register(registry)
        .increment();
  }

  int inFlight() {
    return inFlight.get();
  }

  private String modelLabel(String model) {
    if (model == null || model.equals("*")) return "none";
    if (!SANE_MODEL.matcher(model).matches()) return "other";
    if (models.contains(model)) return model;
    if (models.size() >= MAX_MODELS) return "other";
    models.add(model);
    return model;
  }
}
