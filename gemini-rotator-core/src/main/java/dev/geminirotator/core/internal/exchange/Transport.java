package dev.geminirotator.core.internal.exchange;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.Outcome;
import java.io.IOException;
import java.util.concurrent.CompletionStage;

/**
 * What a transport supplies to a {@link GeminiExchange}: how to send the request with a key
 * ({@link Blocking#send} or {@link Async#send}), how to read an answer's head, and how to hand an
 * answer on. It decides nothing: which key, what an answer means, whether to try again and what
 * the caller gets are the exchange's. One instance serves one request; the exchange calls it from
 * one thread at a time.
 *
 * @param <R> the transport's response type (an OkHttp {@code Response}, a proxy's upstream answer)
 */
public interface Transport<R> {

  /** The answer's HTTP status. */
  int status(R response);

  /** An answer header by name, case-insensitively, or {@code null}. */
  String header(R response, String name);

  /**
   * Up to {@link dev.geminirotator.core.classify.GeminiClassifier#MAX_PEEK_BYTES} of the answer's
   * body as text (decoded), leaving the body readable; {@code null} when there is none or it was
   * lost. Called only for the statuses {@link GeminiExchange#readsErrorBody} lists, and must not
   * block on an async transport (buffer that much before completing the send).
   */
  String peek(R response);

  /**
   * Whether the answer came from the upstream with the key (true), rather than from a cache below
   * the transport: a cached answer completes the key's lease as cancelled.
   */
  default boolean fromUpstream(R response) {
    return true;
  }

  /**
   * A success (2xx) for the caller: streams its body untouched and reports the body's end to
   * {@code attempt} ({@link Attempt#succeeded}, {@link Attempt#failed}, {@link Attempt#cancelled}),
   * teeing its first bytes to {@link Attempt#tee} while {@link Attempt#teeing()}.
   */
  R serve(R response, Attempt attempt);

  /**
   * An answer that is not a success, for the caller as the upstream gave it: its error body
   * scrubbed of every pool key ({@link Attempt#scrubber()}), with this {@code Retry-After} in
   * seconds ({@code -1}: leave the upstream's as it is). The attempt's lease is complete.
   */
  R pass(R response, Attempt attempt, long retryAfterSeconds);

  /**
   * An answer kept as the caller's possible final answer while the next attempt runs: closes
   * {@code response} and returns a copy holding its head and peeked body, scrubbed.
   */
  R keep(R response, Attempt attempt);

  /** A kept answer ({@link #keep}) handed to the caller, with this {@code Retry-After} (or -1). */
  R passKept(R kept, long retryAfterSeconds);

  /** Closes an answer nobody will read (a kept one replaced, one that arrived after a cancel). */
  void discard(R response);

  /**
   * The exchange's own answer (no key, breaker open, no key for the pinned project, unreachable
   * resource), in the transport's shape, or thrown as the transport's exception.
   */
  R local(LocalAnswer answer) throws IOException;

  /** Whether the caller cancelled the request; never blocks. */
  default boolean cancelled() {
    return false;
  }

  /**
   * Whether {@link #peek} holds the answer's whole body. When it does not (an error body longer
   * than the peek, still streaming), {@link #keep} would lose the rest, so before keeping such an
   * answer for a retry the loop secures the next attempt (the guard's permission and a key); when
   * none can be had, the answer goes to the caller whole ({@link #pass}), or, after a key's own
   * failure (rate-limited, rejected), the pool answers ({@link #local}). True by default: a
   * transport that can peek without consuming (OkHttp's {@code peekBody}) loses nothing.
   */
  default boolean peekedWhole(R response) {
    return true;
  }

  /**
   * The loop makes another attempt after an attempt that ended with {@code outcome}: for the
   * transport's metrics and logs only; it decides nothing. Does nothing by default.
   */
  default void retrying(Outcome outcome) {
  }

  /**
   * A transport whose send blocks until the answer's head (and, for the statuses whose body
   * matters, its peek) is there; for {@link GeminiExchange#execute}.
   *
   * @param <R> the transport's response type
   */
  interface Blocking<R> extends Transport<R> {

    /**
     * Sends the request with this key and returns the answer's head; its body is not read.
     *
     * @throws IOException when the exchange failed below HTTP; its message must not hold the
     *     key's secret
     */
    R send(ApiKey key) throws IOException;

    /**
     * The caller's deadline in {@link System#nanoTime()} terms, or 0 for none: a backoff that
     * would end past it is not waited, the last failure is returned instead.
     */
    default long deadlineNanos() {
      return 0;
    }
  }

  /**
   * A transport whose send completes a stage when the answer's head (and, for the statuses whose
   * body matters, its peek) is there; for {@link GeminiExchange#executeAsync}. An event loop
   * drives it: the stage completes on the loop, body chunks go to {@link Attempt#tee}, the body's
   * end to {@link Attempt#succeeded}, {@link Attempt#failed} or {@link Attempt#cancelled}.
   *
   * @param <R> the transport's response type
   */
  interface Async<R> extends Transport<R> {

    /**
     * Sends the request with this key; the stage completes with the answer's head, or
     * exceptionally with an {@link IOException} (whose message must not hold the key's secret)
     * when the exchange failed below HTTP.
     */
    CompletionStage<R> send(ApiKey key);
  }
}
