package dev.geminirotator.core.internal.exchange;

import dev.geminirotator.api.Outcome;
import dev.geminirotator.core.internal.affinity.Placement;
import java.io.IOException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * One asynchronous request of {@link GeminiExchange#executeAsync}: each step runs after the
 * previous one's stage completed, backoffs are scheduled, and a cancel of {@link #future} stops
 * it. Thread-safe as far as a cancel from another thread goes; the steps run in sequence.
 */
final class AsyncExchangeRun<R> {
  final ExchangeRun<R> run;
  final ScheduledExecutorService scheduler;
  final CompletableFuture<R> future = new CompletableFuture<>();
  volatile boolean cancelled;

  AsyncExchangeRun(ExchangeRun<R> run, ScheduledExecutorService scheduler) {
    this.run = run;
    this.scheduler = scheduler;
  }

  void start(Placement placement) {
    if (future.isDone()) return;
    if (!run.start(placement)) {
      finish();
      return;
    }
    step();
  }

  void step() {
    if (cancelled || future.isDone()) return;
    boolean sending;
    try {
      sending = run.begin();
    } catch (RuntimeException | Error e) {
      fail(e);
      return;
    }
    if (!sending) {
      finish();
      return;
    }
    Attempt attempt = run.current;
    Transport.Async<R> transport = (Transport.Async<R>) run.transport;
    CompletionStage<R> stage;
    try {
      stage = transport.send(attempt.key());
    } catch (RuntimeException | Error e) {
      attempt.complete(Outcome.cancelled());
      fail(e);
      return;
    }
    stage.whenComplete((response, error) -> onSent(attempt, response, error));
  }

  private void onSent(Attempt attempt, R response, Throwable error) {
    if (cancelled || future.isDone()) {
      attempt.complete(Outcome.cancelled());
      if (response != null) run.transport.discard(response);
      return;
    }
    boolean done;
    try {
      if (error != null) {
        Throwable cause = error instanceof CompletionException && error.getCause() != null
            ? error.getCause() : error;
        if (!(cause instanceof IOException io)) {
          attempt.complete(Outcome.cancelled()); // a bug below us, not the key's doing
          fail(cause);
          return;
        }
        done = run.onFailure(io);
      } else {
        done = run.onAnswer(response);
      }
    } catch (RuntimeException | Error e) {
      fail(e);
      if (response != null) run.discardAfterFailure(response); // free its connection
      return;
    }
    if (done) {
      finish();
      return;
    }
    try {
      if (run.delayNanos > 0) {
        scheduler.schedule(this::step, run.delayNanos, TimeUnit.NANOSECONDS);
      } else {
        scheduler.execute(this::step);
      }
    } catch (RuntimeException e) { // the scheduler refused (shut down): end the call now
      fail(e);
    }
  }

  /** The caller cancelled: the attempt in flight (if any) is released as cancelled. */
  void cancel() {
    cancelled = true;
    Attempt attempt = run.current;
    if (attempt != null) attempt.complete(Outcome.cancelled());
    run.releaseReserved();
    run.attempts.finish(true);
  }

  void finish() {
    run.attempts.finish(cancelled || run.transport.cancelled());
    R answer;
    try {
      answer = run.answer();
    } catch (IOException e) {
      future.completeExceptionally(e);
      return;
    } catch (RuntimeException | Error e) {
      future.completeExceptionally(e);
      return;
    }
    if (!future.complete(answer) && answer != null) {
      run.transport.discard(answer); // cancelled meanwhile: nobody reads it
    }
  }

  void fail(Throwable e) {
    Attempt attempt = run.current;
    if (attempt != null) attempt.complete(Outcome.cancelled()); // not the key's doing
    run.releaseReserved();
    run.attempts.finish(true);
    run.discardKept();
    future.completeExceptionally(e);
  }
}
