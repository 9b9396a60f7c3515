package dev.geminirotator.redis;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import redis.clients.jedis.util.JedisClusterCRC16;

class KeyLayoutTest {

  /** Every key one of the Lua scripts (and a load) touches, for two keys, a cooldown, a breaker. */
  private static List<String> poolKeys(KeyLayout layout) {
    return List.of(layout.status("k1"), layout.status("k2"), layout.statusIndex(),
        layout.statusGenerations(), layout.added(), layout.removed(), layout.health(),
        layout.cooldown(KeyLayout.cooldownMember("p1", "gemini-2.5-flash")),
        layout.cooldownIndex(), layout.breaker("upstream"), layout.breakerIndex(),
        layout.generation(), layout.meta());
  }

  private static Set<Integer> slots(List<String> keys) {
    return keys.stream().map(JedisClusterCRC16::getSlot).collect(Collectors.toSet());
  }

  @Test
  void onAClusterThePoolStateSharesOneSlotSoEachScriptTouchesOneSlot() {
    KeyLayout layout = KeyLayout.clustered("gemini_rotator:");
    assertThat(slots(poolKeys(layout))).hasSize(1);
    assertThat(layout.status("k1")).isEqualTo("{gemini_rotator:}key:k1:status");
    assertThat(layout.meta()).isEqualTo("{gemini_rotator:}meta");
    // another prefix (another pool) lands elsewhere
    assertThat(slots(poolKeys(KeyLayout.clustered("team-b:"))))
        .doesNotContainAnyElementsOf(slots(poolKeys(layout)));
  }

  @Test
  void onAClusterCountersAndValuesSpreadOverTheSlots() {
    KeyLayout layout = KeyLayout.clustered("gemini_rotator:");
    List<String> counters = List.of(
        layout.counter("quota:k1:rpm", 60_000, 1_764_158_400_000L),
        layout.counter("quota:k2:rpm", 60_000, 1_764_158_400_000L),
        layout.counter("quota:k3:rpm", 60_000, 1_764_158_400_000L),
        layout.counter("client:app-1", 60_000, 1_764_158_400_000L),
        layout.value("files/abc"), layout.value("files/def"));
    assertThat(counters.get(0))
        .isEqualTo("gemini_rotator:counter:quota:k1:rpm:1m:20251126T120000Z");
    assertThat(slots(counters)).hasSize(counters.size());
    assertThat(slots(counters)).doesNotContainAnyElementsOf(slots(poolKeys(layout)));
  }

  @Test
  void aSingleServerKeepsTheNamesItAlwaysHad() {
    KeyLayout layout = new KeyLayout("gemini_rotator:");
    assertThat(poolKeys(layout)).containsExactly("gemini_rotator:key:k1:status",
        "gemini_rotator:key:k2:status", "gemini_rotator:keys:status", "gemini_rotator:keys:gen",
        "gemini_rotator:keys:added", "gemini_rotator:keys:removed", "gemini_rotator:health",
        "gemini_rotator:cooldown:p1:gemini-2.5-flash", "gemini_rotator:cooldowns",
        "gemini_rotator:breaker:upstream", "gemini_rotator:breakers",
        "gemini_rotator:generation", "gemini_rotator:meta");
    assertThat(layout.scanPatterns()).isEqualTo("'gemini_rotator:*'");
  }

  @Test
  void aClusteredPrefixMayNotHoldABrace() {
    assertThatThrownBy(() -> KeyLayout.clustered("{team}:"))
        .hasMessage("prefix must not contain '{' or '}' on a Redis Cluster but was '{team}:'");
  }
}
