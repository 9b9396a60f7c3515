package dev.geminirotator.standalone.reliability;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake upstream on a raw loopback socket, for faults MockWebServer cannot stage exactly: it
 * reads each request (headers and a Content-Length body) and hands the socket to a handler that
 * writes whatever bytes it likes and may reset the connection.
 */
final class RawUpstream implements AutoCloseable {

  interface Handler {
    void handle(String requestHead, OutputStream out, Socket socket) throws Exception;
  }

  private final ServerSocket server;
  private final Handler handler;
  private final CopyOnWriteArrayList<Socket> open = new CopyOnWriteArrayList<>();
  final AtomicInteger requests = new AtomicInteger();
  final CopyOnWriteArrayList<String> heads = new CopyOnWriteArrayList<>();

  RawUpstream(Handler handler) throws IOException {
    this.handler = handler;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::accept, "raw-upstream");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  String baseUrl() {
    return "http://127.0.0.1:" + server.getLocalPort();
  }

  private void accept() {
    while (!server.isClosed()) {
      Socket s;
      try {
        s = server.accept();
      } catch (IOException e) {
        return;
      }
      open.add(s);
      Thread t = new Thread(() -> serve(s), "raw-upstream-conn");
      t.setDaemon(true);
      t.start();
    }
  }

  private void serve(Socket s) {
    try (s) {
      InputStream in = s.getInputStream();
      while (true) {
        String head = readHead(in);
        if (head == null) return;
        int length = contentLength(head);
        if (in.readNBytes(length).length < length) return;
        requests.incrementAndGet();
        heads.add(head);
        handler.handle(head, s.getOutputStream(), s);
        if (s.isClosed()) return;
      }
    } catch (Exception e) {
      // connection over
    } finally {
      open.remove(s);
    }
  }

  private static String readHead(InputStream in) throws IOException {
    ByteArrayOutputStream buf = new ByteArrayOutputStream();
    int matched = 0;
    int b;
    while ((b = in.read()) >= 0) {
      buf.write(b);
      matched = (b == "\r\n\r\n".charAt(matched)) ? matched + 1 : (b == '\r' ? 1 : 0);
      if (matched == 4) return buf.toString(StandardCharsets.ISO_8859_1);
    }
    return null;
  }

  private static int contentLength(String head) {
    for (String line : head.split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        return Integer.parseInt(line.substring(15).trim());
      }
    }
    return 0;
  }

  /** Resets the connection (RST, not FIN): what a crashed or killed upstream looks like. */
  static void reset(Socket socket) throws IOException {
    socket.setSoLinger(true, 0);
    socket.close();
  }

  static byte[] chunk(String text) {
    byte[] data = text.getBytes(StandardCharsets.UTF_8);
    return (Integer.toHexString(data.length) + "\r\n" + text + "\r\n")
        .getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public void close() {
    try {
      server.close();
    } catch (IOException e) {
      // closing anyway
    }
    for (Socket s : open) {
      try {
        s.close();
      } catch (IOException e) {
        // closing anyway
      }
    }
  }
}
