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
    String path = url.encodedPath();
    String model = modelOf(path);
    if (model != null) {
      return new GeminiRoute(model, false);
    }
    return isOpenAi(path) ? OPENAI : ANY;
  }

  private static boolean isOpenAi(String path) {
    return path.contains("/v1beta/openai/") || path.endsWith("/v1beta/openai")
        || path.contains("/v1/openai/") || path.endsWith("/v1/openai");
  }

  /**
   * The model of a path whose last segment is {@code {model}:{method}} and whose segment before
   * that is {@code models} or {@code tunedModels}; else null. One backwards scan, no allocation
   * but the name: this runs on every call.
   */
  private static String modelOf(String path) {
    int segment = path.lastIndexOf('/');
    if (segment <= 0) {
      return null;
    }
    int start = segment + 1;
    int colon = path.indexOf(':', start);
    if (colon < 0) {
      colon = path.indexOf("%3A", start); // an encoder that escaped the colon
      if (colon < 0) {
        colon = path.indexOf("%3a", start);
        if (colon < 0) return null; // no method: a listing or metadata, not a call on a model
      }
    }
    if (colon == start || colon - start > MAX_MODEL_LENGTH) {
      return null;
    }
    String prefix;
    if (endsWithSegment(path, segment, MODELS)) {
      prefix = null;
    } else if (endsWithSegment(path, segment, TUNED_MODELS)) {
      prefix = "tunedModels/";
    } else {
      return null;
    }
    String name = path.substring(start, colon);
    if (name.indexOf('%') >= 0) {
      name = HttpUrl.get("http://h/" + name).pathSegments().get(0);
    }
    return prefix == null ? name : prefix + name;
  }

  /** Whether {@code path} has {@code /name} ending at {@code end}. */
  private static boolean endsWithSegment(String path, int end, String slashName) {
    int from = end - slashName.length();
    return from >= 0 && path.startsWith(slashName, from);
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
