package dev.geminirotator.okhttp;

import dev.geminirotator.api.RequestContext;
import okhttp3.HttpUrl;

/**
 * What the interceptor reads from a Gemini URL: the model it calls (for per-model cooldowns and
 * breakers) and whether it is the OpenAI-compatible surface, which takes its key as a bearer token.
 * Read from the path alone; the body is never parsed. Immutable.
 */
final class GeminiRoute {

  /** Model names longer than this are not scoped: they share the any-model scope. */
  static final int MAX_MODEL_LENGTH = 128;

  private static final GeminiRoute ANY = new GeminiRoute(RequestContext.ANY_MODEL, false);
  private static final GeminiRoute OPENAI = new GeminiRoute(RequestContext.ANY_MODEL, true);

  private static final String MODELS = "/models";
  private static final String TUNED_MODELS = "/tunedModels";

  private final String model;
  private final boolean openAi;

  private GeminiRoute(String model, boolean openAi) {
    this.model = model;
    this.openAi = openAi;
  }

  /**
   * The route of a request URL. The model is the {@code {model}} of a {@code .../models/{model}:
   * {method}} path, under any prefix ({@code /v1beta}, {@code /v1}, a proxy's own path, a Vertex
   * {@code projects/.../publishers/google}); a tuned model is {@code tunedModels/{id}}. A path
   * that calls no method on a model (the models list, a model's metadata, files, cached contents,
   * the OpenAI-compatible surface, whose model is in the body) names no model.
   */
  static GeminiRoute of(HttpUrl url) {
    // HttpUrl.encodedPath() scans and copies the URL on every call (it was a tenth of an
    // in-memory call's time): read the path in place from the URL's own canonical text instead,
    // as encodedPath() finds it: from the first '/' after "scheme://" to the first '?' or '#'.
    String text = url.toString();
    int pathStart = text.indexOf('/', url.scheme().length() + 3);
    if (pathStart < 0) {
      return ANY;
    }
    int pathEnd = end(text, pathStart, '?');
    pathEnd = Math.min(pathEnd, end(text, pathStart, '#'));
    String model = modelOf(text, pathStart, pathEnd);
    if (model != null) {
      return new GeminiRoute(model, false);
    }
    return isOpenAi(text.substring(pathStart, pathEnd)) ? OPENAI : ANY;
  }

  /** The index of {@code c} at or after {@code from}, or the length of {@code text}. */
  private static int end(String text, int from, char c) {
    int i = text.indexOf(c, from);
    return i < 0 ? text.length() : i;
  }

  private static boolean isOpenAi(String path) {
    return path.contains("/v1beta/openai/") || path.endsWith("/v1beta/openai")
        || path.contains("/v1/openai/") || path.endsWith("/v1/openai");
  }

  /**
   * The model of a path ({@code text} from {@code pathStart} to {@code pathEnd}) whose last
   * segment is {@code {model}:{method}} and whose segment before that is {@code models} or
   * {@code tunedModels}; else null. One backwards scan, no allocation but the name: this runs on
   * every call.
   */
  private static String modelOf(String text, int pathStart, int pathEnd) {
    int segment = text.lastIndexOf('/', pathEnd - 1);
    if (segment <= pathStart) {
      return null;
    }
    int start = segment + 1;
    int colon = indexIn(text, ":", start, pathEnd);
    if (colon < 0) {
      colon = indexIn(text, "%3A", start, pathEnd); // an encoder that escaped the colon
      if (colon < 0) {
        colon = indexIn(text, "%3a", start, pathEnd);
        if (colon < 0) return null; // no method: a listing or metadata, not a call on a model
      }
    }
    if (colon == start || colon - start > MAX_MODEL_LENGTH) {
      return null;
    }
    String prefix;
    if (endsWithSegment(text, pathStart, segment, MODELS)) {
      prefix = null;
    } else if (endsWithSegment(text, pathStart, segment, TUNED_MODELS)) {
      prefix = "tunedModels/";
    } else {
      return null;
    }
    String name = text.substring(start, colon);
    if (name.indexOf('%') >= 0) {
      name = HttpUrl.get("http://h/" + name).pathSegments().get(0);
    }
    return prefix == null ? name : prefix + name;
  }

  /** The index of {@code s} in {@code text} starting in [{@code from}, {@code to}), or -1. */
  private static int indexIn(String text, String s, int from, int to) {
    int i = text.indexOf(s, from);
    return i >= 0 && i + s.length() <= to ? i : -1;
  }

  /** Whether the path (from {@code pathStart}) has {@code /name} ending at {@code end}. */
  private static boolean endsWithSegment(String text, int pathStart, int end, String slashName) {
    int from = end - slashName.length();
    return from >= pathStart && text.startsWith(slashName, from);
  }

  /** The model, or {@value RequestContext#ANY_MODEL}. */
  String model() {
    return model;
  }

  /** The rotator context for the first attempt. */
  RequestContext context() {
    return RequestContext.forModel(model);
  }

  /** Whether this is the OpenAI-compatible surface ({@code /v1beta/openai/**}). */
  boolean openAi() {
    return openAi;
  }

  @Override
  public String toString() {
    return "GeminiRoute{model=" + model + (openAi ? ", openai" : "") + '}';
  }
}
