package dev.geminirotator.redis;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyState;
import dev.geminirotator.api.spi.StateChange;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;

/**
 * Compact JSON for the change channel and for keys added at run time. A message starts with the
 * origin instance id ({@code {"o":"…",}) so an instance recognizes its own without parsing.
 * Messages about added keys carry only the id: the secret stays in the {@code keys:added} hash
 * and never travels over pub/sub. Thread-safe.
 */
final class Codec {

  static final String STATUS = "status";
  static final String COOLDOWN = "cooldown";
  static final String ADDED = "added";
  static final String REMOVED = "removed";
  static final String BREAKER = "breaker";

  private static final ObjectMapper JSON = new ObjectMapper();

  private Codec() {
  }

  /**
   * What a channel message says. {@code addedId} is set (and change null) for "added"; every
   * message carries the {@code generation} Redis gave its change, which orders it.
   */
  record Message(String origin, StateChange change, long generation, String addedId) {
  }

  static String ownPrefix(String origin) {
    return "{\"o\":\"" + origin + "\"";
  }

  // Messages are left open, ending in ,"g": ; the script appends the generation and }.

  static String status(String origin, StateChange.KeyStatus s) {
    StringBuilder sb = head(origin, STATUS);
    string(sb, "key", s.keyId());
    string(sb, "state", s.state().name());
    if (s.until() != null) number(sb, "until", s.until().toEpochMilli());
    if (s.reason() != null) string(sb, "reason", s.reason());
    number(sb, "at", s.at().toEpochMilli());
    return open(sb);
  }

  static String cooldown(String origin, String project, String model, long until,
      boolean cleared) {
    StringBuilder sb = head(origin, COOLDOWN);
    string(sb, "project", project);
    string(sb, "model", model);
    number(sb, "until", until);
    sb.append(",\"cleared\":").append(cleared);
    return open(sb);
  }

  static String added(String origin, String keyId) {
    StringBuilder sb = head(origin, ADDED);
    string(sb, "key", keyId);
    return open(sb);
  }

  static String removed(String origin, String keyId) {
    StringBuilder sb = head(origin, REMOVED);
    string(sb, "key", keyId);
    return open(sb);
  }

  static String breaker(String origin, StateChange.Breaker b) {
    StringBuilder sb = head(origin, BREAKER);
    string(sb, "name", b.name());
    string(sb, "state", b.state());
    if (b.until() != null) number(sb, "until", b.until().toEpochMilli());
    return open(sb);
  }

  private static String open(StringBuilder sb) {
    return sb.append(",\"g\":").toString();
  }

  private static StringBuilder head(String origin, String type) {
    StringBuilder sb = new StringBuilder(160).append("{\"o\":");
    quote(sb, origin).append(",\"t\":");
    return quote(sb, type);
  }

  private static void string(StringBuilder sb, String name, String value) {
    sb.append(",\"").append(name).append("\":");
    quote(sb, value);
  }

  private static void number(StringBuilder sb, String name, long value) {
    sb.append(",\"").append(name).append("\":").append(value);
  }

  /** Appends a JSON string literal. */
  static StringBuilder quote(StringBuilder sb, String value) {
    sb.append('"');
    for (int i = 0; i < value.length(); i++) {
      char c = value.charAt(i);
      switch (c) {
        case '"' -> sb.append("\\\"");
        case '\\' -> sb.append("\\\\");
        case '\n' -> sb.append("\\n");
        case '\r' -> sb.append("\\r");
        case '\t' -> sb.append("\\t");
        default -> {
          if (c < 0x20 || c == 0x2028 || c == 0x2029) {
            sb.append(String.format("\\u%04x", (int) c));
          } else {
            sb.append(c);
          }
        }
      }
    }
    return sb.append('"');
  }

  /** Parses a channel message; throws IllegalArgumentException on anything malformed. */
  static Message parse(String text) {
    JsonNode n;
    try {
      n = JSON.readTree(text);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("not JSON");
    }
    String origin = text(n, "o");
    String type = text(n, "t");
    long gen = n.path("g").asLong();
    switch (type) {
      case STATUS -> {
        StateChange.KeyStatus s = new StateChange.KeyStatus(text(n, "key"),
            KeyState.valueOf(text(n, "state")), instant(n, "until"),
            n.hasNonNull("reason") ? n.get("reason").asText() : null,
            Instant.ofEpochMilli(n.path("at").asLong()));
        return new Message(origin, s, gen, null);
      }
      case COOLDOWN -> {
        boolean cleared = n.path("cleared").asBoolean();
        Instant until = cleared ? Instant.EPOCH : Instant.ofEpochMilli(n.path("until").asLong());
        return new Message(origin, new StateChange.Cooldown(text(n, "project"), text(n, "model"),
            until, cleared), gen, null);
      }
      case ADDED -> {
        return new Message(origin, null, gen, text(n, "key"));
      }
      case REMOVED -> {
        return new Message(origin, new StateChange.KeyRemoved(text(n, "key")), gen, null);
      }
      case BREAKER -> {
        return new Message(origin, new StateChange.Breaker(text(n, "name"), text(n, "state"),
            instant(n, "until")), gen, null);
      }
      default -> throw new IllegalArgumentException("unknown message type " + type);
    }
  }

  private static String text(JsonNode n, String field) {
    JsonNode v = n.get(field);
    if (v == null || !v.isTextual()) {
      throw new IllegalArgumentException("field " + field + " is missing");
    }
    return v.asText();
  }

  private static Instant instant(JsonNode n, String field) {
    return n.hasNonNull(field) ? Instant.ofEpochMilli(n.get(field).asLong()) : null;
  }

  /** A key added at run time, secret included; labels sorted so equal keys give equal JSON. */
  static String key(ApiKey key) {
    ObjectNode n = JSON.createObjectNode();
    n.put("id", key.id());
    n.put("secret", key.secret());
    n.put("weight", key.weight());
    ObjectNode labels = n.putObject("labels");
    new TreeMap<>(key.labels()).forEach(labels::put);
    key.requestsPerMinute().ifPresent(rpm -> n.put("rpm", rpm));
    key.requestsPerDay().ifPresent(rpd -> n.put("rpd", rpd));
    return n.toString();
  }

  /** Parses what {@link #key} wrote; the message of any failure names the field, not the secret. */
  static ApiKey key(String json) {
    JsonNode n;
    try {
      n = JSON.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("stored key is not JSON");
    }
    ApiKey.Builder b = ApiKey.builder(text(n, "secret")).id(text(n, "id"))
        .weight(n.path("weight").asInt(ApiKey.DEFAULT_WEIGHT));
    for (Map.Entry<String, JsonNode> e : n.path("labels").properties()) {
      b.label(e.getKey(), e.getValue().asText());
    }
    if (n.hasNonNull("rpm")) b.requestsPerMinute(n.get("rpm").asInt());
    if (n.hasNonNull("rpd")) b.requestsPerDay(n.get("rpd").asInt());
    return b.build();
  }
}
