package dev.geminirotator.okhttp;

import okhttp3.HttpUrl;
import okhttp3.Request;
import okhttp3.Response;

/**
 * Where Gemini credentials travel: removing the caller's, placing a pool key, and taking the pool
 * key back out of every {@link Request} a returned {@link Response} refers to.
 */
final class Credentials {

  /** Gemini's API-key header. */
  static final String API_KEY_HEADER = "x-goog-api-key";
  /** Bearer tokens: the OpenAI-compatible surface, and OAuth callers. */
  static final String AUTHORIZATION = "Authorization";
  /** Gemini's API-key query parameter. */
  static final String KEY_PARAMETER = "key";

  /** How deep {@link #scrub} follows prior, network and cache responses. */
  private static final int MAX_SCRUB_DEPTH = 8;

  private Credentials() {
  }

  /**
   * The request without any credential: no {@code x-goog-api-key}, no {@code Authorization}, no
   * {@code key} query parameter. Returns the same instance when there was none.
   */
  static Request strip(Request request) {
    boolean header = request.header(API_KEY_HEADER) != null;
    boolean auth = request.header(AUTHORIZATION) != null;
    boolean query = hasKeyParameter(request.url());
    if (!header && !auth && !query) {
      return request;
    }
    Request.Builder b = request.newBuilder();
    if (header) b.removeHeader(API_KEY_HEADER);
    if (auth) b.removeHeader(AUTHORIZATION);
    if (query) b.url(request.url().newBuilder().removeAllQueryParameters(KEY_PARAMETER).build());
    return b.build();
  }

  /**
   * The request for one attempt: {@code base}, already {@linkplain #strip stripped} (so a header is
   * added, not set), carrying {@code secret}.
   */
  static Request withKey(Request base, String secret, GeminiRoute route,
      GeminiKeyInterceptor.KeyPlacement placement) {
    if (route.openAi()) {
      return base.newBuilder().addHeader(AUTHORIZATION, "Bearer " + secret).build();
    }
    if (placement == GeminiKeyInterceptor.KeyPlacement.QUERY) {
      HttpUrl url = base.url().newBuilder().addQueryParameter(KEY_PARAMETER, secret).build();
      return base.newBuilder().url(url).build();
    }
    return base.newBuilder().addHeader(API_KEY_HEADER, secret).build();
  }

  /**
   * The response with {@code request} as its request, and every request its network, cache and
   * prior responses refer to stripped of credentials. The body is kept.
   */
  static Response.Builder scrubbed(Response response, Request request) {
    Response.Builder b = response.newBuilder().request(request);
    Response network = response.networkResponse();
    if (network != null) b.networkResponse(scrub(network, 1));
    Response cache = response.cacheResponse();
    if (cache != null) b.cacheResponse(scrub(cache, 1));
    Response prior = response.priorResponse();
    if (prior != null) b.priorResponse(scrub(prior, 1));
    return b;
  }

  /** A body-less network, cache or prior response, its own request stripped, recursively. */
  private static Response scrub(Response response, int depth) {
    Response.Builder b = response.newBuilder().request(strip(response.request()));
    if (depth >= MAX_SCRUB_DEPTH) {
      b.networkResponse(null).cacheResponse(null).priorResponse(null);
      return b.build();
    }
    Response network = response.networkResponse();
    if (network != null) b.networkResponse(scrub(network, depth + 1));
    Response cache = response.cacheResponse();
    if (cache != null) b.cacheResponse(scrub(cache, depth + 1));
    Response prior = response.priorResponse();
    if (prior != null) b.priorResponse(scrub(prior, depth + 1));
    return b.build();
  }

  private static boolean hasKeyParameter(HttpUrl url) {
    String query = url.encodedQuery();
    return query != null && query.contains(KEY_PARAMETER)
        && !url.queryParameterValues(KEY_PARAMETER).isEmpty();
  }
}
