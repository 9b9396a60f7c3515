package dev.geminirotator.standalone.http;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Eventually;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.EventLoop;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.codec.http.DefaultFullHttpRequest;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpVersion;
import java.net.URI;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import mockwebserver3.MockResponse;
import mockwebserver3.MockWebServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Upstream attempts on their own: the request timeout, watched by one sweep per event loop instead
 * of a timer per attempt (a slow attempt fails in time, also while waiting for a connection; a
 * finished one leaves nothing behind; the sweep stops once nothing is watched), and host names
 * resolved off the event loop.
 */
class UpstreamDeadlineTest {

  private final MockWebServer server = new MockWebServer();
  private MultiThreadIoEventLoopGroup group;
  private Upstream upstream;

  @BeforeEach
  void start() throws Exception {
    server.start(java.net.InetAddress.getByName("127.0.0.1"), 0);
    group = new MultiThreadIoEventLoopGroup(2, NioIoHandler.newFactory());
    upstream = new Upstream(URI.create("http://127.0.0.1:" + server.getPort()), group,
        NioSocketChannel.class, 16, Duration.ofSeconds(2), Duration.ofSeconds(30), Runnable::run);
  }

  @AfterEach
  void stop() throws Exception {
    upstream.close();
    group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
    server.close();
  }

  private CompletableFuture<Integer> send(EventLoop loop, Duration timeout) {
    return send(upstream, loop, timeout);
  }

  /** Sends one request on {@code loop}; completes with its status, or fails with its failure. */
  private static CompletableFuture<Integer> send(Upstream upstream, EventLoop loop,
      Duration timeout) {
    CompletableFuture<Integer> done = new CompletableFuture<>();
    loop.execute(() -> {
      int[] status = new int[1];
      Upstream.Attempt a = upstream.attempt(loop, new DefaultFullHttpRequest(HttpVersion.HTTP_1_1,
          HttpMethod.GET, "/v1beta/models", Unpooled.EMPTY_BUFFER), new Upstream.Listener() {
            @Override
            public void onHeaders(HttpResponse response) {
              status[0] = response.status().code();
            }

            @Override
            public void onContent(ByteBuf content, boolean last) {
              content.release();
              if (last) done.complete(status[0]);
            }

            @Override
            public void onFailure(Throwable failure) {
              done.completeExceptionally(failure);
            }
          }, timeout);
      a.go();
    });
    return done;
  }

  @Test
  void aSlowAttemptFailsAtItsDeadlineAndTheSweepStopsAfterwards() throws Exception {
    server.enqueue(new MockResponse.Builder().code(200).body("{}")
        .headersDelay(5, TimeUnit.SECONDS).build());
    long start = System.nanoTime();
    CompletableFuture<Integer> slow = send(group.next(), Duration.ofMillis(300));

    Throwable failure = slow.handle((status, t) -> t).get(5, TimeUnit.SECONDS);
    long millis = (System.nanoTime() - start) / 1_000_000;

    assertThat(failure).isInstanceOf(TimeoutException.class)
        .hasMessageContaining("no complete upstream response within");
    assertThat(millis).as("the 300 ms timeout plus at most a sweep interval, not the 5 s delay")
        .isBetween(290L, 300 + Upstream.DEADLINE_TICK_MILLIS + 1_000);
    awaitNothingWatched();
  }

  @Test
  void finishedAttemptsLeaveNothingWatched() throws Exception {
    int n = 40;
    for (int i = 0; i < n; i++) server.enqueue(new MockResponse.Builder().code(200).body("{}")
        .build());
    CompletableFuture<?>[] all = new CompletableFuture<?>[n];
    for (int i = 0; i < n; i++) all[i] = send(group.next(), Duration.ofSeconds(30));
    CompletableFuture.allOf(all).get(10, TimeUnit.SECONDS);

    for (CompletableFuture<?> f : all) assertThat(f.get()).isEqualTo(200);
    awaitNothingWatched();
  }

  @Test
  void anAttemptWaitingForAConnectionTimesOutAndLeavesTheQueue() throws Exception {
    // One connection allowed: the first attempt holds it for a second, the second waits.
    Upstream one = new Upstream(URI.create("http://127.0.0.1:" + server.getPort()), group,
        NioSocketChannel.class, 1, Duration.ofSeconds(2), Duration.ofSeconds(30), Runnable::run);
    try {
      server.enqueue(new MockResponse.Builder().code(200).body("{}")
          .headersDelay(3, TimeUnit.SECONDS).build());
      server.enqueue(new MockResponse.Builder().code(201).body("{}").build());
      EventLoop loop = group.next();
      CompletableFuture<Integer> holder = send(one, loop, Duration.ofSeconds(10));
      // The signal that the first attempt holds the only connection: its request arrived.
      assertThat(server.takeRequest(10, TimeUnit.SECONDS)).isNotNull();
      CompletableFuture<Integer> waiter = send(one, loop, Duration.ofMillis(300));

      Throwable failure = waiter.handle((status, t) -> t).get(5, TimeUnit.SECONDS);
      assertThat(failure).isInstanceOf(TimeoutException.class);
      assertThat(one.waiting()).as("the timed-out attempt left the queue").isZero();
      assertThat(holder.get(10, TimeUnit.SECONDS)).isEqualTo(200);
      assertThat(server.getRequestCount()).as("the timed-out attempt was never sent").isEqualTo(1);
    } finally {
      one.close();
    }
  }

  @Test
  void aHostNameIsResolvedOffTheEventLoop() throws Exception {
    // "localhost" comes from /etc/hosts: no traffic leaves the machine.
    java.util.List<String> resolvedOn = new java.util.concurrent.CopyOnWriteArrayList<>();
    java.util.concurrent.ExecutorService lookups = java.util.concurrent.Executors
        .newSingleThreadExecutor(r -> new Thread(r, "test-resolver"));
    Upstream named = new Upstream(URI.create("http://localhost:" + server.getPort()), group,
        NioSocketChannel.class, 4, Duration.ofSeconds(2), Duration.ofSeconds(30),
        task -> lookups.execute(() -> {
          resolvedOn.add(Thread.currentThread().getName());
          task.run();
        }));
    try {
      server.enqueue(new MockResponse.Builder().code(200).body("{}").build());
      assertThat(send(named, group.next(), Duration.ofSeconds(5)).get(5, TimeUnit.SECONDS))
          .isEqualTo(200);
      assertThat(resolvedOn).as("one lookup, on the resolver's thread")
          .containsExactly("test-resolver");
    } finally {
      named.close();
      lookups.shutdownNow();
    }
  }

  @Test
  void withoutATimeoutNothingIsWatched() throws Exception {
    server.enqueue(new MockResponse.Builder().code(200).body("{}")
        .headersDelay(2, TimeUnit.SECONDS).build());
    CompletableFuture<Integer> call = send(group.next(), Duration.ZERO);
    // The attempt is in flight (its request arrived; the answer is held back): nothing watches it.
    assertThat(server.takeRequest(10, TimeUnit.SECONDS)).isNotNull();
    assertThat(call).isNotDone();
    assertThat(upstream.watched()).containsExactly(0, 0);
    assertThat(call.get(5, TimeUnit.SECONDS)).isEqualTo(200);
  }

  private void awaitNothingWatched() throws Exception {
    Eventually.untilAsserted("nothing watched", () -> assertThat(upstream.watched())
        .as("attempts watched, loops sweeping").containsExactly(0, 0));
  }
}
