package dev.geminirotator.core.rotation;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Map;

/**
 * An immutable view of the pool's membership: the slots in order, an index by id, and the alias
 * table that weighted selection draws from. Replaced whole when keys are added or removed.
 */
final class Pool {

  static final Pool EMPTY = new Pool(new KeySlot[0]);

  final KeySlot[] slots;
  final Map<String, KeySlot> byId;
  /**
   * Alias method, one long per column so a pick reads one array slot: the high 33 bits are the
   * chance (out of 2^32) that column i keeps itself, the low 31 bits the column it defers to.
   * {@code null} when the {@link #schedule} serves.
   */
  private final long[] aliasTable;
  /**
   * Weighted selection when the weights are small enough to spell out: every key appears
   * {@code weight} times, its turns placed at {@code (j + 0.5) / weight} of the cycle and the
   * cycle read in order. Exact per cycle, smooth, and read sequentially like round-robin, which
   * keeps large pools in cache (random alias picks over 100,000 keys missed on every request).
   * {@code null} when the cycle would be too long; the alias table serves then.
   */
  final KeySlot[] schedule;
  /** The longest cycle spelled out: 1M references, 4 MB (100,000 keys of weight up to 10). */
  static final int MAX_SCHEDULE = 1 << 20;

  Pool(KeySlot[] slots) {
    this.slots = slots;
    Map<String, KeySlot> index = new HashMap<>(slots.length * 2);
    for (KeySlot slot : slots) index.put(slot.id, slot);
    this.byId = index;
    this.schedule = buildSchedule(slots);
    // Only one of the two is ever read: the alias table serves when the cycle is too long.
    this.aliasTable = schedule == null ? buildAliasTable(slots) : null;
  }

  private Pool(KeySlot[] slots, long[] aliasTable) {
    this.slots = slots;
    this.byId = Map.of();
    this.schedule = null;
    this.aliasTable = aliasTable;
  }

  /**
   * A pool to draw from only (no index by id, no cycle): the alias table alone, built in O(n)
   * without sorting. {@link UsableKeys} holds one of the keys that can serve.
   */
  static Pool drawOnly(KeySlot[] slots) {
    return new Pool(slots, slots.length == 0 ? new long[0] : buildAliasTable(slots));
  }

  /** One key drawn at random in proportion to its weight. The pool must not be empty. */
  KeySlot drawByWeight(java.util.concurrent.ThreadLocalRandom random) {
    KeySlot[] cycle = schedule;
    return cycle != null ? cycle[random.nextInt(cycle.length)]
        : slots[weightedIndex(random.nextLong())];
  }

  private static KeySlot[] buildSchedule(KeySlot[] slots) {
    long total = 0;
    for (KeySlot slot : slots) total += slot.key.weight();
    if (total == 0 || total > MAX_SCHEDULE || slots.length >= 1 << 24) return null;
    long[] entries = new long[(int) total];
    int e = 0;
    for (int i = 0; i < slots.length; i++) {
      int w = slots[i].key.weight();
      for (int j = 0; j < w; j++) {
        // the turn's place in the cycle, in 39 bits, then the key's index to break ties
        long place = (long) (((j + 0.5) / w) * 0x1.0p39);
        entries[e++] = place << 24 | i;
      }
    }
    java.util.Arrays.sort(entries);
    KeySlot[] cycle = new KeySlot[entries.length];
    for (int k = 0; k < entries.length; k++) cycle[k] = slots[(int) (entries[k] & 0xFFFFFF)];
    return cycle;
  }

  int size() {
    return slots.length;
  }

  /** Vose's alias method over the key weights. */
  private static long[] buildAliasTable(KeySlot[] slots) {
    int n = slots.length;
    double[] keep = new double[n];
    int[] alias = new int[n];
    long total = 0;
    for (KeySlot slot : slots) total += slot.key.weight();
    double[] scaled = new double[n];
    ArrayDeque<Integer> small = new ArrayDeque<>();
    ArrayDeque<Integer> large = new ArrayDeque<>();
    for (int i = 0; i < n; i++) {
      scaled[i] = (double) slots[i].key.weight() * n / total;
      (scaled[i] < 1.0 ? small : large).add(i);
    }
    while (!small.isEmpty() && !large.isEmpty()) {
      int s = small.poll();
      int l = large.poll();
      keep[s] = scaled[s];
      alias[s] = l;
      scaled[l] = scaled[l] + scaled[s] - 1.0;
      (scaled[l] < 1.0 ? small : large).add(l);
    }
    while (!large.isEmpty()) {
      int l = large.poll();
      keep[l] = 1.0;
      alias[l] = l;
    }
    while (!small.isEmpty()) { // rounding leftovers
      int s = small.poll();
      keep[s] = 1.0;
      alias[s] = s;
    }
    long[] table = new long[n];
    for (int i = 0; i < n; i++) {
      long threshold = Math.min(1L << 32, Math.round(keep[i] * 0x1.0p32));
      table[i] = (threshold << 31) | alias[i];
    }
    return table;
  }

  /** Loads the alias entry {@link #weightedIndex} will read for these bits (a cache warm-up). */
  long touchAliasEntry(long bits) {
    return aliasTable[(int) Math.multiplyHigh(bits >>> 1, (long) slots.length << 1)];
  }

  /**
   * Picks a slot index by weight from a 64-bit uniform value. Fed by a Weyl sequence (golden
   * ratio increments) the picks are low-discrepancy: every prefix of the sequence is close to the
   * weights, and a key's turns are spread out instead of bunched.
   */
  int weightedIndex(long bits) {
    long u = bits >>> 1; // 63 bits, non-negative
    long n2 = (long) slots.length << 1;
    int column = (int) Math.multiplyHigh(u, n2);
    long within = (u * n2) >>> 32; // the top 32 bits of the position inside the column
    long entry = aliasTable[column];
    return within < (entry >>> 31) ? column : (int) (entry & Integer.MAX_VALUE);
  }
}
