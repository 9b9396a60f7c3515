package dev.geminirotator.benchmarks;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A minimal HTTP/1.1 keep-alive server on 127.0.0.1 and a random port that answers every request
 * with one fixed 200 JSON body: just enough upstream for a loopback benchmark, with none of
 * MockWebServer's recording (which would grow without bound over millions of requests). One
 * thread per connection. Thread-safe; {@link #close()} stops it.
 */
final class LoopbackServer implements AutoCloseable {

  private final ServerSocket socket;
  private final byte[] response;
  private final Set<Socket> connections = ConcurrentHashMap.newKeySet();
  private final Thread acceptor;

  LoopbackServer(String body) throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    byte[] head = ("HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=UTF-8\r\n"
        + "Content-Length: " + bytes.length + "\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
    response = new byte[head.length + bytes.length];
    System.arraycopy(head, 0, response, 0, head.length);
    System.arraycopy(bytes, 0, response, head.length, bytes.length);
    socket = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    acceptor = new Thread(this::accept, "loopback-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** The base URL, e.g. {@code http://127.0.0.1:40123}. */
  String url() {
    return "http://127.0.0.1:" + socket.getLocalPort();
  }

  private void accept() {
    while (!socket.isClosed()) {
      try {
        Socket connection = socket.accept();
        connection.setTcpNoDelay(true);
        connections.add(connection);
        Thread t = new Thread(() -> serve(connection), "loopback-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void serve(Socket connection) {
    try (connection) {
      InputStream in = new BufferedInputStream(connection.getInputStream());
      OutputStream out = new BufferedOutputStream(connection.getOutputStream());
      while (true) {
        long contentLength = readHead(in);
        if (contentLength < 0) return; // the client closed the connection
        for (long left = contentLength; left > 0; ) {
          long skipped = in.skip(left);
          if (skipped <= 0) {
            if (in.read() < 0) return;
            skipped = 1;
          }
          left -= skipped;
        }
        out.write(response);
        out.flush();
      }
    } catch (IOException e) {
      // the client went away
    } finally {
      connections.remove(connection);
    }
  }

  /** Reads a request line and headers; returns the Content-Length (0 if none), -1 at EOF. */
  private static long readHead(InputStream in) throws IOException {
    ByteArrayOutputStream line = new ByteArrayOutputStream(128);
    long contentLength = 0;
    boolean first = true;
    while (true) {
      int c = in.read();
      if (c < 0) return -1;
      if (c == '\n') {
        String text = line.toString(StandardCharsets.US_ASCII).trim();
        line.reset();
        if (text.isEmpty()) {
          if (first) continue;
          return contentLength;
        }
        first = false;
        int colon = text.indexOf(':');
        if (colon > 0 && text.substring(0, colon).trim().toLowerCase(Locale.ROOT)
            .equals("content-length")) {
          contentLength = Long.parseLong(text.substring(colon + 1).trim());
        }
      } else {
        line.write(c);
      }
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
    for (Socket connection : connections) {
      connection.close();
    }
  }
}
