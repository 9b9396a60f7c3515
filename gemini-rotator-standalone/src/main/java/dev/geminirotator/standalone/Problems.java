package dev.geminirotator.standalone;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.classify.GeminiErrors;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Writes the errors the proxy produces itself, in the shape the client can read (the one small
 * formatter that chooses):
 *
 * <ul>
 *   <li>Gemini routes ({@code /v1beta/**}, {@code /v1/**}, {@code /upload/**}):
 *       {@code application/json} in Gemini's own shape ({@link GeminiErrors}): {@code error.code},
 *       {@code error.message}, {@code error.status}, and {@code error.details} with a
 *       {@code google.rpc.ErrorInfo} (reason from the slug, domain {@code gemini-rotator},
 *       metadata with the problem {@code type}, {@code title}, {@code instance} and
 *       {@code requestId}) and, with a {@code Retry-After}, a {@code google.rpc.RetryInfo}. The
 *       official SDKs parse an error body only as {@code application/json} (js-genai
 *       {@code throwErrorIfNotOK} in {@code src/_api_client.ts}); the Java SDK's
 *       {@code ApiException} reads {@code error.status} and {@code error.message}.
 *   <li>OpenAI-compatible routes ({@code /v1beta/openai/**}, {@code /v1/openai/**}):
 *       {@code application/json} in OpenAI's shape, {@code {"error": {"message", "type",
 *       "code", "param": null, "request_id"}}} (openai-node {@code APIError} in
 *       {@code src/core/error.ts} reads {@code error.message}, {@code type}, {@code code},
 *       {@code param}).
 *   <li>The proxy's own routes (admin, health, metrics, anything unknown), and any route whose
 *       client asks for {@code application/problem+json} in {@code Accept}: an RFC 7807 problem
 *       document ({@code type}, {@code title}, {@code status}, {@code detail}, {@code instance},
 *       {@code requestId}), on Gemini routes with Gemini's {@code error} object inside.
 * </ul>
 *
 * <p>Every one carries {@code X-Gemini-Rotator: <slug>} ({@link
 * GeminiClassifier#ROTATOR_ANSWER_HEADER}), so a rotator in front of the proxy does not take it
 * for an answer about its key. Details never carry secrets: callers pass fixed text or messages
 * from core that name ids only. Stateless and thread-safe.
 */
final class Problems {

  static final String TYPE_BASE = "https://gemini-rotator.dev/problems/";
  static final String PROBLEM_JSON = "application/problem+json";
  static final String JSON_TYPE = "application/json; charset=utf-8";
  static final ObjectMapper JSON = new ObjectMapper();

  /** The shapes an error of the proxy's own can take. */
  enum Shape { PROBLEM, GEMINI, OPENAI }

  private Problems() {
  }

  /**
   * Sends a problem, ending the response.
   *
   * @param slug the last part of the type URI, e.g. {@code no-key-available}
   * @param gemini whether the request is on a proxied (Gemini or OpenAI-compatible) route
   * @param retryAfterSeconds the {@code Retry-After} value, or a negative number for none
   * @param onDone gets {@code null} once sent, else the failure
   */
  static void send(ProxyRequest request, ProxyResponse response, int status, String slug,
      String title, String detail, boolean gemini, long retryAfterSeconds,
      Consumer<Throwable> onDone) {
    Shape shape = shapeFor(request.path(), request.header("Accept"), gemini);
    byte[] bytes = body(shape, status, slug, title, detail, request.path(), request.requestId(),
        retryAfterSeconds);
    response.headers().set("Cache-Control", "no-store");
    response.headers().set(GeminiClassifier.ROTATOR_ANSWER_HEADER, slug);
    if (retryAfterSeconds >= 0) {
      response.headers().set("Retry-After", Long.toString(retryAfterSeconds));
    } else {
      response.headers().remove("Retry-After");
    }
    response.send(status, contentType(shape), bytes, onDone);
  }

  /** Sends a problem; nothing to do when it is written. */
  static void send(ProxyRequest request, ProxyResponse response, int status, String slug,
      String title, String detail, boolean gemini, long retryAfterSeconds) {
    send(request, response, status, slug, title, detail, gemini, retryAfterSeconds, x -> { });
  }

  /**
   * The shape for a request: problem+json off the proxied routes and when {@code Accept} asks for
   * it, else OpenAI's on the OpenAI-compatible routes and Gemini's on the others.
   */
  static Shape shapeFor(String path, String accept, boolean proxied) {
    if (!proxied || path == null) return Shape.PROBLEM;
    if (accept != null && accept.toLowerCase(Locale.ROOT).contains(PROBLEM_JSON)) {
      return Shape.PROBLEM;
    }
    return isOpenAi(path) ? Shape.OPENAI : Shape.GEMINI;
  }

  /** Whether a path is on an OpenAI-compatible route. */
  static boolean isOpenAi(String path) {
    return path.startsWith("/v1beta/openai/") || path.startsWith("/v1/openai/");
  }

  static String contentType(Shape shape) {
    return shape == Shape.PROBLEM ? PROBLEM_JSON : JSON_TYPE;
  }

  /** The problem document's bytes (problem+json), with Gemini's error object when asked. */
  static byte[] body(int status, String slug, String title, String detail, String instance,
      String requestId, boolean gemini) {
    ObjectNode body = problem(status, slug, title, detail, instance, requestId);
    if (gemini) {
      body.set("error", geminiError(status, slug, title, detail, instance, requestId, -1));
    }
    return bytes(body, status);
  }

  /** An error's bytes in the given shape. */
  static byte[] body(Shape shape, int status, String slug, String title, String detail,
      String instance, String requestId, long retryAfterSeconds) {
    return switch (shape) {
      case PROBLEM -> {
        ObjectNode body = problem(status, slug, title, detail, instance, requestId);
        if (instance != null && GeminiProxy.isProxied(instance)) {
          body.set("error", geminiError(status, slug, title, detail, instance, requestId,
              retryAfterSeconds));
        }
        yield bytes(body, status);
      }
      case GEMINI -> {
        ObjectNode body = JSON.createObjectNode();
        body.set("error", geminiError(status, slug, title, detail, instance, requestId,
            retryAfterSeconds));
        yield bytes(body, status);
      }
      case OPENAI -> {
        ObjectNode body = JSON.createObjectNode();
        ObjectNode error = body.putObject("error");
        error.put("message", detail);
        error.put("type", openAiType(status));
        error.put("code", slug.replace('-', '_'));
        error.putNull("param");
        if (requestId != null) error.put("request_id", requestId);
        yield bytes(body, status);
      }
    };
  }

  private static ObjectNode problem(int status, String slug, String title, String detail,
      String instance, String requestId) {
    ObjectNode body = JSON.createObjectNode();
    body.put("type", TYPE_BASE + slug);
    body.put("title", title);
    body.put("status", status);
    body.put("detail", detail);
    if (instance != null) body.put("instance", instance);
    if (requestId != null) body.put("requestId", requestId);
    return body;
  }

  private static ObjectNode geminiError(int status, String slug, String title, String detail,
      String instance, String requestId, long retryAfterSeconds) {
    Map<String, String> metadata = new LinkedHashMap<>();
    metadata.put("type", TYPE_BASE + slug);
    metadata.put("title", title);
    metadata.put("instance", instance);
    metadata.put("requestId", requestId);
    return GeminiErrors.error(status, detail, slug, metadata, retryAfterSeconds);
  }

  private static byte[] bytes(ObjectNode body, int status) {
    try {
      return JSON.writeValueAsBytes(body);
    } catch (Exception e) {
      return ("{\"status\":" + status + "}").getBytes(StandardCharsets.UTF_8);
    }
  }

  /** OpenAI's error {@code type} for an HTTP status. */
  static String openAiType(int status) {
    if (status == 401) return "authentication_error";
    if (status == 403) return "permission_error";
    if (status == 429) return "rate_limit_error";
    if (status >= 500) return "server_error";
    return "invalid_request_error";
  }

  /** The google.rpc.Code name Gemini uses for an HTTP status. */
  static String grpcStatus(int status) {
    return GeminiErrors.statusName(status);
  }
}
