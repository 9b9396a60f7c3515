package dev.geminirotator.standalone;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
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
  // Meters by label values, so that a request looks its meters up in one map instead of building
  // a Meter.Id (and hashing its tags) in the registry every time. As bounded as the labels are:
  // the registry holds one meter per combination anyway.
  private final Map<RequestKey, Timer> requests = new ConcurrentHashMap<>();
  private final Map<UpstreamKey, Timer> upstream = new ConcurrentHashMap<>();
  private final Map<String, Counter> retries = new ConcurrentHashMap<>();
  private final Map<String, Counter> rejections = new ConcurrentHashMap<>();

  private record RequestKey(String route, String method, int status, String model) {
  }

  private record UpstreamKey(String route, int status) {
  }

  ProxyMetrics(MeterRegistry registry) {
    this.registry = registry;
    registry.gauge("gemini.proxy.requests.inflight", inFlight);
  }

  void requestStarted() {
    inFlight.incrementAndGet();
  }

  void requestFinished(String route, String method, int status, String model, long startNanos) {
    inFlight.decrementAndGet();
    long elapsed = System.nanoTime() - startNanos;
    requests.computeIfAbsent(new RequestKey(route, method, status, modelLabel(model)),
        k -> Timer.builder("gemini.proxy.requests")
            .description("Requests the proxy answered")
            .tag("route", k.route())
            .tag("method", k.method())
            .tag("status", Integer.toString(k.status()))
            .tag("model", k.model())
            .publishPercentileHistogram()
            .register(registry))
        .record(elapsed, TimeUnit.NANOSECONDS);
  }

  void upstream(String route, int status, long startNanos) {
    long elapsed = System.nanoTime() - startNanos;
    upstream.computeIfAbsent(new UpstreamKey(route, status), k ->
        Timer.builder("gemini.proxy.upstream.latency")
            .description("Time from sending a request upstream to its response headers")
            .tag("route", k.route())
            .tag("status", k.status() <= 0 ? "none" : Integer.toString(k.status()))
            .publishPercentileHistogram()
            .register(registry))
        .record(elapsed, TimeUnit.NANOSECONDS);
  }

  void retry(String reason) {
    retries.computeIfAbsent(reason, r -> Counter.builder("gemini.proxy.retries")
        .description("Attempts retried on another key, by the outcome that caused them")
        .tag("reason", r)
        .register(registry))
        .increment();
  }

  void rejected(String reason) {
    rejections.computeIfAbsent(reason, r -> Counter.builder("gemini.proxy.rejected")
        .description("Requests the proxy refused itself")
        .tag("reason", r)
        .register(registry))
        .increment();
  }

  int inFlight() {
    return inFlight.get();
  }

  private String modelLabel(String model) {
    if (model == null || model.equals("*")) return "none";
    if (models.contains(model)) return model; // only sane names get in
    if (!SANE_MODEL.matcher(model).matches()) return "other";
    if (models.size() >= MAX_MODELS) return "other";
    models.add(model);
    return model;
  }
}
