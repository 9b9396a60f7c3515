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
   */
  private final long[] aliasTable;

  Pool(KeySlot[] slots) {
    this.slots = slots;
    Map<String, KeySlot> index = new HashMap<>(slots.length * 2);
    for (KeySlot slot : slots) index.put(slot.id, slot);
    this.byId = index;
    this.aliasTable = buildAliasTable(slots);
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
