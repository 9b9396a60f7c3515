package dev.geminirotator.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.RecordComponent;
import org.snakeyaml.engine.v2.api.Dump;
import org.snakeyaml.engine.v2.api.DumpSettings;
import org.snakeyaml.engine.v2.common.FlowStyle;

/**
 * Prints a configuration as YAML that {@link ConfigLoader} reads back to the same values, with
 * every secret masked.
 *
 * <p>{@link #section} turns a record of one section into a map: each component under its name in
 * kebab case ({@code maxRequestSize} is {@code max-request-size}), so a section's fields are
 * declared once, as the record's components, and the reader names them the same way. Values are
 * written as a file would hold them: durations as {@code 250ms}, {@code 5m}; enums as
 * {@code round-robin}; a {@link Secret} as {@value Secret#MASK}; records as nested maps;
 * {@code null} as YAML's null (which reads back as the field's default). {@link #dump} writes the
 * tree with snakeyaml-engine, so quoting is always right. Stateless and thread-safe.
 */
public final class ConfigYaml {

  private static final DumpSettings SETTINGS = DumpSettings.builder()
      .setDefaultFlowStyle(FlowStyle.BLOCK)
      .setIndent(2)
      .setIndicatorIndent(2)
      .setIndentWithIndicator(true)
      .setWidth(Integer.MAX_VALUE)
      .setSplitLines(false)
      .setDereferenceAliases(true)
      .build();

  private ConfigYaml() {
  }

  /** A section record as a map of its fields, in declaration order; see the class comment. */
  public static Map<String, Object> section(Record section) {
    Map<String, Object> out = new LinkedHashMap<>();
    for (RecordComponent c : section.getClass().getRecordComponents()) {
      Object v;
      try {
        v = c.getAccessor().invoke(section);
      } catch (IllegalAccessException | InvocationTargetException e) {
        throw new IllegalStateException("cannot read " + c.getName() + " of "
            + section.getClass().getSimpleName(), e);
      }
      out.put(yamlName(c.getName()), value(v));
    }
    return out;
  }

  /**
   * A value as a file writes it: see the class comment. Strings, numbers and booleans are kept;
   * anything else (a URI, a path) is written as its string form.
   */
  public static Object value(Object v) {
    if (v == null || v instanceof String || v instanceof Number || v instanceof Boolean) return v;
    if (v instanceof Secret) return Secret.MASK;
    if (v instanceof Duration d) return DurationText.format(d);
    if (v instanceof Enum<?> e) return ConfigNode.yamlName(e);
    if (v instanceof Record r) return section(r);
    if (v instanceof List<?> list) {
      List<Object> out = new ArrayList<>(list.size());
      for (Object item : list) out.add(value(item));
      return out;
    }
    if (v instanceof Map<?, ?> map) {
      Map<String, Object> out = new LinkedHashMap<>();
      for (Map.Entry<?, ?> e : map.entrySet()) {
        out.put(String.valueOf(e.getKey()), value(e.getValue()));
      }
      return out;
    }
    return v.toString();
  }

  /** A tree of maps, lists and values as a YAML document, in block style. */
  public static String dump(Map<String, ?> tree) {
    return new Dump(SETTINGS).dumpToString(tree);
  }

  /** {@code maxRequestSize} is {@code max-request-size}. */
  static String yamlName(String component) {
    StringBuilder sb = new StringBuilder(component.length() + 4);
    for (int i = 0; i < component.length(); i++) {
      char ch = component.charAt(i);
      if (Character.isUpperCase(ch)) {
        sb.append('-').append(Character.toLowerCase(ch));
      } else {
        sb.append(ch);
      }
    }
    return sb.toString().toLowerCase(Locale.ROOT);
  }
}
