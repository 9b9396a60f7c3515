package dev.geminirotator.redis;

import java.util.List;
import redis.clients.jedis.UnifiedJedis;

/**
 * What the store's capabilities ({@link RedisCounters}, {@link RedisValues}) need of its
 * connection lifecycle, which {@link RedisKeyStateStore} keeps: whether Redis may be tried now,
 * the pooled client, the scripts, and how a failed command is reported. Implementations are
 * thread-safe.
 */
interface RedisAccess {

  /** Whether Redis answered last and the store is open: when not, callers do not try. */
  boolean usable();

  /** The pooled client, for one command at a time. */
  UnifiedJedis client();

  /** Runs one of {@link Scripts} by its digest, loading it again if Redis lost it. */
  Object evalsha(String script, List<String> keys, List<String> args);

  /**
   * Reports a failed command: a lost connection marks Redis unreachable (the store then retries
   * and reports it), any other failure is logged at WARN once per {@code what}, with
   * {@code format}'s placeholders filled by {@code args} followed by the failure's message.
   * Returns that message, without secrets.
   */
  String failed(RuntimeException e, String what, String format, Object... args);

  /** The store as {@link RedisKeyStateStore#describe()} shows it, without secrets. */
  String description();
}
