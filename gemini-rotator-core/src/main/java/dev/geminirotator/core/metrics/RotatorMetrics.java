package dev.geminirotator.core.metrics;

import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeyRotator;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.RotatorStats;
import dev.geminirotator.api.Subscription;
import dev.geminirotator.api.event.CooldownStarted;
import dev.geminirotator.api.event.KeyAdded;
import dev.geminirotator.api.event.KeyRemoved;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.api.event.StateTransition;
import dev.geminirotator.core.guard.BreakerTransition;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.internal.Checks;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tag;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.binder.MeterBinder;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.ToDoubleFunction;

/**
 * Publishes a {@link KeyRotator} (and optionally a {@link CircuitGuard}) to Micrometer, using only
 * their public API. Meter names use dots; Prometheus renders {@code gemini.rotator.keys} as
 * {@code gemini_rotator_keys} and counters with a {@code _total} suffix.
 *
 * <table>
 *   <caption>Meters</caption>
 *   <tr><th>name</th><th>type</th><th>tags</th><th>what</th></tr>
 *   <tr><td>{@code gemini.rotator.keys}</td><td>gauge</td><td>{@code state}</td>
 *       <td>keys in each state: healthy, rate_limited, unhealthy, invalid, disabled</td></tr>
 *   <tr><td>{@code gemini.rotator.key.health}</td><td>gauge</td><td>{@code key}</td>
 *       <td>each key's health score, 0 to 1, by key id (never the secret); optional</td></tr>
 *   <tr><td>{@code gemini.rotator.acquisitions}</td><td>counter</td><td></td>
 *       <td>leases handed out</td></tr>
 *   <tr><td>{@code gemini.rotator.no.key.available}</td><td>counter</td><td></td>
 *       <td>acquisitions refused because no key could serve</td></tr>
 *   <tr><td>{@code gemini.rotator.outcomes}</td><td>counter</td><td>{@code outcome}</td>
 *       <td>completed leases by outcome: success, rate_limited, key_rejected, client_error,
 *       upstream_error, transport_error, cancelled</td></tr>
 *   <tr><td>{@code gemini.rotator.cooldowns}</td><td>counter</td><td></td>
 *       <td>rate-limit cooldowns started</td></tr>
 *   <tr><td>{@code gemini.rotator.trials}</td><td>counter</td><td></td>
 *       <td>half-open trial leases of unhealthy keys</td></tr>
 *   <tr><td>{@code gemini.rotator.state.transitions}</td><td>counter</td>
 *       <td>{@code from}, {@code to}</td><td>key state changes</td></tr>
 *   <tr><td>{@code gemini.rotator.breaker.state}</td><td>gauge</td><td>{@code scope}</td>
 *       <td>0 closed, 1 half-open, 2 open; only with a guard</td></tr>
 *   <tr><td>{@code gemini.rotator.breaker.transitions}</td><td>counter</td>
 *       <td>{@code scope}, {@code from}, {@code to}</td><td>breaker state changes; only with a
 *       {@link ResilientCircuitGuard}</td></tr>
 * </table>
 *
 * <p>A scrape reads the pool once: the key counts and health scores come from one
 * {@link KeyRotator#snapshot()} kept for {@link Builder#cacheFor(Duration) cacheFor} (1 second by
 * default) and dropped early when the rotator reports a state change, a cooldown, or a key added
 * or removed; the counters read one {@link KeyRotator#stats()} kept as long. Per-key gauges follow
 * keys added and removed at run time; turn them off for very large pools with
 * {@link Builder#perKeyMeters(boolean)}. Breaker gauges are registered for the scopes given; with a
 * {@link ResilientCircuitGuard}, a scope whose breaker changes state gets one too, up to
 * {@link Builder#maxBreakerScopes(int) maxBreakerScopes} scopes in all
 * ({@value #DEFAULT_MAX_BREAKER_SCOPES} by default): per-model breakers are named after models
 * that clients choose, so past that cap a scope gets no gauge and its transitions are counted under
 * scope {@code other} (still counted once each).
 *
 * <p>May be bound to several registries. {@link #close()} stops following the rotator and removes
 * every meter this binder registered. Thread-safe.
 */
public final class RotatorMetrics implements MeterBinder, AutoCloseable {

  /** How long a snapshot or stats reading serves scrapes unless told otherwise. */
  public static final Duration DEFAULT_CACHE_FOR = Duration.ofSeconds(1);

  /** How many breaker scopes get their own gauge and transition counters unless told otherwise. */
  public static final int DEFAULT_MAX_BREAKER_SCOPES = 50;

  /** The scope label of breaker transitions past {@link Builder#maxBreakerScopes(int)}. */
  public static final String OTHER_SCOPE = "other";

  static final String KEYS = "gemini.rotator.keys";
  static final String KEY_HEALTH = "gemini.rotator.key.health";
  static final String ACQUISITIONS = "gemini.rotator.acquisitions";
  static final String NO_KEY_AVAILABLE = "gemini.rotator.no.key.available";
  static final String OUTCOMES = "gemini.rotator.outcomes";
  static final String COOLDOWNS = "gemini.rotator.cooldowns";
  static final String TRIALS = "gemini.rotator.trials";
  static final String STATE_TRANSITIONS = "gemini.rotator.state.transitions";
  static final String BREAKER_STATE = "gemini.rotator.breaker.state";
  static final String BREAKER_TRANSITIONS = "gemini.rotator.breaker.transitions";

  private static final int STATES = KeyState.values().length;

  private final KeyRotator rotator;
  private final CircuitGuard guard;
  private final List<String> scopes;
  private final boolean perKeyMeters;
  private final int maxBreakerScopes;
  private final long cacheMillis;
  private final Clock clock;
  private final Tags tags;

  private final CopyOnWriteArrayList<Binding> bindings = new CopyOnWriteArrayList<>();
  private final Object lifecycle = new Object();
  private Subscription rotatorSubscription;
  private Subscription guardSubscription;
  private boolean closed;

  /** Bumped by every rotator event that changes what a snapshot shows. */
  private final AtomicLong generation = new AtomicLong();
  private volatile PoolView poolView;
  private volatile StatsView statsView;

  private RotatorMetrics(Builder b) {
    this.rotator = b.rotator;
    this.guard = b.guard;
    this.scopes = List.copyOf(b.scopes);
    this.perKeyMeters = b.perKeyMeters;
    this.maxBreakerScopes = b.maxBreakerScopes;
    this.cacheMillis = b.cacheFor.toMillis();
    this.clock = b.clock;
    this.tags = b.tags;
  }

  /** Metrics for this rotator with the defaults: per-key meters on, no guard. */
  public static RotatorMetrics of(KeyRotator rotator) {
    return builder(rotator).build();
  }

  /** Starts a builder for this rotator. */
  public static Builder builder(KeyRotator rotator) {
    return new Builder(rotator);
  }

  @Override
  public void bindTo(MeterRegistry registry) {
    Objects.requireNonNull(registry, "registry");
    Binding binding;
    synchronized (lifecycle) {
      if (closed) {
        throw new IllegalStateException("these rotator metrics are closed; build new ones");
      }
      for (Binding existing : bindings) {
        if (existing.registry == registry) return;
      }
      if (rotatorSubscription == null) {
        rotatorSubscription = rotator.addListener(new Follower());
        if (guard instanceof ResilientCircuitGuard resilient) {
          guardSubscription = resilient.addListener(this::onBreakerTransition);
        }
      }
      binding = new Binding(registry);
      bindings.add(binding);
    }
    binding.registerAll();
  }

  /**
   * Stops following the rotator and guard and removes every meter this binder registered from
   * every registry it was bound to. Idempotent.
   */
  @Override
  public void close() {
    List<Binding> toClose;
    synchronized (lifecycle) {
      if (closed) return;
      closed = true;
      if (rotatorSubscription != null) rotatorSubscription.close();
      if (guardSubscription != null) guardSubscription.close();
      toClose = new ArrayList<>(bindings);
      bindings.clear();
    }
    toClose.forEach(Binding::removeAll);
  }

  // ---------------------------------------------------------------------------------------------
  // Cached readings

  private boolean fresh(long at, long now) {
    return now >= at && now - at < cacheMillis;
  }

  PoolView pool() {
    long now = clock.millis();
    long gen = generation.get();
    PoolView view = poolView;
    if (view != null && view.generation == gen && fresh(view.at, now)) return view;
    synchronized (this) {
      view = poolView;
      gen = generation.get();
      if (view != null && view.generation == gen && fresh(view.at, now)) return view;
      view = PoolView.of(rotator.snapshot(), perKeyMeters, gen, now);
      poolView = view;
      return view;
    }
  }

  RotatorStats stats() {
    long now = clock.millis();
    StatsView view = statsView;
    if (view != null && fresh(view.at, now)) return view.stats;
    RotatorStats stats = rotator.stats();
    statsView = new StatsView(stats, now);
    return stats;
  }

  private void invalidate() {
    generation.incrementAndGet();
  }

  /** Key counts by state and health by key id, from one snapshot. */
  record PoolView(int[] counts, Map<String, Double> health, long generation, long at) {
    static PoolView of(List<KeySnapshot> snapshot, boolean withHealth, long generation, long at) {
      int[] counts = new int[STATES];
      Map<String, Double> health = withHealth ? new HashMap<>(snapshot.size() * 2) : Map.of();
      for (KeySnapshot key : snapshot) {
        counts[key.state().ordinal()]++;
        if (withHealth) health.put(key.id(), key.health());
      }
      return new PoolView(counts, health, generation, at);
    }
  }

  private record StatsView(RotatorStats stats, long at) {
  }

  // ---------------------------------------------------------------------------------------------
  // Events

  /** The one rotator listener: drops the cached snapshot and tells each binding. */
  private final class Follower implements RotatorListener {
    @Override
    public void onStateTransition(StateTransition event) {
      invalidate();
      for (Binding binding : bindings) binding.countTransition(event.from(), event.to());
    }

    @Override
    public void onCooldown(CooldownStarted event) {
      invalidate();
    }

    @Override
    public void onKeyAdded(KeyAdded event) {
      invalidate();
      for (Binding binding : bindings) binding.followKey(event.keyId());
    }

    @Override
    public void onKeyRemoved(KeyRemoved event) {
      invalidate();
      for (Binding binding : bindings) binding.followKey(event.keyId());
    }
  }

  private void onBreakerTransition(BreakerTransition transition) {
    for (Binding binding : bindings) {
      binding.breakerGauge(transition.scope());
      binding.countBreakerTransition(transition);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // One registry

  private final class Binding {
    final MeterRegistry registry;
    /** Meters other than per-key gauges, for close. Guarded by this. */
    private final List<Meter> meters = new ArrayList<>();
    /** Per-key health gauges by key id. Guarded by this. */
    private final Map<String, Meter> keyGauges = new HashMap<>();
    /** Scopes with a breaker gauge. Guarded by this. */
    private final Set<String> breakerScopes = new HashSet<>();
    /** Breaker transition counters by scope, from and to. Guarded by this. */
    private final Map<List<Object>, Counter> breakerTransitions = new HashMap<>();
    private final AtomicReferenceArray<Counter> transitions =
        new AtomicReferenceArray<>(STATES * STATES);
    private boolean removed;

    Binding(MeterRegistry registry) {
      this.registry = registry;
    }

    void registerAll() {
      for (KeyState state : KeyState.values()) {
        int ordinal = state.ordinal();
        add(Gauge.builder(KEYS, rotator, r -> pool().counts()[ordinal])
            .tags(tags).tag("state", lower(state))
            .description("Keys in the pool by state")
            .baseUnit("keys")
            .register(registry));
      }
      counter(ACQUISITIONS, "Keys leased for an attempt", s -> s.acquisitions(), null);
      counter(NO_KEY_AVAILABLE, "Acquisitions refused because no key could serve",
          s -> s.noKeyAvailable(), null);
      for (Outcome.Kind kind : Outcome.Kind.values()) {
        counter(OUTCOMES, "Completed attempts by outcome",
            s -> s.outcomes().getOrDefault(kind, 0L), Tag.of("outcome", lower(kind)));
      }
      counter(COOLDOWNS, "Rate-limit cooldowns started (per project and model)",
          s -> s.cooldowns(), null);
      counter(TRIALS, "Trial attempts given to unhealthy keys", s -> s.trials(), null);
      if (guard != null) {
        synchronized (this) {
          for (String scope : scopes) registerBreakerGauge(scope); // asked for: never capped
        }
      }
      if (perKeyMeters) {
        synchronized (this) {
          // Under the lock, so a key added or removed meanwhile is settled by its event after us.
          for (KeySnapshot key : rotator.snapshot()) {
            if (!removed) keyGauges.computeIfAbsent(key.id(), this::healthGauge);
          }
        }
      }
    }

    private void counter(String name, String description, ToDoubleFunction<RotatorStats> value,
        Tag tag) {
      FunctionCounter.Builder<KeyRotator> builder =
          FunctionCounter.builder(name, rotator, r -> value.applyAsDouble(stats()))
              .tags(tags).description(description);
      if (tag != null) builder.tags(List.of(tag));
      add(builder.register(registry));
    }

    private Meter healthGauge(String keyId) {
      return Gauge.builder(KEY_HEALTH, rotator,
              r -> pool().health().getOrDefault(keyId, Double.NaN))
          .tags(tags).tag("key", keyId)
          .description("Health score of a key, 0 to 1")
          .register(registry);
    }

    /** Adds or removes a key's gauge after an add or remove, by what the pool holds now. */
    synchronized void followKey(String keyId) {
      if (!perKeyMeters || removed) return;
      if (rotator.snapshot(keyId).isPresent()) {
        keyGauges.computeIfAbsent(keyId, this::healthGauge);
      } else {
        Meter meter = keyGauges.remove(keyId);
        if (meter != null) registry.remove(meter);
      }
    }

    /** A gauge for a scope learned from a transition, while under the cap. */
    synchronized void breakerGauge(String scope) {
      if (guard == null || removed || breakerScopes.contains(scope)
          || breakerScopes.size() >= maxBreakerScopes) {
        return;
      }
      registerBreakerGauge(scope);
    }

    /** Registers a scope's gauge once. Guarded by this. */
    private void registerBreakerGauge(String scope) {
      if (removed || !breakerScopes.add(scope)) return;
      meters.add(Gauge.builder(BREAKER_STATE, guard, g -> code(g.state(scope)))
          .tags(tags).tag("scope", scope)
          .description("Circuit breaker state: 0 closed, 1 half-open, 2 open")
          .register(registry));
    }

    void countBreakerTransition(BreakerTransition t) {
      Counter counter;
      synchronized (this) {
        if (removed) return;
        String scope = breakerScopes.contains(t.scope()) ? t.scope() : OTHER_SCOPE;
        counter = breakerTransitions.computeIfAbsent(List.of(scope, t.from(), t.to()), k -> {
          Counter c = Counter.builder(BREAKER_TRANSITIONS)
              .tags(tags).tag("scope", scope).tag("from", lower(t.from()))
              .tag("to", lower(t.to()))
              .description("Circuit breaker state changes")
              .register(registry);
          meters.add(c);
          return c;
        });
      }
      counter.increment();
    }

    void countTransition(KeyState from, KeyState to) {
      int index = from.ordinal() * STATES + to.ordinal();
      Counter counter = transitions.get(index);
      if (counter == null) {
        synchronized (this) {
          if (removed) return;
          counter = transitions.get(index);
          if (counter == null) {
            counter = Counter.builder(STATE_TRANSITIONS)
                .tags(tags).tag("from", lower(from)).tag("to", lower(to))
                .description("Key state changes")
                .register(registry);
            meters.add(counter);
            transitions.set(index, counter);
          }
        }
      }
      counter.increment();
    }

    private synchronized void add(Meter meter) {
      if (removed) {
        registry.remove(meter); // closed while registering
      } else {
        meters.add(meter);
      }
    }

    synchronized void removeAll() {
      removed = true;
      meters.forEach(registry::remove);
      keyGauges.values().forEach(registry::remove);
      meters.clear();
      keyGauges.clear();
    }
  }

  static String lower(Enum<?> value) {
    return value.name().toLowerCase(Locale.ROOT);
  }

  static double code(CircuitGuard.State state) {
    return switch (state) {
      case CLOSED -> 0;
      case HALF_OPEN -> 1;
      case OPEN -> 2;
    };
  }

  /** Builds {@link RotatorMetrics}. Not thread-safe. */
  public static final class Builder {
    private final KeyRotator rotator;
    private CircuitGuard guard;
    private final Set<String> scopes = new LinkedHashSet<>();
    private boolean perKeyMeters = true;
    private int maxBreakerScopes = DEFAULT_MAX_BREAKER_SCOPES;
    private Duration cacheFor = DEFAULT_CACHE_FOR;
    private Clock clock = Clock.systemUTC();
    private Tags tags = Tags.empty();

    private Builder(KeyRotator rotator) {
      this.rotator = Objects.requireNonNull(rotator, "rotator");
    }

    /**
     * Reports the breaker state of this guard for these scopes (models, or
     * {@value RequestContext#ANY_MODEL} for the upstream-wide breaker, which is reported when no
     * scope is given).
     */
    public Builder guard(CircuitGuard guard, String... scopes) {
      return guard(guard, List.of(scopes));
    }

    /** See {@link #guard(CircuitGuard, String...)}. */
    public Builder guard(CircuitGuard guard, List<String> scopes) {
      this.guard = Objects.requireNonNull(guard, "guard");
      this.scopes.clear();
      for (String scope : scopes) {
        if (scope == null || scope.isBlank()) {
          throw new IllegalArgumentException("breaker scopes must not be blank but were " + scopes);
        }
        this.scopes.add(scope);
      }
      if (this.scopes.isEmpty()) this.scopes.add(RequestContext.ANY_MODEL);
      return this;
    }

    /** Whether to register a health gauge per key (default true); turn off for huge pools. */
    public Builder perKeyMeters(boolean perKeyMeters) {
      this.perKeyMeters = perKeyMeters;
      return this;
    }

    /**
     * How many breaker scopes get a state gauge and transition counters of their own (default
     * {@value RotatorMetrics#DEFAULT_MAX_BREAKER_SCOPES}); the scopes given to {@link #guard}
     * always do, and scopes learned later only while under the cap. Transitions of the rest are
     * counted under scope {@value RotatorMetrics#OTHER_SCOPE}.
     */
    public Builder maxBreakerScopes(int maxBreakerScopes) {
      if (maxBreakerScopes < 1) {
        throw new IllegalArgumentException("max-breaker-scopes must be >= 1 but was "
            + maxBreakerScopes);
      }
      this.maxBreakerScopes = maxBreakerScopes;
      return this;
    }

    /** How long one snapshot or stats reading serves scrapes; zero reads afresh every time. */
    public Builder cacheFor(Duration cacheFor) {
      this.cacheFor = Checks.notNegative("cache-for", cacheFor);
      return this;
    }

    /** The time source of the cache; tests pass a fake clock. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Tags added to every meter, e.g. {@code pool=main} when an app has several rotators. */
    public Builder tags(Iterable<Tag> tags) {
      this.tags = this.tags.and(Objects.requireNonNull(tags, "tags"));
      return this;
    }

    public RotatorMetrics build() {
      return new RotatorMetrics(this);
    }
  }
}
