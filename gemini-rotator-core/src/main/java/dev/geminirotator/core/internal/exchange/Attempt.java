package dev.geminirotator.core.internal.exchange;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.core.internal.affinity.Affinity;
import dev.geminirotator.core.attempt.AttemptPolicy.Decision;
import java.time.Duration;
import java.util.Arrays;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One attempt of a {@link GeminiExchange} with one leased key, as its transport sees it: the key to
 * send with, the scrubber for its answer, and, for a success whose body streams on, where the
 * transport reports the body's end. The lease is completed, and the request's attempts told,
 * exactly once, whichever of the exchange, the body's end, a failure or a cancel gets there
 * first. Thread-safe: the lease's own completion decides who wins; {@link #tee} is called by the
 * one thread reading the body.
 */
public final class Attempt {

  private static final Logger log = LoggerFactory.getLogger(Attempt.class);

  private final ExchangeRun<?> run;
  private final KeyLease lease;
  private final long startNanos;
  private SecretScrubber scrubber;
  /** The success's status and headers, for {@link Affinity#served}; set when it is served. */
  private int status;
  private Function<String, String> headers;
  /** The teed start of a success's body, while {@link #teeing()}. */
  private byte[] teed;
  private int teedLength;

  Attempt(ExchangeRun<?> run, KeyLease lease) {
    this.run = run;
    this.lease = lease;
    this.startNanos = System.nanoTime();
  }

  /** The key to send with. Its secret goes only into the upstream request. */
  public ApiKey key() {
    return lease.key();
  }

  /**
   * What every pool key in this attempt's answer (body or header) is replaced with its id by:
   * Gemini names the key in some messages.
   */
  public SecretScrubber scrubber() {
    SecretScrubber s = scrubber;
    if (s == null) {
      s = SecretScrubber.forAttempt(run.exchange.rotator(), lease.key());
      scrubber = s;
    }
    return s;
  }

  /**
   * Whether the transport should {@link #tee} the success body's first bytes while it streams
   * them: the request creates a resource the answer names ({@link Affinity#readsAnswer}).
   */
  public boolean teeing() {
    return teed != null && teedLength < teed.length;
  }

  /** Copies body bytes that just passed to the caller, up to {@link Affinity#MAX_ANSWER_BYTES}. */
  public void tee(byte[] bytes, int offset, int length) {
    if (teed == null) return;
    int n = Math.min(length, teed.length - teedLength);
    if (n <= 0) return;
    System.arraycopy(bytes, offset, teed, teedLength, n);
    teedLength += n;
  }

  /** The success body was read to its end (or closed after some of it was read): success. */
  public void succeeded() {
    if (complete(Outcome.success())) {
      run.served(this);
    }
  }

  /** Reading the success body failed below HTTP: a transport error of the key's attempt. */
  public void failed(Throwable failure) {
    complete(run.exchange.classifier().classifyTransportFailure(failure));
  }

  /** The caller gave up on the body (closed it unread, cancelled): nobody is blamed. */
  public void cancelled() {
    complete(Outcome.cancelled());
  }

  /** Whether the attempt is complete (its lease released). */
  public boolean done() {
    return lease.isCompleted();
  }

  // ---------------------------------------------------------------------------------------------
  // The exchange's side

  /** A success is being served: remember its head for the affinity, start teeing if asked. */
  void serving(int status, Function<String, String> headers, boolean readsAnswer) {
    this.status = status;
    this.headers = headers;
    if (readsAnswer) teed = new byte[Affinity.MAX_ANSWER_BYTES];
  }

  int status() {
    return status;
  }

  Function<String, String> headers() {
    return headers;
  }

  byte[] teedBytes() {
    return teed == null ? null : Arrays.copyOf(teed, teedLength);
  }

  /** Completes the lease and reports to the guard unless the attempt was completed already. */
  boolean complete(Outcome outcome) {
    if (!lease.complete(outcome)) {
      return false;
    }
    run.attempts.record(lease.key(), outcome, elapsed());
    logCompleted(outcome);
    return true;
  }

  /** Completes the lease without telling anyone: a discovery miss, which blames nobody. */
  boolean release() {
    boolean released = lease.complete(Outcome.cancelled());
    if (released) logCompleted(Outcome.cancelled());
    return released;
  }

  /**
   * Completes the lease with the outcome of an answer the loop decides on and returns what
   * follows; {@link Decision#returnResult()} when the attempt was completed already.
   */
  Decision decide(Outcome outcome) {
    if (!lease.complete(outcome)) {
      return Decision.returnResult();
    }
    Decision decision = run.attempts.completed(lease.key(), outcome, elapsed());
    logCompleted(outcome);
    return decision;
  }

  Duration elapsed() {
    return Duration.ofNanos(System.nanoTime() - startNanos);
  }

  private void logCompleted(Outcome outcome) {
    if (log.isDebugEnabled()) {
      log.debug("attempt with key {} for model {} completed: {}", lease.key().id(),
          run.request.model(), outcome.kind());
    }
  }

  @Override
  public String toString() {
    return "Attempt{key=" + lease.key().id() + '}';
  }
}
