package dev.geminirotator.standalone.http;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.epoll.EpollSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.channel.uring.IoUring;
import io.netty.channel.uring.IoUringIoHandler;
import io.netty.channel.uring.IoUringServerSocketChannel;
import io.netty.channel.uring.IoUringSocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The socket I/O the event loops use ({@code server.transport}). io_uring and epoll are Linux
 * x86-64 native transports; NIO runs everywhere. {@code auto} picks the first of io_uring, epoll
 * and NIO that works here (see {@link #open}): io_uring carried 21% and 31% more requests per
 * second than epoll at 64 connections in two runs on a 2-core machine (benchmarks/README.md), and
 * containers whose seccomp profile blocks io_uring (Docker's default) simply get epoll.
 * Immutable and thread-safe.
 */
public enum Transport {
  IO_URING("io_uring", IoUringIoHandler::newFactory, IoUringServerSocketChannel.class,
      IoUringSocketChannel.class),
  EPOLL("epoll", EpollIoHandler::newFactory, EpollServerSocketChannel.class,
      EpollSocketChannel.class),
  NIO("nio", NioIoHandler::newFactory, NioServerSocketChannel.class, NioSocketChannel.class);

  private static final Logger LOG = LoggerFactory.getLogger(Transport.class);

  /** The values {@code server.transport} accepts, in the order {@code auto} tries them. */
  public static final List<String> NAMES = List.of("auto", "io_uring", "epoll", "nio");

  private final String label;
  private final Supplier<IoHandlerFactory> ioHandlerFactory;
  private final Class<? extends ServerChannel> serverChannel;
  private final Class<? extends SocketChannel> socketChannel;

  Transport(String label, Supplier<IoHandlerFactory> ioHandlerFactory,
      Class<? extends ServerChannel> serverChannel, Class<? extends SocketChannel> socketChannel) {
    this.label = label;
    this.ioHandlerFactory = ioHandlerFactory;
    this.serverChannel = serverChannel;
    this.socketChannel = socketChannel;
  }

  /** The name as written in the configuration. */
  public String label() {
    return label;
  }

  /** The transport in use and its event loops. Immutable. */
  public record Opened(Transport transport, EventLoopGroup loops) {
  }

  /**
   * Starts the event loops on the first of the candidates whose loops can be created, moving on
   * (with a warning) when one's cannot. {@code auto}'s candidates are every transport that loads
   * here, in order; a named transport's, only itself. A transport can load and its loops still
   * fail: io_uring loads with a one-entry ring, and the loops' full-size rings can be refused
   * (locked memory on kernels before 5.12, for one).
   *
   * @param candidates what {@link #candidates} gave for the configured name
   * @param newLoops creates the event loops on a transport; a failure is a RuntimeException
   * @throws IllegalStateException when no candidate's loops could be created; the message names
   *     each transport tried and its reason
   */
  public static Opened open(List<Transport> candidates,
      Function<Transport, EventLoopGroup> newLoops) {
    List<String> reasons = new ArrayList<>(candidates.size());
    RuntimeException first = null;
    for (int i = 0; i < candidates.size(); i++) {
      Transport t = candidates.get(i);
      try {
        return new Opened(t, newLoops.apply(t));
      } catch (RuntimeException e) {
        if (first == null) first = e; else first.addSuppressed(e);
        reasons.add(t.label + ": " + rootCause(e));
        if (i + 1 < candidates.size()) {
          LOG.warn("server.transport auto: {} event loops could not start ({}); trying {}",
              t.label, rootCause(e), candidates.get(i + 1).label);
        }
      }
    }
    String message = candidates.size() == 1
        ? "server.transport " + candidates.get(0).label + ": the event loops could not start ("
            + rootCause(first) + ")"
        : "server.transport auto: no transport's event loops could start ("
            + String.join("; ", reasons) + ")";
    throw new IllegalStateException(message, first);
  }

  /**
   * The transports a configured name may run on here, in the order to try them: for
   * {@code auto} each that loads (NIO always does), else the one named.
   *
   * @throws IllegalArgumentException for a name not in {@link #NAMES}
   * @throws IllegalStateException when the named native transport does not load here
   */
  public static List<Transport> candidates(String name) {
    switch (name.toLowerCase(Locale.ROOT)) {
      case "auto":
        List<Transport> loaded = new ArrayList<>(3);
        if (IoUring.isAvailable()) loaded.add(IO_URING);
        if (Epoll.isAvailable()) loaded.add(EPOLL);
        loaded.add(NIO);
        return loaded;
      case "io_uring":
        if (IoUring.isAvailable()) return List.of(IO_URING);
        throw unavailable(name, IoUring.unavailabilityCause());
      case "epoll":
        if (Epoll.isAvailable()) return List.of(EPOLL);
        throw unavailable(name, Epoll.unavailabilityCause());
      case "nio":
        return List.of(NIO);
      default:
        throw new IllegalArgumentException("server.transport must be one of "
            + String.join(", ", NAMES) + " but was " + name);
    }
  }

  private static IllegalStateException unavailable(String name, Throwable cause) {
    return new IllegalStateException("server.transport " + name + " is not available on this"
        + " machine (" + cause + "); use auto, which falls back to what works, or nio", cause);
  }

  private static String rootCause(Throwable e) {
    Throwable root = e;
    while (root.getCause() != null && root.getCause() != root) root = root.getCause();
    return root.toString();
  }

  public IoHandlerFactory ioHandlerFactory() {
    return ioHandlerFactory.get();
  }

  public Class<? extends ServerChannel> serverChannel() {
    return serverChannel;
  }

  public Class<? extends SocketChannel> socketChannel() {
    return socketChannel;
  }
}
