package dev.geminirotator.core.internal.exchange;

import dev.geminirotator.api.RequestContext;
import java.util.List;
import java.util.Objects;

/**
 * What core needs to know about one Gemini request, read once from its method, path, query and
 * (when buffered) JSON body: the API version, the kind of route, the model it calls, the
 * project-bound resources it names, and whether it creates or deletes one. Both transports build
 * it the same way, so the interceptor and the proxy agree on every request. Immutable.
 *
 * @param method the HTTP method, upper case
 * @param version the API version segment ({@code v1beta}, {@code v1}, {@code v1alpha}), or
 *     {@code null} when the path has none
 * @param route the kind of route
 * @param action the custom method after {@code :} in the path ({@code generateContent}), or
 *     {@code null}
 * @param model the model the request calls, without a {@code models/} prefix, or
 *     {@link RequestContext#ANY_MODEL}
 * @param resources every project-bound resource the request names (path first, then query, then
 *     body), without repeats; empty for nearly every request
 * @param creates the kind of resource the answer to this request creates (its answer names it),
 *     or {@code null}
 * @param deletes the resource this request deletes, or {@code null}
 */
public record GeminiRequest(String method, String version, Route route, String action,
    String model, List<ResourceRef> resources, ResourceKind creates, ResourceRef deletes) {

  /** The kinds of route the exchange tells apart. */
  public enum Route {
    /** {@code models/{m}:{action}} or {@code tunedModels/{t}:{action}}: a call on a model. */
    MODEL_CALL,
    /** {@code models} or {@code models/{m}}: the model list or one model's metadata. */
    MODELS,
    /** The OpenAI-compatible surface, {@code /{version}/openai/**}. */
    OPENAI,
    /** {@code /upload/{version}/...} starting a resumable or one-shot upload. */
    UPLOAD_START,
    /** A chunk or the finalize of a resumable upload (an {@code upload_id} in the query). */
    UPLOAD_CONTINUE,
    /** A path in a resource collection ({@code files}, {@code cachedContents}, ...). */
    RESOURCE,
    /** Anything else. */
    OTHER
  }

  public GeminiRequest {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(route, "route");
    Objects.requireNonNull(model, "model");
    resources = List.copyOf(resources);
  }

  /** Whether the request names any project-bound resource. */
  public boolean namesResources() {
    return !resources.isEmpty();
  }

  /** The context for this request's first attempt: its model, no constraint yet. */
  public RequestContext context() {
    return RequestContext.forModel(model);
  }
}
