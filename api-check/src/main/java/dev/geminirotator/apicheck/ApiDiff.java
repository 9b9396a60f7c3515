package dev.geminirotator.apicheck;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The difference between two listings made by {@link ApiListing}, type by type: types added or
 * removed, and for a type in both, the lines (header or members) added or removed. Written for a
 * person reading a failed build.
 *
 * <p>Stateless and thread-safe.
 */
public final class ApiDiff {

  /** At most this many lines are shown; the rest are counted. */
  static final int MAX_LINES = 200;

  private static final Pattern TYPE_NAME =
      Pattern.compile("(?:class|interface|enum|record|@interface) ([^ <{]+)");

  private ApiDiff() {}

  /**
   * Returns the changes from {@code expected} to {@code actual}, one per line: {@code + } for a
   * line only in {@code actual}, {@code - } for one only in {@code expected}, grouped under the
   * type they belong to; an empty list when the two list the same API.
   */
  public static List<String> changes(String expected, String actual) {
    Map<String, List<String>> before = blocks(expected);
    Map<String, List<String>> after = blocks(actual);
    Set<String> names = new TreeSet<>(before.keySet());
    names.addAll(after.keySet());
    List<String> out = new ArrayList<>();
    for (String name : names) {
      List<String> old = before.get(name);
      List<String> now = after.get(name);
      if (old == null) {
        out.add("+ " + now.get(0) + " (new type)");
        now.stream().skip(1).forEach(line -> out.add("    + " + line.strip()));
      } else if (now == null) {
        out.add("- " + old.get(0) + " (removed type)");
        old.stream().skip(1).forEach(line -> out.add("    - " + line.strip()));
      } else if (!old.equals(now)) {
        out.add("~ " + name);
        Set<String> removed = new LinkedHashSet<>(old);
        now.forEach(removed::remove);
        Set<String> added = new LinkedHashSet<>(now);
        old.forEach(added::remove);
        removed.forEach(line -> out.add("    - " + line.strip()));
        added.forEach(line -> out.add("    + " + line.strip()));
        if (removed.isEmpty() && added.isEmpty()) {
          out.add("    (the same lines in another order)");
        }
      }
    }
    if (out.size() > MAX_LINES) {
      int more = out.size() - MAX_LINES;
      List<String> shown = new ArrayList<>(out.subList(0, MAX_LINES));
      shown.add("... and " + more + " more lines");
      return shown;
    }
    return out;
  }

  /** Type name to the block's lines (header first, without the closing brace). */
  private static Map<String, List<String>> blocks(String listing) {
    Map<String, List<String>> blocks = new LinkedHashMap<>();
    List<String> current = null;
    for (String line : listing.split("\n", -1)) {
      if (line.isBlank() || line.equals("}")) {
        current = null;
      } else if (current == null) {
        current = new ArrayList<>();
        String header = line.endsWith(" {") ? line.substring(0, line.length() - 2) : line;
        current.add(header);
        blocks.put(typeName(header), current);
      } else {
        current.add(line);
      }
    }
    return blocks;
  }

  private static String typeName(String header) {
    Matcher matcher = TYPE_NAME.matcher(header);
    return matcher.find() ? matcher.group(1) : header;
  }
}
