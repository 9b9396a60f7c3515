package dev.geminirotator.standalone;

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
import java.util.List;
import java.util.Locale;
import java.util.function.Supplier;

/**
 * The socket I/O the event loops use ({@code server.transport}). io_uring and epoll are Linux
 * x86-64 native transports; NIO runs everywhere. {@code auto} picks the first of io_uring, epoll
 * and NIO that works here: io_uring measured about 20% more requests per second than epoll at
 * 64 connections on a 2-core machine (benchmarks/README.md), and containers whose seccomp profile
 * blocks io_uring (Docker's default) simply get epoll.
 */
enum Transport {
  IO_URING("io_uring", IoUringIoHandler::newFactory, IoUringServerSocketChannel.class,
      IoUringSocketChannel.class),
  EPOLL("epoll", EpollIoHandler::newFactory, EpollServerSocketChannel.class,
      EpollSocketChannel.class),
  NIO("nio", NioIoHandler::newFactory, NioServerSocketChannel.class, NioSocketChannel.class);

  /** The values {@code server.transport} accepts, in the order {@code auto} tries them. */
  static final List<String> NAMES = List.of("auto", "io_uring", "epoll", "nio");

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
  String label() {
    return label;
  }

  /**
   * The transport a configured name stands for on this machine.
   *
   * @throws IllegalArgumentException for a name not in {@link #NAMES}
   * @throws IllegalStateException when the named native transport cannot load here, with the
   *     reason as its cause
   */
  static Transport resolve(String name) {
    switch (name.toLowerCase(Locale.ROOT)) {
      case "auto":
        if (IoUring.isAvailable()) return IO_URING;
        if (Epoll.isAvailable()) return EPOLL;
        return NIO;
      case "io_uring":
        if (IoUring.isAvailable()) return IO_URING;
        throw unavailable(name, IoUring.unavailabilityCause());
      case "epoll":
        if (Epoll.isAvailable()) return EPOLL;
        throw unavailable(name, Epoll.unavailabilityCause());
      case "nio":
        return NIO;
      default:
        throw new IllegalArgumentException("server.transport must be one of "
            + String.join(", ", NAMES) + " but was " + name);
    }
  }

  private static IllegalStateException unavailable(String name, Throwable cause) {
    return new IllegalStateException("server.transport " + name + " is not available on this"
        + " machine (" + cause + "); use auto, which falls back to what works, or nio", cause);
  }

  IoHandlerFactory ioHandlerFactory() {
    return ioHandlerFactory.get();
  }

  Class<? extends ServerChannel> serverChannel() {
    return serverChannel;
  }

  Class<? extends SocketChannel> socketChannel() {
    return socketChannel;
  }
}
