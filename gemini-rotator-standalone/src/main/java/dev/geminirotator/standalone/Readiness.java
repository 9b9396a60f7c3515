package dev.geminirotator.standalone;

import dev.geminirotator.standalone.gemini.GeminiProxy;
import dev.geminirotator.standalone.gemini.Problems;
import dev.geminirotator.standalone.gemini.ProxyMetrics;
import dev.geminirotator.standalone.gemini.RefusalLog;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.api.CircuitGuard;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.core.guard.ResilientCircuitGuard;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/**
 * The proxy's readiness, for {@code /health/detailed}: from the rotator's keys, its store and the
 * guard's breakers. Thread-safe (it reads only thread-safe state).
 */
final class Readiness {

  private final GeminiKeyRotator rotator;
  private final ResilientCircuitGuard guard;
  private final Clock clock;
  private final Instant startedAt;
  private final String transportLabel;

  Readiness(GeminiKeyRotator rotator, ResilientCircuitGuard guard, Clock clock, Instant startedAt,
      String transportLabel) {
    this.rotator = rotator;
    this.guard = guard;
    this.clock = clock;
    this.startedAt = startedAt;
    this.transportLabel = transportLabel;
  }

  /**
   * The readiness document for {@code /health/detailed}. Ready means able to serve:
   * <ul>
   *   <li>{@code DOWN} (503) only when no key can serve, now or after a cooldown: every key is
   *       {@code INVALID} or {@code DISABLED} (or the pool is empty). Only an operator brings
   *       such a pool back, and other instances may have keys of their own.
   *   <li>{@code DEGRADED} (200) while serving with less: the store unreachable (the proxy serves
   *       from local state and reconciles when it returns), every key cooling down (clients get
   *       429 with {@code Retry-After}), or a breaker open (clients get 503 with
   *       {@code Retry-After} until its trial calls pass). These hit every instance at once, so
   *       answering 503 for them would take the whole fleet out of a load balancer and turn a blip
   *       into an outage; an open breaker also needs requests to close again.
   *   <li>{@code UP} (200) otherwise.
   * </ul>
   */
  ObjectNode document() {
    ObjectNode body = Problems.JSON.createObjectNode();
    Map<KeyState, Integer> byState = new EnumMap<>(KeyState.class);
    for (KeyState s : KeyState.values()) byState.put(s, 0);
    int usable = 0;
    Instant now = clock.instant();
    List<KeySnapshot> keys = rotator.snapshot();
    for (KeySnapshot k : keys) {
      byState.merge(k.state(), 1, Integer::sum);
      if (k.availableFor("*", now)) usable++;
    }
    int serviceable = keys.size() - byState.get(KeyState.INVALID)
        - byState.get(KeyState.DISABLED);
    boolean storeUp;
    try {
      storeUp = rotator.store().isAvailable();
    } catch (RuntimeException e) {
      storeUp = false;
    }
    ObjectNode breakers = Problems.JSON.createObjectNode();
    for (String scope : guard.scopes()) breakers.put(scope, guard.state(scope).name());
    if (guard.scopes().isEmpty()) breakers.put("*", guard.state("*").name());
    boolean breakerTripped = false; // open or half-open: failing fast, or trying
    for (var state : breakers.properties()) {
      breakerTripped |= !state.getValue().asText().equals(CircuitGuard.State.CLOSED.name());
    }
    body.put("status", serviceable == 0 ? "DOWN"
        : !storeUp || usable == 0 || breakerTripped ? "DEGRADED" : "UP");
    ObjectNode k = body.putObject("keys");
    k.put("total", keys.size());
    k.put("usable", usable);
    ObjectNode states = k.putObject("byState");
    byState.forEach((s, n) -> states.put(s.name(), n));
    body.set("breaker", breakers);
    ObjectNode store = body.putObject("store");
    store.put("status", storeUp ? "UP" : "DOWN");
    store.put("backend", rotator.store().describe());
    body.put("uptimeSeconds", Duration.between(startedAt, now).toSeconds());
    body.put("version", ProxyServer.version());
    body.put("transport", transportLabel);
    return body;
  }
}
