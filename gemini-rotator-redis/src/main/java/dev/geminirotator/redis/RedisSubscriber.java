package dev.geminirotator.redis;

import static dev.geminirotator.redis.RedisKeyStateStore.isAuthFailure;
import static dev.geminirotator.redis.RedisKeyStateStore.isConnectionFailure;
import static dev.geminirotator.redis.RedisKeyStateStore.join;
import static dev.geminirotator.redis.RedisKeyStateStore.rootMessage;

import dev.geminirotator.api.spi.StateChange;
import java.time.Duration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import redis.clients.jedis.Connection;
import redis.clients.jedis.JedisPubSub;
import redis.clients.jedis.UnifiedJedis;

/**
 * The subscriber of a {@link RedisKeyStateStore}: its thread subscribes to the change channel
 * and this instance's heartbeat channel, hands other instances' changes to the store's delivery,
 * asks for a reload when a subscription comes back, and reconnects after a disconnect. It owns
 * whether the subscription is up ({@link #subscriberUp}) and the heartbeat the writer sends
 * through it every keepalive ({@link #heartbeat()}). Package-private; the store is its only user.
 *
 * <p>Thread-safe. The subscription's connection and listener are guarded by its own
 * {@code subscriberLock}, taken by the subscriber thread, the writer ({@link #heartbeat()}) and
 * {@link #stop()}; nothing else is locked while it is held. Delivery of a message takes the
 * store's {@code mirror} lock (never with {@code subscriberLock} held). Logs under
 * {@code RedisKeyStateStore}'s logger, as before the split.
 */
final class RedisSubscriber {

  private static final Logger log = LoggerFactory.getLogger(RedisKeyStateStore.class);

  private final RedisKeyStateStore store;
  private final RedisStoreOptions options;
  private final KeyLayout layout;
  private final RedisConnections connections;
  private final WriteQueue queue;
  private final String instanceId;
  private final String ownPrefix;
  private final String description;
  private final Thread subscriber;
  volatile boolean subscriberUp;

  private final Object subscriberLock = new Object();
  private Connection subscriberConnection; // guarded by subscriberLock
  private Listener pubSub; // guarded by subscriberLock
  private volatile long pingSentAt;
  private volatile long pongAt;

  RedisSubscriber(RedisKeyStateStore store, RedisStoreOptions options, KeyLayout layout,
      RedisConnections connections, WriteQueue queue, String instanceId, String ownPrefix,
      String description) {
    this.store = store;
    this.options = options;
    this.layout = layout;
    this.connections = connections;
    this.queue = queue;
    this.instanceId = instanceId;
    this.ownPrefix = ownPrefix;
    this.description = description;
    this.subscriber = new Thread(this::subscribeLoop, "gemini-rotator-redis-subscriber");
    this.subscriber.setDaemon(true);
  }

  /** Starts the subscriber thread. */
  void start() {
    subscriber.start();
  }

  /** Ends the subscription and the subscriber thread, waiting for it a little. */
  void stop() {
    synchronized (subscriberLock) {
      if (pubSub != null && pubSub.isSubscribed()) {
        try {
          pubSub.unsubscribe();
        } catch (RuntimeException e) {
          log.debug("unsubscribe failed", e);
        }
      }
    }
    subscriber.interrupt();
    join(subscriber, Duration.ofSeconds(1));
    synchronized (subscriberLock) {
      if (subscriberConnection != null) subscriberConnection.disconnect();
    }
    join(subscriber, Duration.ofSeconds(1));
  }

  /**
   * Publishes to this instance's heartbeat channel, or drops the subscription's connection when
   * the previous heartbeat got no answer in time. Called by the writer's keepalive.
   */
  void heartbeat() {
    synchronized (subscriberLock) {
      if (pubSub == null || !subscriberUp) return;
      long now = System.currentTimeMillis();
      if (pingSentAt > 0 && pongAt < pingSentAt
          && now - pingSentAt > options.timeout().toMillis()) {
        log.debug("Redis store {}: no answer to the subscriber's ping; reconnecting", description);
        if (subscriberConnection != null) subscriberConnection.disconnect();
        return;
      }
      try {
        // A message to this instance's own heartbeat channel, not PING: Jedis 8.0.2 queues the
        // handler of a subscriber's PING after sending it, so a fast PONG can arrive first and
        // end the subscription ("Unexpected message : PONG").
        store.client().publish(layout.heartbeat(instanceId), "1");
        pingSentAt = now;
      } catch (RuntimeException e) {
        log.debug("subscriber heartbeat failed", e);
      }
    }
  }

  private void subscribeLoop() {
    while (!store.closing) {
      Listener listener = new Listener();
      Connection connection = null;
      Throwable failure = null;
      try {
        connection = connections.subscriberConnection();
        synchronized (subscriberLock) {
          if (store.closing) break;
          subscriberConnection = connection;
          pubSub = listener;
        }
        listener.proceed(connection, layout.channel(), layout.heartbeat(instanceId));
      } catch (RuntimeException e) {
        failure = e;
      } finally {
        synchronized (subscriberLock) {
          subscriberConnection = null;
          pubSub = null;
        }
        if (connection != null) {
          try {
            connection.close();
          } catch (RuntimeException e) {
            // already broken
          }
        }
      }
      subscriberUp = false;
      if (store.closing) break;
      store.dropIdleConnections();
      if (failure != null && isAuthFailure(failure)) {
        store.warnOnce("subscriber-auth", "Redis store {}: the subscriber was refused: {}",
            description, store.redact(rootMessage(failure)));
      }
      store.updateAvailability(failure);
      queue.wake();
      try {
        Thread.sleep(options.retryInterval().toMillis());
      } catch (InterruptedException e) {
        if (store.closing) break;
      }
    }
    subscriberUp = false;
  }

  /** The subscription to the change channel; one per connection. */
  private final class Listener extends JedisPubSub {

    @Override
    public void onSubscribe(String channel, int subscribedChannels) {
      pongAt = System.currentTimeMillis();
      pingSentAt = 0;
      subscriberUp = true;
      store.answeredPlain = true;
      if (store.started) {
        // anything published while this instance was not subscribed was missed: reload
        store.resyncRequested = true;
        queue.wake();
      }
      store.updateAvailability(null);
    }

    @Override
    public void onPong(String pattern) {
      pongAt = System.currentTimeMillis();
    }

    @Override
    public void onMessage(String channel, String message) {
      if (!channel.equals(layout.channel())) {
        pongAt = System.currentTimeMillis(); // this instance's heartbeat came back
        return;
      }
      if (message.startsWith(ownPrefix)) return;
      try {
        received(message);
      } catch (RuntimeException e) {
        store.warnOnce("message", "Redis store {}: ignored a message it could not read on {}: {}",
            description, channel, e.getMessage());
      }
    }
  }

  private void received(String text) {
    Codec.Message m = Codec.parse(text);
    if (m.origin().equals(instanceId)) return;
    if (m.addedId() == null) {
      if (m.change() instanceof StateChange.Cooldown c && !c.cleared()) {
        // a set is published only when Redis moved the cooldown to exactly this end
        store.deliverCooldownAsStored(c.project(), c.model(), Write.Cooldown.slotOf(c.project(),
            c.model()), c.until().toEpochMilli(), m.generation(), false);
      } else {
        store.deliverOrdered(m.change(), m.generation());
      }
      return;
    }
    String json;
    try {
      json = store.client().hget(layout.added(), m.addedId());
    } catch (RuntimeException e) {
      store.resyncRequested = true; // fetch it with the next reload
      if (isConnectionFailure(e)) store.writerDown(e);
      return;
    }
    if (json != null) {
      store.deliverOrdered(new StateChange.KeyAdded(Codec.key(json)), m.generation());
    }
  }
}
