package dev.geminirotator.benchmarks;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A minimal HTTP/1.1 keep-alive server on 127.0.0.1 and a random port that answers every request
 * with one fixed 200 JSON body: just enough upstream for a loopback benchmark, with none of
 * MockWebServer's recording (which would grow without bound over millions of requests). One
 * thread per connection. Thread-safe; {@link #close()} stops it.
 */
final class LoopbackServer implements AutoCloseable {

  private static final byte[] CONTENT_LENGTH =
      "content-length:".getBytes(StandardCharsets.US_ASCII);

  private final ServerSocket socket;
  private final byte[] response;
  private final Set<Socket> connections = ConcurrentHashMap.newKeySet();
  private final Thread acceptor;
  private final AtomicInteger accepted = new AtomicInteger();

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

  /** How many connections were accepted so far. */
  int accepted() {
    return accepted.get();
  }

  private void accept() {
    while (!socket.isClosed()) {
      try {
        Socket connection = socket.accept();
        connection.setTcpNoDelay(true);
        connections.add(connection);
        accepted.incrementAndGet();
        Thread t = new Thread(() -> serve(connection), "loopback-conn");
        t.setDaemon(true);
        t.start();
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void serve(Socket connection) {
    // The head is scanned in place in one buffer, a few nanoseconds per byte: a request with one
    // more header must cost this stand-in for Gemini about what it costs a real server, not a
    // synchronized read, a String and a lower-casing per byte and line (the first version did,
    // and charged every header the client added about 20 ns a byte).
    try (connection) {
      InputStream in = connection.getInputStream();
      OutputStream out = connection.getOutputStream();
      byte[] buf = new byte[16 * 1024];
      int start = 0; // first unconsumed byte
      int end = 0; // end of the bytes read
      while (true) {
        int headEnd;
        while ((headEnd = headEnd(buf, start, end)) < 0) {
          if (start > 0) { // keep the partial head at the front
            System.arraycopy(buf, start, buf, 0, end - start);
            end -= start;
            start = 0;
          }
          if (end == buf.length) buf = Arrays.copyOf(buf, buf.length * 2);
          int n = in.read(buf, end, buf.length - end);
          if (n < 0) return; // the client closed the connection
          end += n;
        }
        long left = contentLength(buf, start, headEnd);
        start = headEnd + 4;
        while (left > 0) { // skip the request body
          if (start == end) {
            start = 0;
            end = in.read(buf, 0, buf.length);
            if (end < 0) return;
          }
          int take = (int) Math.min(left, end - start);
          start += take;
          left -= take;
        }
        if (start == end) {
          start = 0;
          end = 0;
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

  /** The index of the blank line's CRLFCRLF that ends a head in [from, to), or -1. */
  private static int headEnd(byte[] buf, int from, int to) {
    for (int i = from; i + 3 < to; i++) {
      if (buf[i] == '\r' && buf[i + 1] == '\n' && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
        return i;
      }
    }
    return -1;
  }

  /** The Content-Length of the head in [from, headEnd), 0 if none. */
  private static long contentLength(byte[] buf, int from, int headEnd) {
    for (int line = from; line < headEnd; ) {
      if (startsWithIgnoreCase(buf, line, headEnd, CONTENT_LENGTH)) {
        long value = 0;
        for (int i = line + CONTENT_LENGTH.length; i < headEnd && buf[i] != '\r'; i++) {
          if (buf[i] >= '0' && buf[i] <= '9') value = value * 10 + (buf[i] - '0');
        }
        return value;
      }
      while (line < headEnd && buf[line] != '\n') line++;
      line++;
    }
    return 0;
  }

  private static boolean startsWithIgnoreCase(byte[] buf, int at, int limit, byte[] lowerPrefix) {
    if (at + lowerPrefix.length > limit) return false;
    for (int i = 0; i < lowerPrefix.length; i++) {
      int c = buf[at + i];
      if (c >= 'A' && c <= 'Z') c += 'a' - 'A';
      if (c != lowerPrefix[i]) return false;
    }
    return true;
  }

  @Override
  public void close() throws IOException {
    socket.close();
    for (Socket connection : connections) {
      connection.close();
    }
  }
}
