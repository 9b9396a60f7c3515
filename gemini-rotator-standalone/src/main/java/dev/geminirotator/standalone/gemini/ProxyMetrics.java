package dev.geminirotator.standalone.gemini;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * The proxy's own meters: requests by route, method, status and model (with a duration
 * histogram), upstream latency, requests in flight and retries by reason. No label ever carries a
 * secret. Thread-safe.
 *
 * <p>Clients choose much of what a request looks like, so every label is bounded and so is the
 * number of series, whatever they send:
 * <ul>
 *   <li>{@code route} and {@code method} come from fixed sets; anything else is {@code other}.
 *   <li>{@code status} is exact for the statuses Gemini and the proxy answer
 *       ({@link #EXACT_STATUSES}) and its class ({@code 2xx}, {@code 4xx}, ...) otherwise.
 *   <li>{@code model} is the model of the request once the upstream has answered a request for
 *       that model with a 2xx ({@link #modelServed}), for at most {@value #MAX_MODELS} distinct
 *       sane names; every other model counts as {@code other}. A name a client invents is
 *       answered 404 by Gemini and so never takes one of the slots, however many a client sends
 *       (admitting the first names seen would let them squat every slot after each restart, and
 *       the real models would show as {@code other}).
 *   <li>Each timer holds at most {@value #MAX_REQUEST_SERIES} (requests) or
 *       {@value #MAX_UPSTREAM_SERIES} (upstream latency) label combinations. A combination first
 *       seen past the cap is counted in an overflow series that keeps its route and status class
 *       and sets every other label to {@code other}, so every request is still counted exactly
 *       once and totals by route and status class stay right.
 * </ul>
 *
 * <p>Histograms have the few fixed buckets of {@link #BUCKETS} (not Micrometer's ~70 percentile
 * buckets per series), which keeps a scrape small.
 *
 * <p>The caps are applied here, before a meter is registered, rather than by a {@code MeterFilter}
 * that renames tags: the registry remembers every id it was asked for before its filters ran, so
 * a filter would bound the series but not the memory an attacker can make it hold.
 */
public final class ProxyMetrics {

  public static final int MAX_MODELS = 100;
  public static final int MAX_REQUEST_SERIES = 200;
  public static final int MAX_UPSTREAM_SERIES = 100;
  public static final String OTHER = "other";

  /** Statuses labelled exactly; others are labelled by class. */
  public static final Set<Integer> EXACT_STATUSES = Set.of(200, 204, 206, 304, 400, 401, 403, 404, 405,
      408, 409, 413, 429, 499, 500, 502, 503, 504);

  /** The duration histogram's bucket bounds: proxy-made answers up to long generations. */
  public static final Duration[] BUCKETS = {
      Duration.ofMillis(5), Duration.ofMillis(25), Duration.ofMillis(100), Duration.ofMillis(250),
      Duration.ofMillis(500), Duration.ofSeconds(1), Duration.ofMillis(2500), Duration.ofSeconds(5),
      Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(60)};

  private static final Set<String> ROUTES = Set.of("openai", "upload", "stream", "generate",
      "count-tokens", "embed", "files", "cached-contents", "models", OTHER);
  private static final Pattern SANE_MODEL = Pattern.compile("[A-Za-z0-9._-]{1,64}");

  private final MeterRegistry registry;
  private final AtomicInteger inFlight = new AtomicInteger();
  private final Set<String> models = ConcurrentHashMap.newKeySet();
  private final AtomicInteger modelCount = new AtomicInteger();
  private final Capped<RequestKey> requests;
  private final Capped<UpstreamKey> upstream;
  private final Map<String, Counter> retries = new ConcurrentHashMap<>();
  private final Map<String, Counter> rejections = new ConcurrentHashMap<>();

  private record RequestKey(String route, String method, String status, String model) {
  }

  private record UpstreamKey(String route, String status) {
  }

  public ProxyMetrics(MeterRegistry registry) {
    this.registry = registry;
    registry.gauge("gemini.proxy.requests.inflight", inFlight);
    this.requests = new Capped<>(MAX_REQUEST_SERIES,
        k -> new RequestKey(k.route(), OTHER, statusClass(k.status()), OTHER),
        k -> Timer.builder("gemini.proxy.requests")
            .description("Requests the proxy answered")
            .tag("route", k.route())
            .tag("method", k.method())
            .tag("status", k.status())
            .tag("model", k.model())
            .serviceLevelObjectives(BUCKETS)
            .register(registry));
    this.upstream = new Capped<>(MAX_UPSTREAM_SERIES,
        k -> new UpstreamKey(k.route(), statusClass(k.status())),
        k -> Timer.builder("gemini.proxy.upstream.latency")
            .description("Time from sending a request upstream to its response headers")
            .tag("route", k.route())
            .tag("status", k.status())
            .serviceLevelObjectives(BUCKETS)
            .register(registry));
  }

  public void requestStarted() {
    inFlight.incrementAndGet();
  }

  public void requestFinished(String route, String method, int status, String model, long startNanos) {
    inFlight.decrementAndGet();
    long elapsed = System.nanoTime() - startNanos;
    requests.get(new RequestKey(routeLabel(route), methodLabel(method), statusLabel(status),
            modelLabel(model)))
        .record(elapsed, TimeUnit.NANOSECONDS);
  }

  public void upstream(String route, int status, long startNanos) {
    long elapsed = System.nanoTime() - startNanos;
    upstream.get(new UpstreamKey(routeLabel(route), status <= 0 ? "none" : statusLabel(status)))
        .record(elapsed, TimeUnit.NANOSECONDS);
  }

  public void retry(String reason) {
    retries.computeIfAbsent(reason, r -> Counter.builder("gemini.proxy.retries")
        .description("Attempts retried on another key, by the outcome that caused them")
        .tag("reason", r)
        .register(registry))
        .increment();
  }

  /** The operator log lines for the same refusals, rate-limited per kind. */
  public final RefusalLog refusals = new RefusalLog();

  public void rejected(String reason) {
    rejections.computeIfAbsent(reason, r -> Counter.builder("gemini.proxy.rejected")
        .description("Requests the proxy refused itself")
        .tag("reason", r)
        .register(registry))
        .increment();
  }

  public int inFlight() {
    return inFlight.get();
  }

  /**
   * Every status's label, made once: a request's label is an array read, not a boxed set lookup
   * and a new {@code String} (whose hash the timer lookup then computed afresh) per request.
   */
  private static final String[] STATUS_LABELS = new String[600];

  static {
    for (int s = 0; s < STATUS_LABELS.length; s++) {
      STATUS_LABELS[s] = EXACT_STATUSES.contains(s) ? Integer.toString(s) : statusClass(s);
    }
  }

  /** The status label: exact for {@link #EXACT_STATUSES}, else the class. */
  public static String statusLabel(int status) {
    return status >= 0 && status < STATUS_LABELS.length ? STATUS_LABELS[status]
        : statusClass(status);
  }

  /** {@code 1xx} to {@code 5xx}, {@code none} for no status, else {@code other}. */
  public static String statusClass(int status) {
    return status >= 100 && status <= 599 ? (status / 100) + "xx" : OTHER;
  }

  /** The class of an exact or class label; {@code none} stays {@code none}. */
  private static String statusClass(String label) {
    if (label.equals("none") || label.equals(OTHER) || label.endsWith("xx")) return label;
    return statusClass(Integer.parseInt(label));
  }

  private static String routeLabel(String route) {
    return ROUTES.contains(route) ? route : OTHER;
  }

  private static String methodLabel(String method) {
    return GeminiProxy.METHODS.contains(method) ? method : OTHER;
  }

  /**
   * The upstream answered a request for {@code model} with a 2xx: the model exists, so it may
   * have a label of its own, while slots remain. Called before that request is recorded.
   */
  public void modelServed(String model) {
    if (model == null || model.equals("*") || models.contains(model)) return;
    if (!SANE_MODEL.matcher(model).matches()) return;
    if (modelCount.incrementAndGet() > MAX_MODELS) {
      modelCount.decrementAndGet();
      return;
    }
    if (!models.add(model)) modelCount.decrementAndGet(); // raced with the same name
  }

  private String modelLabel(String model) {
    if (model == null || model.equals("*")) return "none";
    return models.contains(model) ? model : OTHER; // only served, sane names get in
  }

  /**
   * Timers by label values, at most {@code cap} of them plus the overflow series; the lookup a
   * request makes is one map read. Thread-safe.
   */
  private static final class Capped<K> {
    private final int cap;
    private final Function<K, K> overflow;
    private final Function<K, Timer> create;
    private final Map<K, Timer> timers = new ConcurrentHashMap<>();
    private final AtomicInteger count = new AtomicInteger();

    Capped(int cap, Function<K, K> overflow, Function<K, Timer> create) {
      this.cap = cap;
      this.overflow = overflow;
      this.create = create;
    }

    Timer get(K key) {
      Timer timer = timers.get(key);
      if (timer != null) return timer;
      timer = timers.computeIfAbsent(key, k -> {
        if (count.incrementAndGet() > cap) {
          count.decrementAndGet();
          return null; // not mapped: counted in the overflow series below
        }
        return create.apply(k);
      });
      if (timer != null) return timer;
      // Overflow series are bounded by their few label values (route x status class).
      return timers.computeIfAbsent(overflow.apply(key), create);
    }
  }
}
