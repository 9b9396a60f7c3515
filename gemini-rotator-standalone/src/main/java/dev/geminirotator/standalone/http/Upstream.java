package dev.geminirotator.standalone.http;

import io.netty.bootstrap.Bootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpClientCodec;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.AsciiString;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.EventExecutor;
import io.netty.util.concurrent.ScheduledFuture;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;

/**
 * The proxy→upstream HTTP/1.1 client: keep-alive connections to the one upstream origin, pooled
 * per event loop, so that a request and its upstream connection share the client connection's
 * thread (no hand-off between threads per request). At most {@code max-connections} in all;
 * requests beyond wait for a free connection. TLS (with host-name verification) for https.
 * Thread-safe.
 */
public final class Upstream implements AutoCloseable {

  /** Requests that may wait for a connection, per event loop. */
  static final int MAX_PENDING = 65_536;

  /**
   * How often each event loop looks for attempts past their {@code request-timeout}, which may
   * therefore run up to this much longer. One sweep over the loop's attempts in flight replaces
   * a timer scheduled and cancelled per attempt (1% of the proxy's Java samples under load).
   */
  static final long DEADLINE_TICK_MILLIS = 100;

  private final String host;
  private final int port;
  private final AsciiString authority;
  private final SslContext ssl;
  private final Duration idleTimeout;
  /** Where host names are resolved: a lookup blocks, so never on an event loop. */
  private final Executor resolver;
  private final Map<EventExecutor, LoopPool> pools = new HashMap<>();
  /** {@code upstream.max-connections}: one budget for all event loops. */
  private final int maxConnections;
  /** Connections open or opening, on every loop. */
  private final java.util.concurrent.atomic.AtomicInteger open =
      new java.util.concurrent.atomic.AtomicInteger();

  /** Takes a connection slot if one is free. */
  private boolean reserve() {
    for (int n = open.get(); n < maxConnections; n = open.get()) {
      if (open.compareAndSet(n, n + 1)) return true;
    }
    return false;
  }

  /** A slot came free: the loops with waiting attempts (this one first) may use it. */
  private void slotFreed(LoopPool from) {
    open.decrementAndGet();
    if (from.waitingCount > 0) {
      from.next();
      return;
    }
    for (LoopPool p : pools.values()) {
      if (p != from && p.waitingCount > 0) {
        p.loop.execute(p::next);
        return;
      }
    }
  }

  /** Whether another loop has attempts waiting for a slot. */
  private boolean othersWaiting(LoopPool self) {
    for (LoopPool p : pools.values()) {
      if (p != self && p.waitingCount > 0) return true;
    }
    return false;
  }

  public Upstream(URI base, EventLoopGroup group, Class<? extends SocketChannel> channelType,
      int maxConnections, Duration connectTimeout, Duration idleTimeout, Executor resolver)
      throws SSLException {
    boolean tls = "https".equalsIgnoreCase(base.getScheme());
    this.host = base.getHost();
    this.port = base.getPort() > 0 ? base.getPort() : tls ? 443 : 80;
    this.authority = new AsciiString(base.getPort() > 0 ? host + ":" + port : host);
    this.ssl = tls ? SslContextBuilder.forClient().build() : null;
    this.idleTimeout = idleTimeout;
    this.resolver = resolver;
    this.maxConnections = maxConnections;
    for (EventExecutor e : group) {
      Bootstrap b = new Bootstrap().group((EventLoop) e).channel(channelType)
          .option(ChannelOption.TCP_NODELAY, true)
          .option(ChannelOption.ALLOCATOR, Listeners.ALLOCATOR)
          .option(ChannelOption.SO_KEEPALIVE, true)
          .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) Math.min(Integer.MAX_VALUE,
              Math.max(1, connectTimeout.toMillis())));
      b.handler(new ChannelInitializer<Channel>() {
        @Override
        protected void initChannel(Channel ch) {
          Upstream.this.initChannel(ch);
        }
      });
      pools.put(e, new LoopPool(b, (EventLoop) e));
    }
  }

  /** The {@code Host} header for upstream requests. */
  public AsciiString authority() {
    return authority;
  }

  private void initChannel(Channel ch) {
    if (ssl != null) {
      SslHandler handler = ssl.newHandler(ch.alloc(), host, port);
      SSLEngine engine = handler.engine();
      SSLParameters params = engine.getSSLParameters();
      params.setEndpointIdentificationAlgorithm("HTTPS");
      engine.setSSLParameters(params);
      ch.pipeline().addLast(handler);
    }
    long idle = idleTimeout.toMillis();
    IdleStateHandler idleHandler = idle > 0
        ? new IdleStateHandler(idle, 0, 0, TimeUnit.MILLISECONDS) : null;
    if (idleHandler != null) ch.pipeline().addLast(idleHandler);
    ch.pipeline().addLast(new HttpClientCodec(new HttpDecoderConfig().setMaxInitialLineLength(4096)
        .setMaxHeaderSize(64 * 1024).setMaxChunkSize(16 * 1024)
        .setTrailersFactory(HeaderNames.DISCARDED_TRAILERS), false, false));
    ch.pipeline().addLast(new UpstreamConnection(ch, idleHandler));
  }

  /**
   * An attempt to send {@code request} (released by it) on a connection of {@code loop}'s pool,
   * started by {@link Attempt#go()}; {@code listener} hears on {@code loop}, possibly before
   * {@code go()} returns. A {@code timeout} above zero bounds the whole exchange. Call on
   * {@code loop}.
   */
  public Attempt attempt(EventLoop loop, FullHttpRequest request, Listener listener,
      Duration timeout) {
    LoopPool pool = pools.get(loop);
    if (pool == null) throw new IllegalStateException("not an event loop of this proxy");
    return new Attempt(pool, request, listener, timeout);
  }

  @Override
  public void close() {
    for (LoopPool p : pools.values()) p.close();
  }

  /** Attempts waiting for a connection, over every loop. For tests. */
  int waiting() {
    int n = 0;
    for (LoopPool p : pools.values()) n += p.waitingCount;
    return n;
  }

  /**
   * Attempts whose deadline is watched, and loops sweeping for them, over every loop: waits for
   * each loop to answer. For tests.
   */
  int[] watched() throws Exception {
    int attempts = 0;
    int sweeping = 0;
    for (LoopPool p : pools.values()) {
      int[] one = p.loop.submit(() -> new int[] {p.timedCount, p.sweeper == null ? 0 : 1}).get();
      attempts += one[0];
      sweeping += one[1];
    }
    return new int[] {attempts, sweeping};
  }

  /**
   * One event loop's upstream connections: the idle ones (most recently used first), how many are
   * open or opening, and the attempts waiting for one. Confined to its loop, so it needs no lock
   * and no promise per request (Netty's FixedChannelPool made six per request here).
   */
  private final class LoopPool {
    private final Bootstrap bootstrap;
    private final EventLoop loop;
    private final ArrayDeque<UpstreamConnection> idle = new ArrayDeque<>();
    private final ArrayDeque<Attempt> waiting = new ArrayDeque<>();
    /** {@code waiting.size()}, for the other loops to read. */
    private volatile int waitingCount;
    private boolean closed;
    /** Attempts with a deadline, in a list linked through them: O(1) to add and remove. */
    private Attempt timedFirst;
    private Attempt timedLast;
    private int timedCount;
    private ScheduledFuture<?> sweeper;

    LoopPool(Bootstrap bootstrap, EventLoop loop) {
      this.bootstrap = bootstrap;
      this.loop = loop;
    }

    void acquire(Attempt attempt) {
      if (closed) {
        attempt.fail(new RejectedExecutionException("the proxy is shutting down"));
        return;
      }
      UpstreamConnection c = idle.pollFirst();
      if (c != null) {
        attempt.start(c);
      } else if (reserve()) {
        connect(attempt);
      } else if (waiting.size() < MAX_PENDING) {
        waiting.add(attempt);
        waitingCount = waiting.size();
        // Every slot is taken: connections idle on other loops give theirs up.
        for (LoopPool p : pools.values()) {
          if (p != this) p.loop.execute(p::shedIdle);
        }
      } else {
        attempt.fail(new RejectedExecutionException(
            "too many requests waiting for an upstream connection"));
      }
    }

    void removeWaiting(Attempt attempt) {
      waiting.remove(attempt);
      waitingCount = waiting.size();
    }

    /** With a slot reserved: opens a connection for {@code attempt}. */
    private void connect(Attempt attempt) {
      if (NetUtil.isValidIpV4Address(host) || NetUtil.isValidIpV6Address(host)) {
        connect(attempt, new InetSocketAddress(NetUtil.createInetAddressFromIpAddressString(host),
            port));
        return;
      }
      try {
        resolver.execute(() -> {
          InetSocketAddress address;
          try {
            address = new InetSocketAddress(InetAddress.getByName(host), port);
          } catch (UnknownHostException e) {
            loop.execute(() -> connectFailed(attempt, e));
            return;
          }
          loop.execute(() -> connect(attempt, address));
        });
      } catch (RejectedExecutionException e) {
        connectFailed(attempt, e);
      }
    }

    private void connectFailed(Attempt attempt, Throwable cause) {
      attempt.fail(cause);
      slotFreed(this);
    }

    private void connect(Attempt attempt, InetSocketAddress address) {
      bootstrap.connect(address).addListener(f -> {
        io.netty.channel.ChannelFuture cf = (io.netty.channel.ChannelFuture) f;
        if (!cf.isSuccess()) {
          connectFailed(attempt, cf.cause());
          return;
        }
        Channel ch = cf.channel();
        // once per connection
        UpstreamConnection c = ch.pipeline().get(UpstreamConnection.class);
        ch.closeFuture().addListener(x -> {
          idle.remove(c);
          slotFreed(this);
        });
        if (attempt.finished) {
          release(c, true);
        } else {
          attempt.start(c);
        }
      });
    }

    /** Hands a connection back: to the next waiting attempt, to the idle set, or closed. */
    void release(UpstreamConnection c, boolean reusable) {
      if (!reusable || closed || !c.channel.isActive()) {
        c.channel.close(); // its close listener frees the slot
        return;
      }
      for (Attempt w; (w = waiting.poll()) != null; ) {
        waitingCount = waiting.size();
        if (!w.finished) {
          w.start(c);
          return;
        }
      }
      if (open.get() >= maxConnections && othersWaiting(this)) {
        c.channel.close(); // another loop needs the slot more than this loop needs an idle one
        return;
      }
      idle.addFirst(c);
    }

    /** Closes one idle connection, so that its slot goes to a loop that waits for one. */
    private void shedIdle() {
      UpstreamConnection c = idle.pollLast();
      if (c != null) c.channel.close();
    }

    /** A slot may be free: open a connection for the next waiting attempt. */
    void next() {
      if (closed) return;
      while (!waiting.isEmpty()) {
        if (!reserve()) return;
        Attempt w = waiting.poll();
        waitingCount = waiting.size();
        if (w.finished) {
          open.decrementAndGet(); // give the slot back and look again
          continue;
        }
        connect(w);
        return;
      }
    }

    /** Watches {@code a}'s deadline from now on. */
    void track(Attempt a) {
      a.timedPrev = timedLast;
      if (timedLast == null) {
        timedFirst = a;
      } else {
        timedLast.timedNext = a;
      }
      timedLast = a;
      a.tracked = true;
      timedCount++;
      if (sweeper == null) {
        sweeper = loop.scheduleAtFixedRate(this::sweep, DEADLINE_TICK_MILLIS,
            DEADLINE_TICK_MILLIS, TimeUnit.MILLISECONDS);
      }
    }

    void untrack(Attempt a) {
      if (!a.tracked) return;
      a.tracked = false;
      timedCount--;
      if (a.timedPrev == null) {
        timedFirst = a.timedNext;
      } else {
        a.timedPrev.timedNext = a.timedNext;
      }
      if (a.timedNext == null) {
        timedLast = a.timedPrev;
      } else {
        a.timedNext.timedPrev = a.timedPrev;
      }
      a.timedPrev = null;
      a.timedNext = null;
    }

    /** Fails the attempts past their deadline; stops when none is left to watch. */
    private void sweep() {
      long now = System.nanoTime();
      List<Attempt> expired = null;
      for (Attempt a = timedFirst; a != null; a = a.timedNext) {
        if (now - a.deadline >= 0) {
          if (expired == null) expired = new ArrayList<>();
          expired.add(a);
        }
      }
      // Failed after the walk: a failure may start a retry, which joins the list.
      if (expired != null) {
        for (Attempt a : expired) {
          a.fail(new TimeoutException("no complete upstream response within " + a.timeout));
        }
      }
      if (timedFirst == null && sweeper != null) {
        sweeper.cancel(false);
        sweeper = null;
      }
    }

    void close() {
      loop.execute(() -> {
        closed = true;
        for (UpstreamConnection c; (c = idle.poll()) != null; ) c.channel.close();
        for (Attempt w; (w = waiting.poll()) != null; ) {
          w.fail(new RejectedExecutionException("the proxy is shutting down"));
        }
        waitingCount = 0;
      });
    }
  }

  /** What one attempt hears, on its event loop; after a failure or the last content, nothing. */
  public interface Listener {
    void onHeaders(HttpResponse response);

    /** A piece of the body (the listener releases it); {@code last} ends the response. */
    void onContent(ByteBuf content, boolean last);

    void onFailure(Throwable failure);
  }

  /** One request on one upstream connection. Event-loop confined. */
  public static final class Attempt {
    private final LoopPool pool;
    private final Listener listener;
    private FullHttpRequest request;
    /** The connection the request went out on, once it has one. */
    private UpstreamConnection connection;
    /** While {@link #tracked}: when the attempt times out ({@link System#nanoTime()}). */
    private long deadline;
    private boolean tracked;
    private Attempt timedPrev;
    private Attempt timedNext;
    boolean finished;
    private boolean keepAlive = true;

    private final Duration timeout;

    private Attempt(LoopPool pool, FullHttpRequest request, Listener listener,
        Duration timeout) {
      this.pool = pool;
      this.request = request;
      this.listener = listener;
      this.timeout = timeout;
    }

    /** Starts the attempt: a connection now, or when one is free. */
    public void go() {
      if (!timeout.isZero()) {
        deadline = System.nanoTime() + timeout.toNanos();
        pool.track(this);
      }
      pool.acquire(this);
    }

    /** Sends the request on {@code ch}, now this attempt's. */
    private void start(UpstreamConnection c) {
      Channel ch = c.channel;
      connection = c;
      c.attempt = this;
      // The idle clock counts reads only: a connection idle in the pool starts afresh.
      if (c.idle != null) c.idle.resetReadTimeout();
      FullHttpRequest r = request;
      request = null;
      // A failed write reaches UpstreamConnection.exceptionCaught, which fails this attempt:
      // no promise (and listener) per request.
      ch.writeAndFlush(r, ch.voidPromise());
    }

    /** Stops reading the response (the client is slow); {@link #resume} reads on. */
    public void pause() {
      if (connection != null) connection.channel.config().setAutoRead(false);
    }

    public void resume() {
      if (connection != null && !finished) {
        connection.channel.config().setAutoRead(true);
        connection.channel.read();
      }
    }

    /** Abandons the exchange: the connection closes, the listener hears {@code cause}. */
    public void abort(Throwable cause) {
      fail(cause);
    }

    void fail(Throwable cause) {
      if (finished) return;
      finished = true;
      pool.untrack(this);
      if (request != null) {
        request.release();
        request = null;
      }
      UpstreamConnection c = connection;
      if (c != null) {
        c.attempt = null;
        pool.release(c, false);
      } else {
        pool.removeWaiting(this); // no longer waiting: neither a slot nor its body held
      }
      listener.onFailure(cause);
    }

    void headers(HttpResponse response) {
      keepAlive = HttpUtil.isKeepAlive(response);
      listener.onHeaders(response);
    }

    void content(ByteBuf content, boolean last) {
      if (last) {
        finished = true;
        pool.untrack(this);
        UpstreamConnection c = connection;
        c.attempt = null;
        c.channel.config().setAutoRead(true);
        pool.release(c, keepAlive);
      }
      listener.onContent(content, last);
    }
  }
}
