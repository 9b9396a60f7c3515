package dev.geminirotator.okhttp;

import dev.geminirotator.core.internal.exchange.ClientCredentials;
import okhttp3.Headers;
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
   * The request without any header or query parameter core's {@link ClientCredentials} refuses:
   * no {@code x-goog-api-key}, {@code Authorization}, {@code Cookie}, {@code X-Goog-User-Project},
   * {@code X-Goog-IAM-*}, {@code X-Goog-AuthUser}, {@code X-HTTP-Method-Override} header, no
   * {@code x-goog-*} header outside the few a Gemini client needs, and no {@code key},
   * {@code access_token}, {@code oauth_token}, {@code quotaUser}, {@code userProject} (...) query
   * parameter in any spelling ({@code $key}, {@code %61ccess_token}, {@code KEY}). An OAuth
   * credential next to a pool key makes Gemini answer 401 for the request. Returns the same
   * instance when there was none.
   */
  static Request strip(Request request) {
    Request.Builder b = stripping(request);
    return b == null ? request : b.build();
  }

  /**
   * A builder of the {@linkplain #strip stripped} request, or {@code null} when the request holds
   * no credential (it is its own stripped form). The interceptor builds the stripped request from
   * it, then, adding the key, the first attempt's: one copy of the headers for both.
   */
  static Request.Builder stripping(Request request) {
    Headers headers = request.headers();
    Request.Builder b = null;
    for (int i = 0, n = headers.size(); i < n; i++) {
      String name = headers.name(i);
      if (ClientCredentials.isCredentialHeader(name)) {
        if (b == null) b = request.newBuilder();
        b.removeHeader(name);
      }
    }
    String query = request.url().encodedQuery();
    String kept = ClientCredentials.stripQuery(query);
    if (query != null && !query.equals(kept)) {
      if (b == null) b = request.newBuilder();
      b.url(request.url().newBuilder().encodedQuery(kept).build());
    }
    return b;
  }

  /**
   * The request for one attempt: {@code b}, a builder of {@code base} (already {@linkplain #strip
   * stripped}, so a header is added, not set), carrying {@code secret}.
   */
  static Request withKey(Request.Builder b, Request base, String secret, boolean openAi,
      GeminiKeyInterceptor.KeyPlacement placement) {
    if (openAi) {
      return b.addHeader(AUTHORIZATION, "Bearer " + secret).build();
    }
    if (placement == GeminiKeyInterceptor.KeyPlacement.QUERY) {
      return b.url(base.url().newBuilder().addQueryParameter(KEY_PARAMETER, secret).build())
          .build();
    }
    return b.addHeader(API_KEY_HEADER, secret).build();
  }

  /**
   * The response with {@code request} as its request, and every request its network, cache and
   * prior responses refer to stripped of credentials. The body is kept.
   */
  /**
   * As {@link #scrubbed(Response, Request)}, and every pool key in a header value of the response
   * becomes its id (Gemini does not name keys in headers today; an upload URL or a debug header
   * could).
   */
  static Response.Builder scrubbed(Response response, Request request,
      dev.geminirotator.core.internal.exchange.SecretScrubber keys) {
    Response.Builder b = scrubbed(response, request);
    okhttp3.Headers headers = response.headers();
    String[] values = null;
    for (int i = 0; i < headers.size(); i++) {
      String value = headers.value(i);
      if (value.length() < keys.shortestSecretChars()) continue;
      String clean = keys.scrub(value);
      if (clean == value) continue;
      if (values == null) values = new String[headers.size()];
      values[i] = clean;
    }
    if (values == null) return b;
    okhttp3.Headers.Builder cleaned = new okhttp3.Headers.Builder();
    for (int i = 0; i < headers.size(); i++) {
      cleaned.addUnsafeNonAscii(headers.name(i), values[i] != null ? values[i] : headers.value(i));
    }
    return b.headers(cleaned.build());
  }

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
}
