package dev.geminirotator.testsupport.redis;

import dev.geminirotator.testsupport.Eventually;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.TimeUnit;

/**
 * A real {@code redis-server} process on 127.0.0.1 and a free port, for tests: the one on the PATH
 * when there is one, else the linux/mac binary shipped inside
 * {@code com.github.codemonstur:embedded-redis} (test scope). Nothing to install by hand.
 * {@link #kill()} ends it like a crash ({@code SIGKILL}); {@link #start()} brings it back on the same
 * port, empty (no persistence). Not thread-safe: one test class drives it.
 */
public final class RedisServer implements AutoCloseable {

  private static Path binary;

  private final int port;
  private final List<String> extraArgs;
  private final Path dir;
  private Process process;

  private RedisServer(int port, List<String> extraArgs) {
    this.port = port;
    this.extraArgs = List.copyOf(extraArgs);
    try {
      this.dir = Files.createTempDirectory("redis-test-");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Starts a server on a free port, with extra arguments such as {@code --requirepass s3cret}. */
  public static RedisServer startOnFreePort(String... extraArgs) {
    RedisServer server = new RedisServer(freePort(), List.of(extraArgs));
    server.start();
    return server;
  }

  /**
   * Starts a server on the given port, e.g. a cluster node whose bus port (port + 10000) must be
   * free too; see {@link RedisCluster}.
   */
  public static RedisServer startOnPort(int port, String... extraArgs) {
    RedisServer server = new RedisServer(port, List.of(extraArgs));
    try {
      server.start();
    } catch (RuntimeException | Error e) {
      server.close();
      throw e;
    }
    return server;
  }

  /** The sum of calls over {@code INFO commandstats}, read over a raw socket. */
  public long commandCalls() {
    try (java.net.Socket s = new java.net.Socket("127.0.0.1", port)) {
      s.setSoTimeout(5_000);
      s.getOutputStream().write("INFO commandstats\r\n".getBytes(StandardCharsets.US_ASCII));
      java.io.BufferedReader in = new java.io.BufferedReader(
          new java.io.InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
      String header = in.readLine(); // $<length>
      int length = Integer.parseInt(header.substring(1));
      char[] body = new char[length];
      int read = 0;
      while (read < length) {
        int n = in.read(body, read, length - read);
        if (n < 0) break;
        read += n;
      }
      long sum = 0;
      for (String line : new String(body, 0, read).split("\r?\n")) {
        int i = line.indexOf("calls=");
        if (line.startsWith("cmdstat_") && i > 0) {
          sum += Long.parseLong(line.substring(i + 6, line.indexOf(',', i)));
        }
      }
      return sum;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public int port() {
    return port;
  }

  /** {@code redis://127.0.0.1:port} plus anything given, such as {@code /0?prefix=t:}. */
  public String uri(String suffix) {
    return "redis://127.0.0.1:" + port + suffix;
  }

  public String uri() {
    return uri("");
  }

  /** Which binary runs: the PATH one or the one from the embedded-redis jar. */
  public static synchronized Path binary() {
    if (binary == null) binary = locate();
    return binary;
  }

  /** Starts (or restarts) the server on its port and waits until it answers. */
  public synchronized void start() {
    if (process != null && process.isAlive()) return;
    List<String> command = new ArrayList<>(List.of(binary().toString(), "--port",
        Integer.toString(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
        "--daemonize", "no", "--dir", dir.toString(), "--logfile", ""));
    command.addAll(extraArgs);
    try {
      process = new ProcessBuilder(command).redirectErrorStream(true)
          .redirectOutput(dir.resolve("redis.log").toFile()).start();
    } catch (IOException e) {
      throw new UncheckedIOException("could not start " + command.get(0), e);
    }
    try {
      Eventually.until("redis-server answers on port " + port, () -> {
        if (!process.isAlive()) {
          throw new IllegalStateException("redis-server exited at start: " + log());
        }
        return answers();
      });
    } catch (AssertionError e) {
      String log = log();
      kill(); // not left running for the rest of the build
      throw new IllegalStateException("redis-server did not answer on port " + port + ": "
          + log, e);
    }
  }

  /** Ends the server at once, like a crash; its data is gone. */
  public synchronized void kill() {
    if (process == null) return;
    process.destroyForcibly();
    try {
      process.waitFor(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    process = null;
  }

  public synchronized boolean running() {
    return process != null && process.isAlive();
  }

  @Override
  public void close() {
    kill();
    File[] files = dir.toFile().listFiles();
    if (files != null) for (File f : files) f.delete();
    dir.toFile().delete();
  }

  /** The server's directory (its log, and a cluster node's nodes.conf). */
  public Path dir() {
    return dir;
  }

  public String log() {
    try {
      return Files.readString(dir.resolve("redis.log"));
    } catch (IOException e) {
      return "(no log)";
    }
  }

  /** Whether something answers PING (or NOAUTH, when a password is required) on the port. */
  private boolean answers() {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 200);
      s.setSoTimeout(500);
      OutputStream out = s.getOutputStream();
      out.write("PING\r\n".getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = s.getInputStream();
      int first = in.read();
      return first == '+' || first == '-';
    } catch (IOException e) {
      return false;
    }
  }

  public static int freePort() {
    try (ServerSocket socket = new ServerSocket()) {
      socket.setReuseAddress(true);
      socket.bind(new InetSocketAddress("127.0.0.1", 0));
      return socket.getLocalPort();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static Path locate() {
    String path = System.getenv("PATH");
    if (path != null) {
      for (String dir : path.split(File.pathSeparator)) {
        Path candidate = Path.of(dir, "redis-server");
        if (Files.isExecutable(candidate)) return candidate;
      }
    }
    String os = System.getProperty("os.name").toLowerCase(Locale.ROOT);
    String arch = System.getProperty("os.arch").toLowerCase(Locale.ROOT);
    boolean x64 = arch.equals("amd64") || arch.equals("x86_64");
    boolean arm = arch.equals("aarch64") || arch.equals("arm64");
    String resource;
    if (os.contains("linux") && x64) {
      resource = "redis-server-6.2.6-v5-linux-amd64";
    } else if (os.contains("linux") && arm) {
      resource = "redis-server-6.2.7-linux-arm64";
    } else if (os.contains("mac") && x64) {
      resource = "redis-server-6.2.6-v5-darwin-amd64";
    } else if (os.contains("mac") && arm) {
      resource = "redis-server-6.2.6-v5-darwin-arm64";
    } else {
      throw new IllegalStateException("no redis-server on the PATH and none shipped for " + os
          + "/" + arch + "; install Redis");
    }
    try (InputStream in = RedisServer.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalStateException("no redis-server on the PATH and " + resource
            + " is not on the classpath (com.github.codemonstur:embedded-redis)");
      }
      Path target = Files.createTempFile("redis-server-", "");
      Files.copy(in, target, StandardCopyOption.REPLACE_EXISTING);
      if (!target.toFile().setExecutable(true)) {
        throw new IllegalStateException("could not make " + target + " executable");
      }
      target.toFile().deleteOnExit();
      return target;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
