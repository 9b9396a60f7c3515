package dev.geminirotator.standalone;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A burst of new connections is queued by the kernel while the proxy is busy accepting, instead
 * of having SYNs dropped past the JDK's default backlog of 50 (each drop costs the client 1 s+).
 */
class AcceptBacklogTest {

  private static final int CONNECTIONS = 300;

  @Test
  void connectionsBeyondTheJdkDefaultBacklogConnectWhileAcceptingIsPaused() throws Exception {
    try (Harness h = new Harness("")) {
      h.proxy.accepting(false);
      List<Socket> sockets = new ArrayList<>();
      int connected = 0;
      try {
        for (int i = 0; i < CONNECTIONS; i++) {
          Socket s = new Socket();
          sockets.add(s);
          try {
            s.connect(new InetSocketAddress("127.0.0.1", h.proxy.port()), 1_000);
            connected++;
          } catch (IOException e) {
            break; // the SYN was dropped: the listen queue is full
          }
        }
      } finally {
        for (Socket s : sockets) s.close();
        h.proxy.accepting(true);
      }
      assertEquals(CONNECTIONS, connected);
      assertEquals(200, h.get("/health").statusCode());
    }
  }
}
