package dev.geminirotator.standalone;

import dev.geminirotator.standalone.gemini.Problems;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.genai.Client;
import com.google.genai.errors.ApiException;
import com.google.genai.errors.ClientException;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpResponse;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The proxy's own errors in the shape each client family parses (issue 15 item 3).
 *
 * <p>What the parsers read, from their sources:
 *
 * <ul>
 *   <li>{@code @google/genai} (googleapis/js-genai {@code src/_api_client.ts},
 *       {@code throwErrorIfNotOK}): parses the body as JSON only when
 *       {@code response.headers.get('content-type')?.includes('application/json')}, else wraps
 *       the text as {@code error.message} (so {@code application/problem+json} came out
 *       double-encoded); {@code ApiError} ({@code src/errors.ts}) then carries that JSON as its
 *       message and the HTTP status.
 *   <li>{@code openai} (openai/openai-node {@code src/core/error.ts}, {@code APIError}): the
 *       class comes from the HTTP status ({@code RateLimitError} for 429, ...); it reads
 *       {@code body.error.message}, {@code .type}, {@code .code}, {@code .param}, and the request
 *       id from the {@code x-request-id} header.
 *   <li>{@code google-genai} for Java (2.0.0, {@code com.google.genai.errors.ApiException
 *       .throwFromResponse}): {@code error.status} and {@code error.message}; run for real below.
 * </ul>
 */
class SdkParsableErrorsTest {

  static final ObjectMapper JSON = new ObjectMapper();

  Harness h;

  @BeforeEach
  void start() throws Exception {
    h = Harness.start(Harness.Yaml.keys(1)
        .attempts("attempts:\n  max-attempts: 1\n  backoff-base: 5ms\n  backoff-max: 10ms\n"));
  }

  @AfterEach
  void stop() {
    h.close();
  }

  /** The js-genai test: what {@code throwErrorIfNotOK} needs to parse the body at all. */
  static void parsableByJsGenai(HttpResponse<String> response) {
    assertThat(response.headers().firstValue("content-type").orElse(""))
        .contains("application/json");
  }

  static JsonNode errorInfo(JsonNode error) {
    for (JsonNode d : error.get("details")) {
      if (d.get("@type").asText().equals("type.googleapis.com/google.rpc.ErrorInfo")) return d;
    }
    throw new AssertionError("no ErrorInfo in " + error);
  }

  static JsonNode retryInfo(JsonNode error) {
    for (JsonNode d : error.get("details")) {
      if (d.get("@type").asText().equals("type.googleapis.com/google.rpc.RetryInfo")) return d;
    }
    return null;
  }

  @Test
  void geminiRoutesGetGeminisErrorShapeAsApplicationJson() throws Exception {
    for (String path : new String[] {"/v1beta/models/gemini-2.5-flash:generateContent",
        "/v1/models/gemini-2.5-flash:generateContent", "/upload/v1beta/files"}) {
      HttpResponse<String> response = h.post(path, "{}", "x-goog-api-key", "wrong-token-123");

      assertThat(response.statusCode()).as(path).isEqualTo(403);
      parsableByJsGenai(response);
      assertThat(response.headers().firstValue("X-Gemini-Rotator")).hasValue("forbidden");
      JsonNode body = JSON.readTree(response.body());
      assertThat(body.fieldNames()).toIterable().containsExactly("error");
      JsonNode error = body.get("error");
      assertThat(error.get("code").asInt()).isEqualTo(403);
      assertThat(error.get("status").asText()).isEqualTo("PERMISSION_DENIED");
      assertThat(error.get("message").asText()).isEqualTo(
          "the access token is not valid for this proxy");
      JsonNode info = errorInfo(error);
      assertThat(info.get("reason").asText()).isEqualTo("FORBIDDEN");
      assertThat(info.get("domain").asText()).isEqualTo("gemini-rotator");
      JsonNode metadata = info.get("metadata");
      assertThat(metadata.get("requestId").asText())
          .isEqualTo(response.headers().firstValue("X-Request-Id").orElseThrow());
      assertThat(metadata.get("type").asText())
          .isEqualTo("https://gemini-rotator.dev/problems/forbidden");
      assertThat(metadata.get("title").asText()).isEqualTo("Invalid access token");
      assertThat(metadata.get("instance").asText()).isEqualTo(path);
      // Every metadata value is a string (google.rpc.ErrorInfo.metadata is map<string, string>).
      metadata.fields().forEachRemaining(f -> assertThat(f.getValue().isTextual()).isTrue());
      assertThat(retryInfo(error)).isNull();
    }
  }

  @Test
  void theNoKey429CarriesRetryInfoMatchingRetryAfter() throws Exception {
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    assertThat(h.generate().statusCode()).isEqualTo(429); // the only key cools

    HttpResponse<String> response = h.generate();

    assertThat(response.statusCode()).isEqualTo(429);
    parsableByJsGenai(response);
    JsonNode error = JSON.readTree(response.body()).get("error");
    assertThat(error.get("status").asText()).isEqualTo("RESOURCE_EXHAUSTED");
    assertThat(errorInfo(error).get("reason").asText()).isEqualTo("NO_KEY_AVAILABLE");
    String retryAfter = response.headers().firstValue("Retry-After").orElseThrow();
    assertThat(retryInfo(error).get("retryDelay").asText()).isEqualTo(retryAfter + "s");
  }

  @Test
  void openAiRoutesGetOpenAisErrorShape() throws Exception {
    for (String path : new String[] {"/v1beta/openai/chat/completions",
        "/v1/openai/chat/completions"}) {
      HttpResponse<String> denied = h.post(path, "{\"model\":\"gemini-2.5-flash\"}",
          "Authorization", "Bearer wrong-token-123");
      HttpResponse<String> missing = h.post(path, "{\"model\":\"gemini-2.5-flash\"}");

      assertThat(denied.statusCode()).isEqualTo(403);
      assertThat(missing.statusCode()).isEqualTo(401);
      for (HttpResponse<String> r : java.util.List.of(denied, missing)) {
        assertThat(r.headers().firstValue("content-type").orElse(""))
            .startsWith("application/json");
        JsonNode body = JSON.readTree(r.body());
        assertThat(body.fieldNames()).toIterable().containsExactly("error");
        JsonNode error = body.get("error");
        assertThat(error.get("message").isTextual()).isTrue();
        assertThat(error.get("param").isNull()).isTrue();
        assertThat(error.get("request_id").asText())
            .isEqualTo(r.headers().firstValue("X-Request-Id").orElseThrow());
      }
      JsonNode d = JSON.readTree(denied.body()).get("error");
      assertThat(d.get("type").asText()).isEqualTo("permission_error");
      assertThat(d.get("code").asText()).isEqualTo("forbidden");
      assertThat(d.get("message").asText()).isEqualTo(
          "the access token is not valid for this proxy");
      JsonNode m = JSON.readTree(missing.body()).get("error");
      assertThat(m.get("type").asText()).isEqualTo("authentication_error");
      assertThat(m.get("code").asText()).isEqualTo("unauthenticated");
    }
  }

  @Test
  void theOpenAiRoutesNoKey429IsARateLimitError() throws Exception {
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    String path = "/v1beta/openai/chat/completions";
    String body = "{\"model\":\"gemini-2.5-flash\",\"messages\":[]}";
    assertThat(h.post(path, body, "Authorization", "Bearer " + Harness.TOKEN).statusCode())
        .isEqualTo(429);

    HttpResponse<String> response = h.post(path, body, "Authorization",
        "Bearer " + Harness.TOKEN);

    assertThat(response.statusCode()).isEqualTo(429);
    assertThat(response.headers().firstValue("Retry-After")).isPresent();
    JsonNode error = JSON.readTree(response.body()).get("error");
    assertThat(error.get("type").asText()).isEqualTo("rate_limit_error");
    assertThat(error.get("code").asText()).isEqualTo("no_key_available");
  }

  @Test
  void theProxysOwnRoutesKeepProblemJson() throws Exception {
    HttpResponse<String> admin = h.get("/admin/keys", "Authorization", "Bearer wrong");
    HttpResponse<String> unknown = h.get("/nowhere");

    for (HttpResponse<String> r : java.util.List.of(admin, unknown)) {
      assertThat(r.headers().firstValue("content-type")).hasValue("application/problem+json");
      JsonNode body = JSON.readTree(r.body());
      assertThat(body.get("type").asText()).startsWith("https://gemini-rotator.dev/problems/");
      assertThat(body.get("status").asInt()).isEqualTo(r.statusCode());
      assertThat(body.get("requestId").asText())
          .isEqualTo(r.headers().firstValue("X-Request-Id").orElseThrow());
      assertThat(body.has("error")).isFalse();
    }
  }

  @Test
  void aClientThatAcceptsProblemJsonGetsItOnGeminiRoutes() throws Exception {
    HttpResponse<String> response = h.post(Harness.GENERATE, "{}", "x-goog-api-key",
        "wrong-token-123", "Accept", "application/problem+json, application/json;q=0.5");

    assertThat(response.statusCode()).isEqualTo(403);
    assertThat(response.headers().firstValue("content-type"))
        .hasValue("application/problem+json");
    JsonNode body = JSON.readTree(response.body());
    assertThat(body.get("type").asText()).endsWith("/forbidden");
    assertThat(body.get("detail").asText()).isEqualTo(
        "the access token is not valid for this proxy");
    assertThat(body.get("requestId").asText())
        .isEqualTo(response.headers().firstValue("X-Request-Id").orElseThrow());
    // Gemini's error object still rides along for Gemini-aware readers.
    assertThat(body.get("error").get("status").asText()).isEqualTo("PERMISSION_DENIED");
  }

  @Test
  void acceptThatRefusesOrRanksProblemJsonBelowJsonGetsGeminisShape() throws Exception {
    for (String accept : new String[] {"application/problem+json;q=0",
        "application/problem+json; Q=0.0, application/json",
        "application/json, application/problem+json;q=0.5",
        "application/json;q=0.9, application/problem+json;q=0.8", "*/*"}) {
      HttpResponse<String> response = h.post(Harness.GENERATE, "{}", "x-goog-api-key",
          "wrong-token-123", "Accept", accept);

      assertThat(response.statusCode()).as(accept).isEqualTo(403);
      parsableByJsGenai(response);
      assertThat(JSON.readTree(response.body()).get("error").get("status").asText()).as(accept)
          .isEqualTo("PERMISSION_DENIED");
    }
    HttpResponse<String> preferred = h.post(Harness.GENERATE, "{}", "x-goog-api-key",
        "wrong-token-123", "Accept", "application/json;q=0.5, application/problem+json;q=0.6");
    assertThat(preferred.headers().firstValue("content-type"))
        .hasValue("application/problem+json");
  }

  @Test
  void problemJsonIsChosenOnlyWhenNamedWithAQualityAtLeastJsons() {
    // Plain, first, or tied with JSON: problem+json.
    assertThat(Problems.prefersProblemJson("application/problem+json")).isTrue();
    assertThat(Problems.prefersProblemJson("application/problem+json, application/json")).isTrue();
    assertThat(Problems.prefersProblemJson("application/json, application/problem+json")).isTrue();
    assertThat(Problems.prefersProblemJson("application/problem+json;q=0.5, */*;q=0.1")).isTrue();
    assertThat(Problems.prefersProblemJson("APPLICATION/PROBLEM+JSON; charset=utf-8")).isTrue();
    assertThat(Problems.prefersProblemJson("text/html;q=0.9, application/problem+json;q=0.3"))
        .isTrue();
    // Refused, ranked below JSON (by name or through a wildcard), absent, or a wildcard alone.
    assertThat(Problems.prefersProblemJson("application/problem+json;q=0")).isFalse();
    assertThat(Problems.prefersProblemJson("application/problem+json;q=0.000")).isFalse();
    assertThat(Problems.prefersProblemJson("application/json, application/problem+json;q=0.9"))
        .isFalse();
    assertThat(Problems.prefersProblemJson("application/*, application/problem+json;q=0.9"))
        .isFalse();
    assertThat(Problems.prefersProblemJson("*/*, application/problem+json;q=0.9")).isFalse();
    assertThat(Problems.prefersProblemJson("*/*")).isFalse();
    assertThat(Problems.prefersProblemJson("application/json")).isFalse();
    assertThat(Problems.prefersProblemJson(null)).isFalse();
    assertThat(Problems.prefersProblemJson("")).isFalse();
    // A name inside another type or a quoted parameter is not the media range.
    assertThat(Problems.prefersProblemJson("application/problem+json-seq")).isFalse();
    assertThat(Problems.prefersProblemJson("text/plain; x=\"application/problem+json, a\""))
        .isFalse();
    // A malformed quality drops its range, and only its range.
    assertThat(Problems.prefersProblemJson("application/problem+json;q=2")).isFalse();
    assertThat(Problems.prefersProblemJson("application/problem+json;q=high, application/json"))
        .isFalse();
    assertThat(Problems.prefersProblemJson("application/json;q=x, application/problem+json"))
        .isTrue();
  }

  @Test
  void theOfficialJavaSdkReadsTheProxysOwnErrors() throws Exception {
    HttpOptions options = HttpOptions.builder().baseUrl(h.base.toString())
        .retryOptions(HttpRetryOptions.builder().attempts(1).build()).build();
    try (Client wrongToken = Client.builder().apiKey("wrong-token-123").httpOptions(options)
        .build()) {
      ClientException e = catchThrowableOfType(ClientException.class,
          () -> wrongToken.models.generateContent("gemini-2.5-flash", "hi", null));
      assertThat(e.code()).isEqualTo(403);
      assertThat(e.status()).isEqualTo("PERMISSION_DENIED");
      // The SDK appends error.details as it does for Gemini's own: the request id shows.
      assertThat(e.message()).startsWith("the access token is not valid for this proxy")
          .contains("\"domain\":\"gemini-rotator\"").contains("\"requestId\":");
    }
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    try (Client client = Client.builder().apiKey(Harness.TOKEN).httpOptions(options).build()) {
      ApiException first = catchThrowableOfType(ApiException.class,
          () -> client.models.generateContent("gemini-2.5-flash", "hi", null));
      assertThat(first.code()).isEqualTo(429); // Gemini's own 429, passed on
      ApiException noKey = catchThrowableOfType(ApiException.class,
          () -> client.models.generateContent("gemini-2.5-flash", "hi", null));
      assertThat(noKey.code()).isEqualTo(429);
      assertThat(noKey.status()).isEqualTo("RESOURCE_EXHAUSTED");
      assertThat(noKey.message()).startsWith("no key available for model gemini-2.5-flash")
          .doesNotContain("\\\""); // not a JSON document encoded again as a string
    }
  }
}
