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
  /** Alias method: column i keeps itself with probability {@code keep[i]}, else {@code alias[i]}. */
  final double[] keep;
  final int[] alias;

  Pool(KeySlot[] slots) {
    this.slots = slots;
    Map<String, KeySlot> index = new HashMap<>(slots.length * 2);
    for (KeySlot slot : slots) index.put(slot.id, slot);
    this.byId = index;
    int n = slots.length;
    this.keep = new double[n];
    this.alias = new int[n];
    buildAliasTable();
  }

  int size() {
    return slots.length;
  }

  /** Vose's alias method over the key weights. */
  private void buildAliasTable() {
    int n = slots.length;
    if (n == 0) return;
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
    long fraction = u * n2; // low 64 bits: the position inside the column
    double f = (fraction >>> 11) * 0x1.0p-53;
    return f < keep[column] ? column : alias[column];
  }
}
