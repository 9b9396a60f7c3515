package dev.geminirotator.benchmarks.counters;

import io.github.bucket4j.redis.jedis.RedisApi;
import java.util.concurrent.atomic.LongAdder;
import redis.clients.jedis.UnifiedJedis;

/**
 * Bucket4j's Redis calls, counted: each is one round trip (a GET, an EVAL of its compare-and-swap
 * script, a DEL). Sends them through Jedis 8's {@link UnifiedJedis} exactly as Bucket4j's own
 * {@code Bucket4jJedis.casBasedBuilder(UnifiedJedis)} does. Thread-safe.
 */
final class CountingRedisApi implements RedisApi {

  final LongAdder calls = new LongAdder();
  private final UnifiedJedis jedis;

  CountingRedisApi(UnifiedJedis jedis) {
    this.jedis = jedis;
  }

  @Override
  public Object eval(byte[] script, int keyCount, byte[]... params) {
    calls.increment();
    return jedis.eval(script, keyCount, params);
  }

  @Override
  public byte[] get(byte[] key) {
    calls.increment();
    return jedis.get(key);
  }

  @Override
  public void delete(byte[] key) {
    calls.increment();
    jedis.del(key);
  }
}
