package dev.geminirotator.standalone.gemini;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.core.classify.GeminiClassifier;
import dev.geminirotator.core.internal.GeminiErrors;
import dev.geminirotator.standalone.http.ProblemDocument;
import dev.geminirotator.standalone.http.ProxyRequest;
import dev.geminirotator.standalone.http.ProxyResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
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
 *       client prefers {@code application/problem+json} in {@code Accept} ({@link
 *       #prefersProblemJson}): an RFC 7807 problem
 *       document ({@code type}, {@code title}, {@code status}, {@code detail}, {@code instance},
 *       {@code requestId}), on Gemini routes with Gemini's {@code error} object inside.
 * </ul>
 *
 * <p>Every one carries {@code X-Gemini-Rotator: <slug>} ({@link
 * GeminiClassifier#ROTATOR_ANSWER_HEADER}), so a rotator in front of the proxy does not take it
 * for an answer about its key. Details never carry secrets: callers pass fixed text or messages
 * from core that name ids only. Stateless and thread-safe.
 */
public final class Problems {

  /** The problem a request refused for want of body budget gets. */
  public static final String OVER_BUDGET_SLUG = "body-budget";
  public static final String OVER_BUDGET_TITLE = "Proxy busy";
  public static final String OVER_BUDGET_DETAIL = "the proxy holds as many request bodies as its"
      + " memory allows (server.body-budget); retry shortly";
  public static final long OVER_BUDGET_RETRY_AFTER_SECONDS = 1;

  public static final String TYPE_BASE = ProblemDocument.TYPE_BASE;
  public static final String PROBLEM_JSON = ProblemDocument.MEDIA_TYPE;
  public static final String JSON_TYPE = "application/json; charset=utf-8";
  public static final ObjectMapper JSON = ProblemDocument.JSON;

  /** The shapes an error of the proxy's own can take. */
  public enum Shape { PROBLEM, GEMINI, OPENAI }

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
  public static void send(ProxyRequest request, ProxyResponse response, int status, String slug,
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
  public static void send(ProxyRequest request, ProxyResponse response, int status, String slug,
      String title, String detail, boolean gemini, long retryAfterSeconds) {
    send(request, response, status, slug, title, detail, gemini, retryAfterSeconds, x -> { });
  }

  /**
   * The shape for a request: problem+json off the proxied routes and when {@code Accept} asks for
   * it, else OpenAI's on the OpenAI-compatible routes and Gemini's on the others.
   */
  public static Shape shapeFor(String path, String accept, boolean proxied) {
    if (!proxied || path == null) return Shape.PROBLEM;
    if (prefersProblemJson(accept)) return Shape.PROBLEM;
    return isOpenAi(path) ? Shape.OPENAI : Shape.GEMINI;
  }

  /**
   * Whether an {@code Accept} header (RFC 9110 12.5.1) asks for {@code application/problem+json}
   * over plain JSON: it names {@code application/problem+json} itself with a quality above 0, at
   * least the quality it gives {@code application/json} (through its most specific range:
   * {@code application/json}, else {@code application/*}, else {@code *}{@code /*}, else 0). A
   * wildcard alone never selects problem+json, and neither does a range with {@code q=0} or one
   * that prefers {@code application/json}. Malformed ranges and quality values are ignored.
   */
  public static boolean prefersProblemJson(String accept) {
    if (accept == null || accept.isEmpty()) return false;
    double problem = -1; // the quality problem+json gets by its own name; -1: not named
    double[] json = {-1, -1, -1}; // application/json, application/*, */* (-1: not listed)
    for (String range : splitOutsideQuotes(accept, ',')) {
      List<String> parts = splitOutsideQuotes(range, ';');
      String type = parts.get(0).trim().toLowerCase(Locale.ROOT);
      double q = 1;
      for (int i = 1; i < parts.size(); i++) {
        String param = parts.get(i).trim();
        int eq = param.indexOf('=');
        if (eq > 0 && param.substring(0, eq).trim().equalsIgnoreCase("q")) {
          q = quality(param.substring(eq + 1).trim());
          break; // parameters after q are accept-extensions
        }
      }
      if (Double.isNaN(q)) continue;
      switch (type) {
        case PROBLEM_JSON -> problem = Math.max(problem, q);
        case "application/json" -> json[0] = Math.max(json[0], q);
        case "application/*" -> json[1] = Math.max(json[1], q);
        case "*/*" -> json[2] = Math.max(json[2], q);
        default -> { }
      }
    }
    if (problem <= 0) return false;
    double plain = json[0] >= 0 ? json[0] : json[1] >= 0 ? json[1] : Math.max(json[2], 0);
    return problem >= plain;
  }

  /** A quality value ({@code 0} to {@code 1}, at most three decimals); NaN when malformed. */
  private static double quality(String value) {
    if (!value.matches("0(\\.[0-9]{0,3})?|1(\\.0{0,3})?")) return Double.NaN;
    return Double.parseDouble(value);
  }

  /** {@code text} split at {@code separator}, except inside a quoted string. */
  private static List<String> splitOutsideQuotes(String text, char separator) {
    List<String> out = new ArrayList<>();
    boolean quoted = false;
    int from = 0;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if (quoted && c == '\\') {
        i++; // a quoted-pair: the next character is literal
      } else if (c == '"') {
        quoted = !quoted;
      } else if (c == separator && !quoted) {
        out.add(text.substring(from, i));
        from = i + 1;
      }
    }
    out.add(text.substring(from));
    return out;
  }

  /** Whether a path is on an OpenAI-compatible route. */
  public static boolean isOpenAi(String path) {
    return path.startsWith("/v1beta/openai/") || path.startsWith("/v1/openai/");
  }

  public static String contentType(Shape shape) {
    return shape == Shape.PROBLEM ? PROBLEM_JSON : JSON_TYPE;
  }

  /** The problem document's bytes (problem+json), with Gemini's error object when asked. */
  public static byte[] body(int status, String slug, String title, String detail, String instance,
      String requestId, boolean gemini) {
    ObjectNode body = problem(status, slug, title, detail, instance, requestId);
    if (gemini) {
      body.set("error", geminiError(status, slug, title, detail, instance, requestId, -1));
    }
    return bytes(body, status);
  }

  /** An error's bytes in the given shape. */
  public static byte[] body(Shape shape, int status, String slug, String title, String detail,
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
    return ProblemDocument.of(status, slug, title, detail, instance, requestId);
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
    return ProblemDocument.bytes(body, status);
  }

  /** OpenAI's error {@code type} for an HTTP status. */
  public static String openAiType(int status) {
    if (status == 401) return "authentication_error";
    if (status == 403) return "permission_error";
    if (status == 429) return "rate_limit_error";
    if (status >= 500) return "server_error";
    return "invalid_request_error";
  }

  /** The google.rpc.Code name Gemini uses for an HTTP status. */
  public static String grpcStatus(int status) {
    return GeminiErrors.statusName(status);
  }
}
