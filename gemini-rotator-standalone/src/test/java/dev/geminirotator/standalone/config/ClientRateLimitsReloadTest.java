package dev.geminirotator.standalone.config;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.redis.RedisKeyStateStore;
import dev.geminirotator.testsupport.redis.RedisServer;
import dev.geminirotator.redis.RedisStoreOptions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Shared per-client limits that a reload replaced (and closed) while requests still held them:
 * those requests are limited, never failed.
 */
class ClientRateLimitsReloadTest {

  private RedisServer redis;
  private RedisKeyStateStore store;

  @BeforeEach
  void start() {
    redis = RedisServer.startOnFreePort();
    store = RedisKeyStateStore.open(RedisStoreOptions.builder().host("127.0.0.1")
        .port(redis.port()).build());
  }

  @AfterEach
  void stop() {
    store.close();
    redis.close();
  }

  @Test
  void aNewClientOnLimitsClosedByAReloadIsLimitedLocallyNotFailed() {
    ClientRateLimits old = new ClientRateLimits(2, store, Clock.systemUTC());
    assertThat(old.shared()).isTrue();
    assertThat(old.tryAcquire("known")).isEqualTo(-1);
    // the request read the old limits, then the reload closed them
    old.close();
    assertThat(old.tryAcquire("new-client")).as("a new client").isEqualTo(-1);
    assertThat(old.tryAcquire("new-client")).isEqualTo(-1);
    assertThat(old.tryAcquire("new-client")).as("still limited, locally").isPositive();
    assertThat(old.tryAcquire("known")).as("a known client").isEqualTo(-1);
  }

  @Test
  void requestsRacingTheCloseAllGetAnAnswer() throws Exception {
    ClientRateLimits old = new ClientRateLimits(1_000, store, Clock.systemUTC());
    ExecutorService threads = Executors.newFixedThreadPool(4);
    try {
      CountDownLatch go = new CountDownLatch(1);
      List<Future<Integer>> results = new ArrayList<>();
      java.util.concurrent.CountDownLatch half = new java.util.concurrent.CountDownLatch(4);
      for (int t = 0; t < 4; t++) {
        int thread = t;
        results.add(threads.submit(() -> {
          go.await();
          int answered = 0;
          for (int i = 0; i < 2_000; i++) {
            if (i == 1_000) half.countDown();
            long retryAfter = old.tryAcquire("client-" + thread + "-" + i); // new clients
            if (retryAfter == -1 || retryAfter > 0) answered++;
          }
          return answered;
        }));
      }
      go.countDown();
      // Close once every thread is half-way through: calls still running race the close.
      half.await();
      old.close();
      for (Future<Integer> f : results) assertThat(f.get()).isEqualTo(2_000);
    } finally {
      threads.shutdownNow();
    }
  }
}
