package dev.geminirotator.standalone.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import javax.net.ssl.KeyManagerFactory;

/**
 * How the proxy listens: the buffer allocator every connection uses, the limits on what one read
 * and one request head may hold, binding a listener with an operator's error message, and the
 * server's TLS context. Stateless and thread-safe.
 */
public final class Listeners {

  /**
   * Buffers for every connection, client and upstream: Netty's pooled allocator, whose per-thread
   * caches suit a fixed set of event loops. Netty 4.2's default (the adaptive allocator, built for
   * many short-lived threads) carried 11% fewer requests per second at 64 connections here
   * (engines.sh, side by side; see benchmarks/README.md). {@code -Dio.netty.allocator.type} still
   * chooses.
   */
  public static final ByteBufAllocator ALLOCATOR =
      System.getProperty("io.netty.allocator.type") != null
          ? ByteBufAllocator.DEFAULT : PooledByteBufAllocator.DEFAULT;

  /**
   * The largest single read from a client (Netty's default is 64 KB). What one read brings of a
   * pipelined request's body stays held, unread by anyone, until that request's turn comes and it
   * authenticates (reading then pauses): 16 KB per connection bounds it at 64 MB of direct memory
   * for the default 4,096 connections, against 256 MB with 64 KB reads. A request whose body
   * arrives with its head in one read (most do) is not affected.
   */
  public static final int MAX_READ = 16 * 1024;

  /** Listen backlog: connections the kernel completes before the proxy accepts them. */
  public static final int ACCEPT_QUEUE_SIZE = 1024;
  /** The longest request line accepted (8 KiB, as is the largest head). */
  public static final int MAX_REQUEST_LINE = 8 * 1024;
  /** The largest request head accepted. */
  public static final int MAX_REQUEST_HEAD = 8 * 1024;

  /**
   * Binds a listener. A failure becomes a {@link java.net.BindException} whose message names the
   * address and what is wrong ({@code "127.0.0.1:4806 is already in use"}), whatever the
   * transport's native exception says: an expected start-up failure that {@code Main} prints
   * without a stack trace.
   */
  public static Channel bind(ServerBootstrap bootstrap, String host, int port)
      throws java.net.BindException, InterruptedException {
    try {
      return bootstrap.bind(host, port).sync().channel();
    } catch (InterruptedException e) {
      throw e;
    } catch (Exception e) {
      java.net.BindException failure = new java.net.BindException(bindFailure(host, port, e));
      failure.initCause(e);
      throw failure;
    }
  }

  /** What went wrong binding {@code host:port}, for an operator. */
  static String bindFailure(String host, int port, Throwable e) {
    String address = (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    StringBuilder messages = new StringBuilder();
    for (Throwable c = e; c != null; c = c.getCause()) {
      if (c.getMessage() != null) messages.append(c.getMessage()).append(' ');
    }
    String m = messages.toString().toLowerCase(java.util.Locale.ROOT);
    if (m.contains("already in use")) {
      return address + " is already in use (another process listens there; stop it or choose"
          + " another port)";
    }
    if (m.contains("cannot assign requested address") || m.contains("not available")) {
      return address + " cannot be bound: " + host + " is not an address of this machine";
    }
    if (m.contains("permission denied") || m.contains("access denied")) {
      return address + " cannot be bound: permission denied (ports below 1024 need privileges)";
    }
    return address + " cannot be bound: " + (e.getMessage() == null
        ? e.getClass().getSimpleName() : e.getMessage());
  }

  /** The server's TLS context from a key store ({@code server.tls.keystore}). */
  public static SslContext serverTls(String keystore, String type, String keystorePassword)
      throws Exception {
    KeyStore ks = KeyStore.getInstance(type);
    char[] password = keystorePassword == null ? new char[0]
        : keystorePassword.toCharArray();
    try (InputStream in = Files.newInputStream(Path.of(keystore))) {
      ks.load(in, password);
    }
    KeyManagerFactory kmf = KeyManagerFactory.getInstance(
        KeyManagerFactory.getDefaultAlgorithm());
    kmf.init(ks, password);
    return SslContextBuilder.forServer(kmf).build();
  }

  private Listeners() {
  }
}
