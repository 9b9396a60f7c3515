package dev.geminirotator.redis;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay on 127.0.0.1 and a free port that forwards to a Redis port, for tests that cut one
 * instance off a Redis that stays up for the others. {@link #cut()} closes every relayed connection
 * and closes new ones at once until {@link #restore()}; {@link #close()} stops it. Thread-safe.
 */
final class TcpRelay implements AutoCloseable {

  private final int targetPort;
  private final ServerSocket server;
  private final Thread acceptor;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private volatile boolean cut;
  private volatile boolean closed;

  private TcpRelay(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    this.acceptor = new Thread(this::acceptLoop, "tcp-relay-" + server.getLocalPort());
    this.acceptor.setDaemon(true);
  }

  /** Starts a relay to {@code 127.0.0.1:targetPort}. */
  static TcpRelay to(int targetPort) {
    try {
      TcpRelay relay = new TcpRelay(targetPort);
      relay.acceptor.start();
      return relay;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  int port() {
    return server.getLocalPort();
  }

  /** {@code redis://127.0.0.1:relayPort} plus a suffix such as {@code /0?retry=50ms}. */
  String uri(String suffix) {
    return "redis://127.0.0.1:" + port() + suffix;
  }

  /** Drops every relayed connection and refuses to relay until {@link #restore()}. */
  void cut() {
    cut = true;
    for (Socket s : sockets) closeQuietly(s);
    sockets.clear();
  }

  void restore() {
    cut = false;
  }

  @Override
  public void close() {
    closed = true;
    cut();
    closeQuietly(server);
    try {
      acceptor.join(5_000);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private void acceptLoop() {
    while (!closed) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        return; // closed
      }
      if (cut) {
        closeQuietly(client);
        continue;
      }
      Socket upstream;
      try {
        upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
      } catch (IOException e) {
        closeQuietly(client);
        continue;
      }
      sockets.add(client);
      sockets.add(upstream);
      if (cut) { // cut while connecting
        closeQuietly(client);
        closeQuietly(upstream);
        continue;
      }
      pump(client, upstream);
      pump(upstream, client);
    }
  }

  private void pump(Socket from, Socket to) {
    Thread t = new Thread(() -> {
      byte[] buffer = new byte[8192];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buffer)) >= 0) {
          out.write(buffer, 0, n);
          out.flush();
        }
      } catch (IOException e) {
        // one side closed
      } finally {
        closeQuietly(from);
        closeQuietly(to);
        sockets.remove(from);
        sockets.remove(to);
      }
    }, "tcp-relay-pump");
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(AutoCloseable c) {
    try {
      c.close();
    } catch (Exception e) {
      // already closed
    }
  }
}
