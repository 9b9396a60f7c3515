package dev.geminirotator.core.internal.exchange;

import dev.geminirotator.api.RequestContext;
import dev.geminirotator.core.internal.affinity.Placement;

/**
 * What an answer during discovery ({@link Placement.Discover})
 * says about the resource being looked for, and what a 403/404 under a pin says about the pin.
 * The rules (review H1, H2, M3 of issue 16):
 *
 * <ul>
 *   <li><b>a success proves ownership</b> only when it could not have succeeded without the
 *       project seeing the resource: the request addresses the resource's own path (route
 *       {@code RESOURCE}, the path's resource, creating nothing), or a synchronous model call
 *       ({@code generateContent}, {@code streamGenerateContent}, {@code countTokens}) that names
 *       it. Never an asynchronous acceptance such as {@code batchGenerateContent} or
 *       {@code importFile}, which Gemini accepts first and checks later;
 *   <li><b>a 403/404 is a miss</b> (this project does not hold it) only when it is about that
 *       resource: the request addresses exactly the resource's own path, or the error names the
 *       resource (its full name, its id as a word, or its id after its type's word as Gemini
 *       writes them: "the File {id}"), unless it names the model. Any other 403/404 (a bogus
 *       model, another resource) is the client's answer at once;
 *   <li><b>a pin is wrong</b> when a 404, or a 403 the classifier does not blame on the key,
 *       answers the pinned resource's exact own path.
 * </ul>
 * Stateless.
 */
final class DiscoveryRules {

  /**
   * Ids shorter than this count as named by an error only under their full name or after their
   * type's word ({@code File abc}): a short id may be an English word.
   */
  private static final int MIN_BARE_ID = 8;

  private DiscoveryRules() {
  }

  static boolean provesOwnership(GeminiRequest request, ResourceRef resource) {
    if (isOwnPath(request, resource)) return true;
    if (request.route() != GeminiRequest.Route.MODEL_CALL || request.action() == null) {
      return false;
    }
    switch (request.action()) {
      case "generateContent":
      case "streamGenerateContent":
      case "countTokens":
        return request.resources().contains(resource);
      default:
        return false;
    }
  }

  /** The request addresses the resource's own path (or a path under it), creating nothing. */
  static boolean isOwnPath(GeminiRequest request, ResourceRef resource) {
    return request.route() == GeminiRequest.Route.RESOURCE && request.creates() == null
        && !request.resources().isEmpty() && request.resources().get(0).equals(resource);
  }

  /**
   * The request addresses exactly the resource's path, no sub-collection, no custom method:
   * a file search store's or tuned model's ref also stands for its children's paths, so for
   * those only the error's words count.
   */
  static boolean isExactOwnPath(GeminiRequest request, ResourceRef resource) {
    return isOwnPath(request, resource) && request.action() == null
        && resource.kind() != ResourceKind.FILE_SEARCH_STORE
        && resource.kind() != ResourceKind.TUNED_MODEL;
  }

  /** Whether a 403/404 {@code body} during discovery says the project does not hold it. */
  static boolean isMiss(GeminiRequest request, ResourceRef resource, String body) {
    if (isExactOwnPath(request, resource)) return true;
    if (body == null) return false;
    String model = request.model();
    if (!model.equals(RequestContext.ANY_MODEL) && names(body, model)) {
      return false; // about the model (a bogus one may echo the resource's id)
    }
    String name = resource.name();
    if (names(body, name)) return true;
    int slash = name.lastIndexOf('/');
    String id = name.substring(slash + 1);
    if (id.length() >= MIN_BARE_ID && names(body, id)) return true;
    String word = typeWord(resource.kind());
    return word != null && names(body, word + ' ' + id); // "File abc", as Gemini says it
  }

  /** The type name Gemini's messages put before a resource's id, or null. */
  private static String typeWord(ResourceKind kind) {
    switch (kind) {
      case FILE:
        return "File";
      case CACHED_CONTENT:
        return "CachedContent";
      case FILE_SEARCH_STORE:
        return "FileSearchStore";
      case BATCH:
        return "Batch";
      case UPLOAD:
        return "session";
      default:
        return null;
    }
  }

  /** Whether {@code text} holds {@code word} not inside a longer name. */
  static boolean names(String text, String word) {
    for (int at = text.indexOf(word); at >= 0; at = text.indexOf(word, at + 1)) {
      int end = at + word.length();
      boolean before = at == 0 || !idChar(text.charAt(at - 1));
      boolean after = end == text.length() || (!idChar(text.charAt(end))
          && text.charAt(end) != '/')
          || (text.charAt(end) == '.' && (end + 1 == text.length()
              || !idChar(text.charAt(end + 1))));
      if (before && after) return true;
    }
    return false;
  }

  private static boolean idChar(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')
        || c == '-' || c == '_' || c == '.';
  }
}
