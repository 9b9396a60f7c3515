package dev.geminirotator.testsupport.redis;

import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import redis.clients.jedis.RedisClient;

/**
 * Starts one real {@link RedisServer} per test class and stops it after all its tests:
 * <pre>
 * &#64;RegisterExtension
 * static final RedisServerExtension redis = new RedisServerExtension();
 * </pre>
 * {@link #client()} is a plain Jedis client for assertions about what Redis holds. Not
 * thread-safe to configure; the running server may be used from any thread.
 */
public final class RedisServerExtension implements BeforeAllCallback, AfterAllCallback {

  private final String[] args;
  private RedisServer server;
  private RedisClient client;

  /** A server with extra {@code redis-server} arguments, e.g. {@code "--requirepass", "pw"}. */
  public RedisServerExtension(String... args) {
    this.args = args.clone();
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    server = RedisServer.startOnFreePort(args);
  }

  @Override
  public void afterAll(ExtensionContext context) {
    if (client != null) client.close();
    if (server != null) server.close();
  }

  public RedisServer server() {
    return server;
  }

  public int port() {
    return server.port();
  }

  /** The URI of the server plus a suffix, e.g. {@code uri("/0?prefix=t1:")}. */
  public String uri(String suffix) {
    return server.uri(suffix);
  }

  /** A client for assertions (no password: use it on servers without one). */
  public synchronized RedisClient client() {
    if (client == null) client = RedisClient.create("redis://127.0.0.1:" + server.port());
    return client;
  }

  /** The sum of calls over {@code INFO commandstats}. */
  public long commandCalls() {
    long sum = 0;
    for (String line : client().info("commandstats").split("\r?\n")) {
      int i = line.indexOf("calls=");
      if (line.startsWith("cmdstat_") && i > 0) {
        int end = line.indexOf(',', i);
        sum += Long.parseLong(line.substring(i + 6, end));
      }
    }
    return sum;
  }
}
