package dev.geminirotator.core.internal.affinity;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.ResourceRef;
import java.util.function.Function;

/**
 * What the attempt loop asks of resource affinity: where a request may go before its first
 * attempt, and what an answer taught. Implementations are thread-safe.
 */
public interface Affinity {

  /** How much of a success answer's body {@link #served} is given at most. */
  int MAX_ANSWER_BYTES = 64 * 1024;

  /** No affinity: every request may go anywhere, nothing is learnt. */
  Affinity NONE = new Affinity() {
    @Override
    public boolean mayBlock(GeminiRequest request) {
      return false;
    }

    @Override
    public Placement place(GeminiRequest request) {
      return Placement.ANY;
    }

    @Override
    public boolean readsAnswer(GeminiRequest request) {
      return false;
    }

    @Override
    public void served(GeminiRequest request, ApiKey key, int status,
        Function<String, String> headers, byte[] body) {
    }

    @Override
    public void notFound(GeminiRequest request, ResourceRef resource) {
    }

    @Override
    public String toString() {
      return "Affinity.NONE";
    }
  };

  /**
   * Whether {@link #place} may read a shared store for this request (one blocking round trip):
   * only when it names a resource not pinned locally. An event-loop transport calls {@link #place}
   * off its loop when this is true. False for a request that names no resource.
   */
  boolean mayBlock(GeminiRequest request);

  /**
   * Where the request may go. For a request that names no resource, {@link Placement#ANY} without
   * any lookup. At most one store read per request.
   */
  Placement place(GeminiRequest request);

  /**
   * Whether {@link #served} needs the success answer's headers and first {@link #MAX_ANSWER_BYTES}
   * bytes of body for this request: it creates a resource whose name (and expiry) the answer
   * holds. The transport then hands them over when the body ends, still streaming it untouched.
   */
  boolean readsAnswer(GeminiRequest request);

  /**
   * A key answered the request with a success (2xx): pins what it created to the key's project
   * (an upload to the key itself), renews the pins of what it used, forgets what it deleted.
   *
   * @param headers the answer's headers, by name (case-insensitive)
   * @param body the first bytes of the answer's (decoded) body when {@link #readsAnswer} said so,
   *     else {@code null}
   */
  void served(GeminiRequest request, ApiKey key, int status, Function<String, String> headers,
      byte[] body);

  /**
   * The head of a success answer (2xx) from Gemini arrived, before its body streams: learns what
   * the headers alone say (a resumable upload's {@code X-Goog-Upload-URL}), so that no transport
   * can lose it by a body closed unread. Called once per served success, before {@link #served}
   * (which may never come). Default: nothing.
   *
   * @param headers the answer's headers, by name (case-insensitive); valid during the call only
   */
  default void answered(GeminiRequest request, ApiKey key, int status,
      Function<String, String> headers) {
  }

  /**
   * Discovery found {@code resource} in {@code key}'s project: a success answered a request
   * whose success proves the project sees it (its own path, or a synchronous model call naming
   * it). The only way a resource not created through the pool gets pinned. Called at the
   * answer's head. Default: nothing.
   */
  default void discovered(GeminiRequest request, ResourceRef resource, ApiKey key) {
  }

  /**
   * The pinned project answered 404 (or a 403 not blamed on the key) on {@code resource}'s own
   * path: the pin is wrong or the resource is gone; drop it so the next request rediscovers.
   * The answer itself goes to the caller. Default: nothing.
   */
  default void misplaced(GeminiRequest request, ResourceRef resource, ApiKey key) {
  }

  /**
   * Every project the loop asked about this resource answered that it does not hold it (a 403 or
   * 404 about that resource itself): the next requests naming it are answered without asking
   * again, for a short while.
   */
  void notFound(GeminiRequest request, ResourceRef resource);
}
