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
 *
 * <p><b>On a Redis Cluster</b> ({@link #clustered(String)}) every Lua script must touch one slot,
 * and the scripts of the pool's replicated state (statuses and their index and generations,
 * runtime keys, health, cooldowns and their index, breakers, the generation sequence and meta)
 * each touch several of those keys, so they all share one hash tag: the prefix itself, in braces,
 * written where the prefix goes. With the default prefix:
 * <pre>
 * {gemini_rotator:}key:{id}:status   {gemini_rotator:}keys:status   {gemini_rotator:}generation ...
 * gemini_rotator:counter:quota:k1:rpm:1m:20261126T120000Z       gemini_rotator:value:{name}
 * </pre>
 * That state is small (a few hashes per key of the pool) and written behind in batches, so one
 * master holding it costs nothing; each prefix (each pool) gets its own slot. Counters and shared
 * values are the high-volume part: each is a single key touched by a single command or script,
 * so they keep their names and hash over the whole key, spreading across the masters. Channels
 * are not keys: a PUBLISH reaches the subscribers of every node of a cluster. The prefix of a
 * clustered layout may not hold braces ({@link RedisStoreOptions} refuses it), so no other part
 * of a name becomes a hash tag by accident. Scan the pool state with
 * {@code --pattern '{gemini_rotator:}*'} and counters and values with
 * {@code --pattern 'gemini_rotator:*'}, on each master.
 *
 * <p>A single server and a sentinel-watched master keep the names above unchanged (no hash tag),
 * so existing data stays readable and {@link #LAYOUT_VERSION} is unchanged: the layout of the
 * cluster is a different naming of the same version, in a different Redis.
 *
 * <p>Immutable and thread-safe.
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
  /** The start of the pool state's keys: the prefix, or on a cluster the prefix as hash tag. */
  private final String pool;

  private KeyLayout(String prefix, boolean clustered) {
    this.prefix = prefix;
    this.pool = clustered ? "{" + prefix + "}" : prefix;
  }

  /** The layout on a single server or a sentinel-watched master. */
  KeyLayout(String prefix) {
    this(prefix, false);
  }

  /** The layout on a Redis Cluster: the pool state under one hash tag (see above). */
  static KeyLayout clustered(String prefix) {
    if (prefix.indexOf('{') >= 0 || prefix.indexOf('}') >= 0) {
      throw new IllegalArgumentException("prefix must not contain '{' or '}' on a Redis Cluster"
          + " but was '" + prefix + "'");
    }
    return new KeyLayout(prefix, true);
  }

  String prefix() {
    return prefix;
  }

  /** The patterns that scan every key of this layout (one, unless clustered). */
  String scanPatterns() {
    return pool.equals(prefix) ? "'" + prefix + "*'" : "'" + pool + "*' and '" + prefix + "*'";
  }

  String status(String keyId) {
    return pool + "key:" + keyId + ":status";
  }

  String statusIndex() {
    return pool + "keys:status";
  }

  String statusGenerations() {
    return pool + "keys:gen";
  }

  String added() {
    return pool + "keys:added";
  }

  String removed() {
    return pool + "keys:removed";
  }

  String value(String name) {
    return prefix + "value:" + name;
  }

  String health() {
    return pool + "health";
  }

  static String cooldownMember(String project, String model) {
    return project + ":" + model;
  }

  String cooldown(String member) {
    return pool + "cooldown:" + member;
  }

  String cooldownIndex() {
    return pool + "cooldowns";
  }

  String breaker(String name) {
    return pool + "breaker:" + name;
  }

  String breakerIndex() {
    return pool + "breakers";
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
    return pool + "generation";
  }

  String meta() {
    return pool + "meta";
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
