package dev.geminirotator.okhttp;

import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.exchange.GeminiRequest;
import dev.geminirotator.core.internal.exchange.GeminiRequests;
import java.io.IOException;
import okhttp3.HttpUrl;
import okhttp3.Request;
import okhttp3.RequestBody;
import okio.Buffer;
import okio.ByteString;

/**
 * The interceptor's view of a Gemini request, read by core's {@link GeminiRequests} exactly as
 * the proxy reads it: the model it calls (for per-model cooldowns and breakers, in its canonical
 * spelling), whether it is the OpenAI-compatible surface ({@code /v1beta/openai/**} or {@code
 * /v1/openai/**}), which takes its key as a bearer token, and the whole {@link GeminiRequest}
 * (route, resources, what it creates or deletes) for the exchange. Immutable.
 */
final class GeminiRoute {

  /** Model names longer than this are not scoped: they share the any-model scope. */
  static final int MAX_MODEL_LENGTH = GeminiRequests.MAX_MODEL_LENGTH;

  /**
   * Bodies up to this size are read for the model and resources they name (Gemini's limit for a
   * request with inline data is 20 MB: https://ai.google.dev/gemini-api/docs/files); larger ones,
   * one-shot and duplex bodies, and bodies of unknown length are not read.
   */
  static final long MAX_READ_BODY = 20L * 1024 * 1024;

  private final GeminiRequest request;

  private GeminiRoute(GeminiRequest request) {
    this.request = request;
  }

  /**
   * The route of a request URL alone, as a {@code GET} (no body is read): the model of a {@code
   * models/{m}:{method}} or {@code models/{m}} path under any prefix ({@code /v1beta}, {@code
   * /v1}, a proxy's own path, a Vertex {@code projects/.../publishers/google}), a tuned model as
   * {@code tunedModels/{id}}; the resources the path and query name.
   */
  static GeminiRoute of(HttpUrl url) {
    return of("GET", url, null);
  }

  /**
   * The route of a whole request: its method, URL and, when it is replayable and at most {@link
   * #MAX_READ_BODY} bytes long, its body (read only on routes whose body may name a model or a
   * resource: the OpenAI-compatible model, {@code fileUri}, {@code cachedContent}, ...).
   */
  static GeminiRoute of(Request request) {
    return new GeminiRoute(parse(request));
  }

  /** {@link #of(Request)}'s {@link #request()}, without the wrapper: the interceptor's path. */
  static GeminiRequest parse(Request request) {
    return parse(request.method(), request.url(), request.body());
  }

  private static GeminiRoute of(String method, HttpUrl url, RequestBody body) {
    return new GeminiRoute(parse(method, url, body));
  }

  private static GeminiRequest parse(String method, HttpUrl url, RequestBody body) {
    // HttpUrl.encodedPath() scans and copies the URL on every call (it was a tenth of an
    // in-memory call's time): core reads the path in place from the URL's own canonical text
    // instead, as encodedPath() finds it: from the first '/' after "scheme://" to the first '?'
    // or '#'.
    String text = url.toString();
    int pathStart = text.indexOf('/', url.scheme().length() + 3);
    String query = null;
    if (pathStart < 0) {
      text = "/";
      pathStart = 0;
    } else {
      int hash = end(text, pathStart, '#');
      int question = text.indexOf('?', pathStart);
      if (question >= 0 && question < hash) {
        query = text.substring(question + 1, hash);
      }
    }
    GeminiRequest head = GeminiRequests.parse(method, text, pathStart, query);
    if (!readable(body) || !GeminiRequests.readsBody(head)) {
      return head;
    }
    Buffer buffer = copy(body);
    if (buffer == null) {
      return head;
    }
    if (!GeminiRequests.readsModelFromBody(head) && !holdsMarker(buffer)) {
      buffer.clear(); // names no resource: no JSON parse (RequestParseBenchmark)
      return head;
    }
    String path = text.substring(pathStart, query != null ? text.indexOf('?', pathStart)
        : end(text, pathStart, '#'));
    return GeminiRequests.parseStream(method, path, query, buffer::inputStream);
  }

  private static final ByteString[] MARKERS = GeminiRequests.BODY_MARKERS.stream()
      .map(ByteString::encodeUtf8).toArray(ByteString[]::new);

  private static boolean holdsMarker(Buffer buffer) {
    try {
      for (ByteString marker : MARKERS) {
        if (buffer.indexOf(marker) >= 0) {
          return true;
        }
      }
      return false;
    } catch (IOException e) {
      return true; // an in-memory buffer does not fail; if it did, let the parser decide
    }
  }

  private static boolean readable(RequestBody body) {
    if (body == null || body.isOneShot() || body.isDuplex()) {
      return false;
    }
    try {
      long length = body.contentLength();
      return length > 0 && length <= MAX_READ_BODY;
    } catch (IOException e) {
      return false;
    }
  }

  /** The body's bytes in pooled okio segments; {@code null} when it cannot be written. */
  private static Buffer copy(RequestBody body) {
    Buffer buffer = new Buffer();
    try {
      body.writeTo(buffer);
      return buffer;
    } catch (IOException | RuntimeException e) {
      buffer.clear();
      return null;
    }
  }

  /** The index of {@code c} at or after {@code from}, or the length of {@code text}. */
  private static int end(String text, int from, char c) {
    int i = text.indexOf(c, from);
    return i < 0 ? text.length() : i;
  }

  /** The parsed request: route, model, resources, what it creates and deletes. */
  GeminiRequest request() {
    return request;
  }

  /** The model, or {@value RequestContext#ANY_MODEL}. */
  String model() {
    return request.model();
  }

  /** The rotator context for the first attempt. */
  RequestContext context() {
    return request.context();
  }

  /** Whether this is the OpenAI-compatible surface ({@code /{version}/openai/**}). */
  boolean openAi() {
    return openAi(request);
  }

  /** Whether the request is on the OpenAI-compatible surface, which takes a bearer token. */
  static boolean openAi(GeminiRequest request) {
    return request.route() == GeminiRequest.Route.OPENAI;
  }

  @Override
  public String toString() {
    return "GeminiRoute{model=" + model() + (openAi() ? ", openai" : "") + '}';
  }
}
