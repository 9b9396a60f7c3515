package dev.geminirotator.redis;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;

/**
 * The names of the Redis keys a store uses, all under one prefix, so that
 * {@code redis-cli --scan --pattern 'gemini_rotator:*'} lists the whole state:
 * <pre>
 * {prefix}key:{id}:status          hash   state, until, reason, at, gen, origin, other (see
 *                                  Scripts: gen orders it; origin wrote it last; other is the
 *                                  newest gen another instance wrote before that run)
 * {prefix}keys:status              set    ids that have a status hash (index for load)
 * {prefix}keys:gen                 hash   id -&gt; "gen origin other" of its last status, with no
 *                                  TTL: a HEALTHY status expires, what orders it must not
 * {prefix}keys:added               hash   id -&gt; JSON of a key added at run time (with its secret)
 * {prefix}keys:removed             set    ids removed at run time
 * {prefix}health                   hash   id -&gt; health score
 * {prefix}cooldown:{project}:{model} hash project, model, until, cleared, gen, origin, other;
 *                                  PEXPIREAT until
 * {prefix}cooldowns                zset   "{project}:{model}" scored by until (index for load)
 * {prefix}breaker:{name}           hash   name, state, until, gen
 * {prefix}breakers                 set    breaker names (index for load)
 * {prefix}counter:{name}:{window}:{start} string  a window's count (INCRBY); PEXPIRE 1 s after
 *                                  the window ends. {window} is its length (1m; 1d, or 23h and 25h
 *                                  on the days clocks change), {start} its first instant in UTC, e.g.
 *   counter:quota:{keyId}:rpm:1m:20261126T120000Z     a key's requests-per-minute quota
 *   counter:quota:{keyId}:rpd:1d:20261126T080000Z     its requests-per-day quota: the day starts
 *                                                     at midnight America/Los_Angeles
 *   counter:client:{client}:1m:20261126T120000Z       a proxy client's requests this minute
 *   (quotas add blocks of permits claimed by each instance, not single requests)
 * {prefix}value:{name}             string a shared value (values().put); PX its time to live
 * {prefix}generation               string the generation of the last change (Redis's TIME in
 *                                  microseconds, kept rising): what orders changes, never the
 *                                  writers' clocks
 * {prefix}meta                     hash   layout (version, {@link #LAYOUT_VERSION}; its absence
 *                                  means Redis lost its data), key-id-salt (the salt of ids
 *                                  derived from secrets)
 * {prefix}changes                  pub/sub channel of state transitions
 * {prefix}heartbeat:{instance}     pub/sub channel an instance publishes to itself every 5 s,
 *                                  to know its subscription is alive (no key is stored)
 * </pre>
 * Immutable and thread-safe.
 */
final class KeyLayout {

  /**
   * The version of this layout, kept in the meta hash. 2: statuses carry {@code gen}, {@code
   * origin} and {@code other} (compare-and-set on Redis's generations) instead of a writer-clock
   * {@code v}, and messages end with {@code "g":generation}. A store refuses a Redis whose meta
   * names another version: instances of two layouts on one prefix would undo each other's writes.
   */
  static final String LAYOUT_VERSION = "2";
  /** The field of the meta hash that holds {@link #LAYOUT_VERSION}. */
  static final String LAYOUT = "layout";
  /** The field of the meta hash that holds the salt of derived key ids. */
  static final String KEY_ID_SALT = "key-id-salt";
  private static final DateTimeFormatter SECONDS =
      DateTimeFormatter.ofPattern("uuuuMMdd'T'HHmmss'Z'").withZone(ZoneOffset.UTC);
  private static final DateTimeFormatter MILLIS =
      DateTimeFormatter.ofPattern("uuuuMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);

  private final String prefix;

  KeyLayout(String prefix) {
    this.prefix = prefix;
  }

  String prefix() {
    return prefix;
  }

  String status(String keyId) {
    return prefix + "key:" + keyId + ":status";
  }

  String statusIndex() {
    return prefix + "keys:status";
  }

  String statusGenerations() {
    return prefix + "keys:gen";
  }

  String added() {
    return prefix + "keys:added";
  }

  String removed() {
    return prefix + "keys:removed";
  }

  String value(String name) {
    return prefix + "value:" + name;
  }

  String health() {
    return prefix + "health";
  }

  static String cooldownMember(String project, String model) {
    return project + ":" + model;
  }

  String cooldown(String member) {
    return prefix + "cooldown:" + member;
  }

  String cooldownIndex() {
    return prefix + "cooldowns";
  }

  String breaker(String name) {
    return prefix + "breaker:" + name;
  }

  String breakerIndex() {
    return prefix + "breakers";
  }

  String counter(String name, long windowMillis, long windowStart) {
    return prefix + "counter:" + name + ":" + formatWindow(windowMillis) + ":"
        + formatStart(windowStart);
  }

  /** A window's start in UTC, {@code 20261126T120000Z}, with milliseconds only when it has any. */
  static String formatStart(long epochMillis) {
    Instant at = Instant.ofEpochMilli(epochMillis);
    return (epochMillis % 1_000 == 0 ? SECONDS : MILLIS).format(at);
  }

  String generation() {
    return prefix + "generation";
  }

  String meta() {
    return prefix + "meta";
  }

  String channel() {
    return prefix + "changes";
  }

  String heartbeat(String instanceId) {
    return prefix + "heartbeat:" + instanceId;
  }

  static String formatWindow(long ms) {
    if (ms % 86_400_000 == 0) return ms / 86_400_000 + "d";
    if (ms % 3_600_000 == 0) return ms / 3_600_000 + "h";
    if (ms % 60_000 == 0) return ms / 60_000 + "m";
    if (ms % 1_000 == 0) return ms / 1_000 + "s";
    return ms + "ms";
  }
}
