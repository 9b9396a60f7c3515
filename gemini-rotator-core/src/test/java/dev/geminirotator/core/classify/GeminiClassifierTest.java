package dev.geminirotator.core.classify;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatNullPointerException;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.Fixtures;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.stream.Stream;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class GeminiClassifierTest {

  private static final Function<String, String> NO_HEADERS = name -> null;

  private final GeminiClassifier classifier = GeminiClassifier.defaults();

  private Outcome fixture(int status, String name) {
    return classifier.classify(status, NO_HEADERS, Fixtures.geminiError(name));
  }

  private static Function<String, String> headers(String... namesAndValues) {
    Map<String, String> map = new TreeMap<>(String.CASE_INSENSITIVE_ORDER);
    for (int i = 0; i < namesAndValues.length; i += 2) {
      map.put(namesAndValues[i], namesAndValues[i + 1]);
    }
    return map::get;
  }

  /** Every row of fixtures/gemini-errors/README.md, by file. */
  @Nested
  class Fixture {

    @Test
    void perMinuteQuotaCoolsForTheRetryDelayInTheBody() {
      assertThat(fixture(429, "429-per-minute"))
          .isEqualTo(Outcome.rateLimited(Duration.ofSeconds(37), QuotaScope.PER_MINUTE,
              "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"));
    }

    @Test
    void fractionalRetryDelayKeepsItsMilliseconds() {
      assertThat(fixture(429, "429-input-tokens-per-minute-fractional"))
          .isEqualTo(Outcome.rateLimited(Duration.ofMillis(45_800), QuotaScope.PER_MINUTE,
              "GenerateContentInputTokensPerModelPerMinute-FreeTier"));
    }

    @Test
    void perDayQuotaIsScopedToTheDay() {
      assertThat(fixture(429, "429-per-day"))
          .isEqualTo(Outcome.rateLimited(Duration.ofSeconds(12), QuotaScope.PER_DAY,
              "GenerateRequestsPerDayPerProjectPerModel-FreeTier"));
    }

    @Test
    void bareRateLimitHasNoDelayAndNoScope() {
      assertThat(fixture(429, "429-bare")).isEqualTo(Outcome.rateLimited(null, QuotaScope.UNKNOWN));
    }

    @Test
    void invalidKeyIsRejected() {
      assertThat(fixture(400, "400-api-key-invalid"))
          .isEqualTo(Outcome.keyRejected(400, "API_KEY_INVALID"));
    }

    @Test
    void expiredKeyIsRejectedWithTheReasonGeminiGave() {
      assertThat(fixture(400, "400-api-key-expired"))
          .isEqualTo(Outcome.keyRejected(400, "API_KEY_INVALID"));
    }

    @Test
    void invalidArgumentIsTheClientsFault() {
      assertThat(fixture(400, "400-invalid-argument")).isEqualTo(Outcome.clientError(400));
    }

    @Test
    void unsupportedLocationIsNotTheKeysFault() {
      assertThat(fixture(400, "400-failed-precondition-location"))
          .isEqualTo(Outcome.clientError(400));
    }

    @Test
    void suspendedConsumerIsRejectedWhenItIsTheKeysProject() {
      assertThat(classifier.classify(403, NO_HEADERS,
          Fixtures.geminiError("403-consumer-suspended"), keyOfProject("000000000000")))
          .isEqualTo(Outcome.keyRejected(403, "CONSUMER_SUSPENDED"));
    }

    @Test
    void projectWithoutTheApiIsRejectedWhenItIsTheKeysProject() {
      assertThat(classifier.classify(403, NO_HEADERS, Fixtures.geminiError("403-service-disabled"),
          keyOfProject("000000000000")))
          .isEqualTo(Outcome.keyRejected(403, "SERVICE_DISABLED"));
    }

    @Test
    void oauthCredentialNextToTheKeyIsNotTheKeysFault() {
      assertThat(fixture(401, "401-oauth-next-to-key")).isEqualTo(Outcome.clientError(401));
    }

    @Test
    void fileOfAnotherProjectIsNotTheKeysFault() {
      assertThat(fixture(403, "403-file-permission")).isEqualTo(Outcome.clientError(403));
    }

    @Test
    void unknownModelIsTheClientsFault() {
      assertThat(fixture(404, "404-model-not-found")).isEqualTo(Outcome.clientError(404));
    }

    @Test
    void internalErrorIsAnUpstreamError() {
      assertThat(fixture(500, "500-internal")).isEqualTo(Outcome.upstreamError(500, "INTERNAL"));
    }

    @Test
    void overloadedModelIsAnUpstreamError() {
      assertThat(fixture(503, "503-overloaded"))
          .isEqualTo(Outcome.upstreamError(503, "UNAVAILABLE"));
    }

    @Test
    void deadlineExceededIsAnUpstreamError() {
      assertThat(fixture(504, "504-deadline"))
          .isEqualTo(Outcome.upstreamError(504, "DEADLINE_EXCEEDED"));
    }
  }

  static Stream<Arguments> everyFixture() {
    return Stream.of(
        Arguments.of(429, "429-per-minute"),
        Arguments.of(429, "429-input-tokens-per-minute-fractional"),
        Arguments.of(429, "429-per-day"),
        Arguments.of(429, "429-bare"),
        Arguments.of(400, "400-api-key-invalid"),
        Arguments.of(400, "400-api-key-expired"),
        Arguments.of(400, "400-invalid-argument"),
        Arguments.of(401, "401-oauth-next-to-key"),
        Arguments.of(400, "400-failed-precondition-location"),
        Arguments.of(403, "403-consumer-suspended"),
        Arguments.of(403, "403-service-disabled"),
        Arguments.of(403, "403-file-permission"),
        Arguments.of(404, "404-model-not-found"),
        Arguments.of(500, "500-internal"),
        Arguments.of(503, "503-overloaded"),
        Arguments.of(504, "504-deadline"));
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("everyFixture")
  void reasonsNeverCarryTextFromTheBody(int status, String name) {
    String body = Fixtures.geminiError(name);
    String reason = reasonOf(classifier.classify(status, NO_HEADERS, body));
    if (reason == null) {
      return;
    }
    assertThat(reason).matches("[A-Z_]+");
    assertThat(body).contains(reason); // a token the body names, nothing more
    String message = body.substring(body.indexOf("\"message\""));
    message = message.substring(0, message.indexOf("\",") + 1);
    for (String word : message.split("[^A-Za-z0-9_:'-]+")) {
      if (word.length() > 3) {
        assertThat(reason).doesNotContain(word);
      }
    }
    assertThat(reason).doesNotContain("AIza").doesNotContain("api_key").doesNotContain("http");
  }

  @ParameterizedTest(name = "{1}")
  @MethodSource("everyFixture")
  void fixtureInTheOpenAiArrayFormClassifiesTheSame(int status, String name) {
    String body = Fixtures.geminiError(name);
    assertThat(classifier.classify(status, NO_HEADERS, "[" + body + "]"))
        .isEqualTo(classifier.classify(status, NO_HEADERS, body));
  }

  private static String reasonOf(Outcome outcome) {
    if (outcome instanceof Outcome.KeyRejected r) return r.reason();
    if (outcome instanceof Outcome.UpstreamError e) return e.reason();
    return null;
  }

  @Nested
  class Success {

    @ParameterizedTest
    @ValueSource(ints = {200, 201, 204, 206, 299})
    void twoHundredsAreSuccesses(int status) {
      assertThat(classifier.classify(status, NO_HEADERS, null)).isEqualTo(Outcome.success());
    }

    @Test
    void successIgnoresAnyBody() {
      assertThat(classifier.classify(200, NO_HEADERS, Fixtures.geminiError("400-api-key-invalid")))
          .isSameAs(Outcome.success());
    }
  }

  @Nested
  class RateLimit {

    private final FakeClock clock = FakeClock.at(Instant.parse("2026-11-26T12:00:00Z"));
    private final GeminiClassifier clocked = GeminiClassifier.builder().clock(clock).build();

    @Test
    void retryAfterSecondsIsUsedWhenTheBodyHasNoRetryInfo() {
      assertThat(clocked.classify(429, headers("retry-after", "30"),
          Fixtures.geminiError("429-bare")))
          .isEqualTo(Outcome.rateLimited(Duration.ofSeconds(30), QuotaScope.UNKNOWN));
    }

    @Test
    void retryAfterHttpDateIsMeasuredFromTheClock() {
      assertThat(clocked.classify(429, headers("Retry-After", "Thu, 26 Nov 2026 12:01:30 GMT"),
          null))
          .isEqualTo(Outcome.rateLimited(Duration.ofSeconds(90), QuotaScope.UNKNOWN));
    }

    @Test
    void retryAfterDateInThePastMeansNoWait() {
      assertThat(clocked.classify(429, headers("Retry-After", "Thu, 26 Nov 2026 11:59:00 GMT"),
          null))
          .isEqualTo(Outcome.rateLimited(Duration.ZERO, QuotaScope.UNKNOWN));
    }

    @Test
    void retryInfoInTheBodyWinsOverRetryAfter() {
      assertThat(clocked.classify(429, headers("Retry-After", "5"),
          Fixtures.geminiError("429-per-minute")))
          .isEqualTo(Outcome.rateLimited(Duration.ofSeconds(37), QuotaScope.PER_MINUTE,
              "GenerateRequestsPerMinutePerProjectPerModel-FreeTier"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"soon", "-5", "1.5", "", "Thursday", "99999999999999999999"})
    void unreadableRetryAfterIsIgnored(String value) {
      assertThat(clocked.classify(429, headers("Retry-After", value), null))
          .isEqualTo(Outcome.rateLimited(null, QuotaScope.UNKNOWN));
    }

    @Test
    void missingHeaderFunctionIsNoHeaders() {
      assertThat(clocked.classify(429, null, null))
          .isEqualTo(Outcome.rateLimited(null, QuotaScope.UNKNOWN));
    }

    @Test
    void truncatedBodyFallsBackToRetryAfter() {
      String body = Fixtures.geminiError("429-per-day");
      String truncated = body.substring(0, body.indexOf("RetryInfo"));
      assertThat(clocked.classify(429, headers("Retry-After", "7"), truncated))
          .isEqualTo(Outcome.rateLimited(Duration.ofSeconds(7), QuotaScope.UNKNOWN));
    }

    @Test
    void garbageBodyIsABareRateLimit() {
      assertThat(clocked.classify(429, NO_HEADERS, "<html><body>Too Many Requests</body></html>"))
          .isEqualTo(Outcome.rateLimited(null, QuotaScope.UNKNOWN));
    }

    @ParameterizedTest
    @ValueSource(strings = {"1.5s", "1.5", " 1.500s ", "1.500000000000s"})
    void retryDelayAcceptsDecimalSecondsWithOrWithoutUnit(String delay) {
      assertThat(clocked.classify(429, NO_HEADERS, retryInfo('"' + delay + '"')))
          .isEqualTo(Outcome.rateLimited(Duration.ofMillis(1500), QuotaScope.UNKNOWN));
    }

    @Test
    void retryDelayWithNanosecondsIsExact() {
      assertThat(clocked.classify(429, NO_HEADERS, retryInfo("\"12.409154912s\"")))
          .isEqualTo(Outcome.rateLimited(Duration.ofSeconds(12, 409_154_912), QuotaScope.UNKNOWN));
    }

    @Test
    void retryDelayAsSecondsAndNanosObjectIsRead() {
      assertThat(clocked.classify(429, NO_HEADERS, retryInfo("{\"seconds\": 3, \"nanos\": 250000000}")))
          .isEqualTo(Outcome.rateLimited(Duration.ofMillis(3250), QuotaScope.UNKNOWN));
    }

    @ParameterizedTest
    @ValueSource(strings = {"\"-3s\"", "\"3m\"", "\"PT3S\"", "\"\"", "null", "true", "[]",
        "{\"seconds\": -1}", "\"9999999999999s\""})
    void unreadableRetryDelayFallsBackToRetryAfter(String delay) {
      assertThat(clocked.classify(429, headers("Retry-After", "4"), retryInfo(delay)))
          .isEqualTo(Outcome.rateLimited(Duration.ofSeconds(4), QuotaScope.UNKNOWN));
    }

    @Test
    void perDayViolationWinsOverPerMinuteViolation() {
      String body = quotaFailure("GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
          "GenerateRequestsPerDayPerProjectPerModel-FreeTier");
      assertThat(clocked.classify(429, NO_HEADERS, body))
          .isEqualTo(Outcome.rateLimited(null, QuotaScope.PER_DAY,
              "GenerateRequestsPerDayPerProjectPerModel-FreeTier"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"GenerateRequestsPerDayPerProjectPerModel-FreeTier",
        "generate_requests_per_day", "requests-per-day", "REQUESTSPERDAY"})
    void perDayIsRecognisedInEverySpelling(String quotaId) {
      assertThat(clocked.classify(429, NO_HEADERS, quotaFailure(quotaId)))
          .isEqualTo(Outcome.rateLimited(null, QuotaScope.PER_DAY, quotaId));
    }

    @ParameterizedTest
    @ValueSource(strings = {"GenerateContentInputTokensPerModelPerMinute-FreeTier",
        "requests_per_minute", "requests-per-minute"})
    void perMinuteIsRecognisedInEverySpelling(String quotaId) {
      assertThat(clocked.classify(429, NO_HEADERS, quotaFailure(quotaId)))
          .isEqualTo(Outcome.rateLimited(null, QuotaScope.PER_MINUTE, quotaId));
    }

    @Test
    void quotaWithoutAWindowHasAnUnknownScope() {
      assertThat(clocked.classify(429, NO_HEADERS, quotaFailure("GenerateContentConcurrency")))
          .isEqualTo(Outcome.rateLimited(null, QuotaScope.UNKNOWN, "GenerateContentConcurrency"));
    }

    @Test
    void quotaIdOfTheViolationThatSetTheWindowIsCarried() {
      String body = quotaFailure("GenerateContentConcurrency",
          "GenerateRequestsPerMinutePerProjectPerModel-FreeTier",
          "GenerateRequestsPerDayPerProjectPerModel-FreeTier",
          "GenerateContentInputTokensPerModelPerMinute-FreeTier");
      assertThat(((Outcome.RateLimited) clocked.classify(429, NO_HEADERS, body)).quotaId())
          .isEqualTo("GenerateRequestsPerDayPerProjectPerModel-FreeTier");
    }

    @ParameterizedTest
    @ValueSource(strings = {"PerDay\\nINFO forged line", "PerDay quota", "-PerDay", "PerDay\\\"x",
        "PerDay\\u001b[31m"})
    void quotaIdThatCouldForgeALogLineIsDropped(String quotaId) {
      Outcome.RateLimited outcome =
          (Outcome.RateLimited) clocked.classify(429, NO_HEADERS, quotaFailure(quotaId));
      assertThat(outcome.scope()).isEqualTo(QuotaScope.PER_DAY);
      assertThat(outcome.quotaId()).isNull();
    }

    @Test
    void overlongQuotaIdIsDropped() {
      String id = "GenerateRequestsPerDay" + "x".repeat(Outcome.RateLimited.MAX_QUOTA_ID_LENGTH);
      Outcome.RateLimited outcome =
          (Outcome.RateLimited) clocked.classify(429, NO_HEADERS, quotaFailure(id));
      assertThat(outcome.scope()).isEqualTo(QuotaScope.PER_DAY);
      assertThat(outcome.quotaId()).isNull();
    }

    @Test
    void errorInfoQuotaLimitNamesTheWindowToo() {
      String body = """
          {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "RATE_LIMIT_EXCEEDED",
             "metadata": {"quota_limit": "GenerateRequestsPerDayPerProject"}}]}}""";
      assertThat(clocked.classify(429, NO_HEADERS, body))
          .isEqualTo(Outcome.rateLimited(null, QuotaScope.PER_DAY,
              "GenerateRequestsPerDayPerProject"));
    }

    private static String retryInfo(String delayJson) {
      return """
          {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": %s}]}}"""
          .formatted(delayJson);
    }

    private static String quotaFailure(String... quotaIds) {
      StringBuilder violations = new StringBuilder();
      for (String id : quotaIds) {
        if (violations.length() > 0) violations.append(',');
        violations.append("{\"quotaMetric\": \"generativelanguage.googleapis.com/x\", \"quotaId\": \"")
            .append(id).append("\"}");
      }
      return """
          {"error": {"code": 429, "status": "RESOURCE_EXHAUSTED", "details": [
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure", "violations": [%s]}]}}"""
          .formatted(violations);
    }
  }

  @Nested
  class Credentials {

    /** What Google answers a request that carries an API key and an OAuth credential. */
    private static final String OAUTH_NEXT_TO_KEY = """
        {"error": {"code": 401, "message": "Request had invalid authentication credentials. \
        Expected OAuth 2 access token, login cookie or other valid authentication credential.",
          "status": "UNAUTHENTICATED", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo",
             "reason": "ACCESS_TOKEN_TYPE_UNSUPPORTED", "domain": "googleapis.com"}]}}""";

    @Test
    void oauthCredentialNextToTheKeyDoesNotBlameTheKey() {
      assertThat(classifier.classify(401, NO_HEADERS, OAUTH_NEXT_TO_KEY))
          .isEqualTo(Outcome.clientError(401));
    }

    @Test
    void methodThatTakesNoApiKeyDoesNotBlameTheKey() {
      String body = """
          {"error": {"code": 401, "message": "API keys are not supported by this API.",
                     "status": "UNAUTHENTICATED"}}""";
      assertThat(classifier.classify(401, NO_HEADERS, body)).isEqualTo(Outcome.clientError(401));
      assertThat(classifier.classify(403, NO_HEADERS, body.replace("401", "403")))
          .isEqualTo(Outcome.clientError(403));
    }

    @Test
    void bareUnauthenticatedDoesNotBlameTheKey() {
      assertThat(classifier.classify(401, NO_HEADERS, null)).isEqualTo(Outcome.clientError(401));
      assertThat(classifier.classify(401, NO_HEADERS,
          "{\"error\": {\"code\": 401, \"status\": \"Key AIzaSyD-SECRET is bad\"}}"))
          .isEqualTo(Outcome.clientError(401));
    }

    @Test
    void unauthenticatedThatNamesTheKeyInvalidIsAKeyRejection() {
      assertThat(classifier.classify(401, NO_HEADERS,
          errorInfo(401, "UNAUTHENTICATED", "API_KEY_INVALID")))
          .isEqualTo(Outcome.keyRejected(401, "API_KEY_INVALID"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"API_KEY_HTTP_REFERRER_BLOCKED", "API_KEY_ANDROID_APP_BLOCKED",
        "API_KEY_IOS_APP_BLOCKED"})
    void keyRestrictionTheCallersHeadersDecideDoesNotBlameTheKey(String reason) {
      assertThat(classifier.classify(403, NO_HEADERS, errorInfo(403, "PERMISSION_DENIED", reason)))
          .isEqualTo(Outcome.clientError(403));
    }

    @ParameterizedTest
    @ValueSource(strings = {"API_KEY_SERVICE_BLOCKED", "API_KEY_IP_ADDRESS_BLOCKED",
        "API_KEY_INVALID", "API_KEY_EXPIRED"})
    void forbiddenWithAKeyLevelReasonIsAKeyRejection(String reason) {
      assertThat(classifier.classify(403, NO_HEADERS, errorInfo(403, "PERMISSION_DENIED", reason)))
          .isEqualTo(Outcome.keyRejected(403, reason));
    }

    @ParameterizedTest
    @ValueSource(strings = {"ACCESS_TOKEN_SCOPE_INSUFFICIENT", "IAM_PERMISSION_DENIED",
        "LOCATION_POLICY_VIOLATED", "SOMETHING_NEW"})
    void forbiddenWithAnotherReasonIsAClientError(String reason) {
      assertThat(classifier.classify(403, NO_HEADERS, errorInfo(403, "PERMISSION_DENIED", reason)))
          .isEqualTo(Outcome.clientError(403));
    }

    @Test
    void apiKeyExpiredReasonOnABadRequestIsAKeyRejection() {
      assertThat(classifier.classify(400, NO_HEADERS,
          errorInfo(400, "INVALID_ARGUMENT", "API_KEY_EXPIRED")))
          .isEqualTo(Outcome.keyRejected(400, "API_KEY_EXPIRED"));
    }

    @Test
    void badRequestWithAnotherReasonIsAClientError() {
      assertThat(classifier.classify(400, NO_HEADERS,
          errorInfo(400, "INVALID_ARGUMENT", "FIELD_VIOLATION")))
          .isEqualTo(Outcome.clientError(400));
    }

    @Test
    void invalidKeyMessageWithoutDetailsIsAKeyRejection() {
      String body = message(400, "INVALID_ARGUMENT", "API key not valid. Please pass a valid API key.");
      assertThat(classifier.classify(400, NO_HEADERS, body))
          .isEqualTo(Outcome.keyRejected(400, "API_KEY_INVALID"));
    }

    @Test
    void expiredKeyMessageWithoutDetailsIsAKeyRejection() {
      String body = message(400, "INVALID_ARGUMENT", "API key expired. Please renew the API key.");
      assertThat(classifier.classify(400, NO_HEADERS, body))
          .isEqualTo(Outcome.keyRejected(400, "API_KEY_EXPIRED"));
    }

    @Test
    void keyWordsEchoedFromTheRequestDoNotBlameTheKey() {
      String body = message(400, "INVALID_ARGUMENT",
          "Invalid JSON payload received. Unknown name \"API key not valid\": Cannot find field.");
      assertThat(classifier.classify(400, NO_HEADERS, body)).isEqualTo(Outcome.clientError(400));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "Your API key was reported as leaked. Please use another API key.",
        "Your project has been denied access. Please contact support."})
    void forbiddenNamingTheKeyIsAKeyRejection(String message) {
      assertThat(classifier.classify(403, NO_HEADERS, message(403, "PERMISSION_DENIED", message)))
          .isEqualTo(Outcome.keyRejected(403, "PERMISSION_DENIED"));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "You do not have permission to access the File abc or it may not exist.",
        "You do not have permission to access tuned model tunedModels/x. Consumer 'api_key:x'",
        "Method doesn't allow unregistered callers. Please use API Key or other form of API consumer identity to call this API.",
        ""})
    void forbiddenWithoutKeyLevelEvidenceIsAClientError(String message) {
      assertThat(classifier.classify(403, NO_HEADERS, message(403, "PERMISSION_DENIED", message)))
          .isEqualTo(Outcome.clientError(403));
    }

    @Test
    void forbiddenWithoutABodyIsAClientError() {
      assertThat(classifier.classify(403, NO_HEADERS, null)).isEqualTo(Outcome.clientError(403));
    }

    private static String errorInfo(int code, String status, String reason) {
      return """
          {"error": {"code": %d, "message": "denied", "status": "%s", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "%s",
             "domain": "googleapis.com"}]}}""".formatted(code, status, reason);
    }

    private static String message(int code, String status, String message) {
      return "{\"error\": {\"code\": " + code + ", \"message\": \""
          + message.replace("\"", "\\\"") + "\", \"status\": \"" + status + "\"}}";
    }
  }

  /**
   * Answers about a consumer (SERVICE_DISABLED, BILLING_DISABLED, CONSUMER_INVALID,
   * CONSUMER_SUSPENDED) blame the key only when the consumer they name is the key's own: a
   * request naming another project's resource must not get a pool key marked invalid.
   */
  @Nested
  class ConsumerOfAnotherProject {

    private static final String OUR_PROJECT = "123456789012";
    private static final String SECRET = "AIzaSyD-our-own-pool-key-0000000000";

    /** The 403-service-disabled fixture, about project {@code number}. */
    private String serviceDisabled(String number) {
      return Fixtures.geminiError("403-service-disabled").replace("000000000000", number);
    }

    /** The 403-consumer-suspended fixture, about project {@code number} and key {@code secret}. */
    private String consumerSuspended(String number, String secret) {
      return Fixtures.geminiError("403-consumer-suspended").replace("000000000000", number)
          .replace("AIzaSyD-EXAMPLE-ONLY-000000000000000", secret);
    }

    private String errorInfo(String reason, String consumer) {
      return """
          {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "%s",
             "domain": "googleapis.com",
             "metadata": {"consumer": "%s", "service": "generativelanguage.googleapis.com"}}]}}"""
          .formatted(reason, consumer);
    }

    private Outcome classify(String body, ApiKey key) {
      return classifier.classify(403, NO_HEADERS, body, key);
    }

    @Test
    void serviceDisabledForAnotherProjectDoesNotBlameTheKey() {
      assertThat(classify(serviceDisabled("999999999999"), keyOfProject(OUR_PROJECT)))
          .isEqualTo(Outcome.clientError(403));
    }

    @Test
    void serviceDisabledForTheKeysProjectBlamesTheKey() {
      assertThat(classify(serviceDisabled(OUR_PROJECT), keyOfProject(OUR_PROJECT)))
          .isEqualTo(Outcome.keyRejected(403, "SERVICE_DISABLED"));
      assertThat(classify(serviceDisabled(OUR_PROJECT), keyOfProject("projects/" + OUR_PROJECT)))
          .isEqualTo(Outcome.keyRejected(403, "SERVICE_DISABLED"));
    }

    @ParameterizedTest
    @ValueSource(strings = {"BILLING_DISABLED", "CONSUMER_INVALID", "CONSUMER_SUSPENDED",
        "SERVICE_DISABLED"})
    void consumerReasonBlamesOnlyTheConsumerItNames(String reason) {
      ApiKey ours = keyOfProject(OUR_PROJECT);
      assertThat(classify(errorInfo(reason, "projects/" + OUR_PROJECT), ours))
          .isEqualTo(Outcome.keyRejected(403, reason));
      assertThat(classify(errorInfo(reason, "project_number:" + OUR_PROJECT), ours))
          .isEqualTo(Outcome.keyRejected(403, reason));
      assertThat(classify(errorInfo(reason, "projects/1" + OUR_PROJECT), ours))
          .isEqualTo(Outcome.clientError(403));
      assertThat(classify(errorInfo(reason, "projects/" + OUR_PROJECT.substring(1)), ours))
          .isEqualTo(Outcome.clientError(403));
      assertThat(classify(errorInfo(reason, "api_key:" + SECRET), ours))
          .isEqualTo(Outcome.keyRejected(403, reason));
      assertThat(classify(errorInfo(reason, "api_key:AIzaSyD-somebody-elses-key"), ours))
          .isEqualTo(Outcome.clientError(403));
    }

    @Test
    void suspendedConsumerNamingThisKeyBlamesItWithoutAProjectLabel() {
      // The real shape names the key itself in the message: proof enough whatever the label.
      ApiKey unlabelled = ApiKey.of("k1", SECRET);
      assertThat(classify(consumerSuspended("000000000000", SECRET), unlabelled))
          .isEqualTo(Outcome.keyRejected(403, "CONSUMER_SUSPENDED"));
      assertThat(classify(consumerSuspended("000000000000", "AIzaSyD-another-key"), unlabelled))
          .isEqualTo(Outcome.clientError(403));
    }

    @Test
    void consumerAnswerIsNotBlamedWhenTheKeysProjectNumberIsUnknown() {
      // No label, a project id for a label, or no key at all: nothing says whose project it is.
      for (ApiKey key : new ApiKey[] {ApiKey.of("k1", SECRET), keyOfProject("my-project-a"),
          null}) {
        assertThat(classify(serviceDisabled(OUR_PROJECT), key)).isEqualTo(Outcome.clientError(403));
        assertThat(classify(errorInfo("BILLING_DISABLED", "projects/" + OUR_PROJECT), key))
            .isEqualTo(Outcome.clientError(403));
      }
    }

    @Test
    void consumerAnswerNamingNoConsumerIsNotBlamed() {
      String body = """
          {"error": {"code": 403, "message": "denied", "status": "PERMISSION_DENIED", "details": [
            {"@type": "type.googleapis.com/google.rpc.ErrorInfo", "reason": "SERVICE_DISABLED",
             "domain": "googleapis.com"}]}}""";
      assertThat(classify(body, keyOfProject(OUR_PROJECT))).isEqualTo(Outcome.clientError(403));
    }

    @ParameterizedTest
    @ValueSource(strings = {
        "Consumer 'projects/%s' has been suspended.",
        "Project '%s' has been suspended.",
        "Generative Language API has not been used in project %s before or it is disabled."})
    void consumerMessageWithoutDetailsBlamesOnlyTheKeysProject(String message) {
      ApiKey ours = keyOfProject(OUR_PROJECT);
      assertThat(classify(message(message.formatted(OUR_PROJECT)), ours))
          .isEqualTo(Outcome.keyRejected(403, "PERMISSION_DENIED"));
      assertThat(classify(message(message.formatted("999999999999")), ours))
          .isEqualTo(Outcome.clientError(403));
      assertThat(classify(message(message.formatted(OUR_PROJECT)), ApiKey.of("k1", SECRET)))
          .isEqualTo(Outcome.clientError(403));
    }

    @Test
    void consumerMessageNamingThisKeyBlamesIt() {
      String message = "Permission denied: Consumer 'api_key:%s' has been suspended.";
      ApiKey unlabelled = ApiKey.of("k1", SECRET);
      assertThat(classify(message(message.formatted(SECRET)), unlabelled))
          .isEqualTo(Outcome.keyRejected(403, "PERMISSION_DENIED"));
      assertThat(classify(message(message.formatted("AIzaSyD-another")), unlabelled))
          .isEqualTo(Outcome.clientError(403));
    }

    private String message(String message) {
      return "{\"error\": {\"code\": 403, \"message\": \"" + message
          + "\", \"status\": \"PERMISSION_DENIED\"}}";
    }
  }

  private static ApiKey keyOfProject(String project) {
    return ApiKey.builder("AIzaSyD-our-own-pool-key-0000000000").id("k1").project(project).build();
  }

  @Nested
  class OtherStatuses {

    @ParameterizedTest
    @ValueSource(ints = {404, 405, 409, 411, 413, 415, 422, 499})
    void otherFourHundredsAreClientErrors(int status) {
      assertThat(classifier.classify(status, NO_HEADERS, "{\"error\": {\"status\": \"UNAVAILABLE\"}}"))
          .isEqualTo(Outcome.clientError(status));
    }

    @Test
    void requestTimeoutIsAnUpstreamError() {
      assertThat(classifier.classify(408, NO_HEADERS, null))
          .isEqualTo(Outcome.upstreamError(408, null));
    }

    @ParameterizedTest
    @ValueSource(ints = {500, 501, 502, 503, 504, 507, 599})
    void fiveHundredsWithoutABodyAreUpstreamErrorsWithoutReason(int status) {
      assertThat(classifier.classify(status, NO_HEADERS, null))
          .isEqualTo(Outcome.upstreamError(status, null));
    }

    @Test
    void htmlErrorPageFromAFrontEndIsAnUpstreamErrorWithoutReason() {
      assertThat(classifier.classify(502, NO_HEADERS,
          "<!DOCTYPE html><html><title>Error 502 (Server Error)!!1</title></html>"))
          .isEqualTo(Outcome.upstreamError(502, null));
    }

    @Test
    void unknownStatusStringIsNotUsedAsReason() {
      assertThat(classifier.classify(503, NO_HEADERS,
          "{\"error\": {\"code\": 503, \"status\": \"overloaded, try key AIzaSyD-SECRET\"}}"))
          .isEqualTo(Outcome.upstreamError(503, null));
    }

    @Test
    void upstreamReasonIsFoundAfterOtherFields() {
      assertThat(classifier.classify(503, NO_HEADERS,
          "{\"other\": [1, {\"status\": \"INTERNAL\"}], \"error\": {\"code\": 503, "
              + "\"details\": [{\"status\": \"INTERNAL\"}], \"status\": \"UNAVAILABLE\"}}"))
          .isEqualTo(Outcome.upstreamError(503, "UNAVAILABLE"));
    }

    @Test
    void upstreamReasonSurvivesTruncationAfterIt() {
      String body = Fixtures.geminiError("503-overloaded");
      body = body.substring(0, body.indexOf("UNAVAILABLE") + "UNAVAILABLE\"".length());
      assertThat(classifier.classify(503, NO_HEADERS, body))
          .isEqualTo(Outcome.upstreamError(503, "UNAVAILABLE"));
    }

    @ParameterizedTest
    @ValueSource(ints = {100, 101, 301, 302, 304})
    void informationalAndRedirectStatusesBlameNobody(int status) {
      assertThat(classifier.classify(status, NO_HEADERS, null))
          .isEqualTo(Outcome.clientError(status));
    }

    @ParameterizedTest
    @ValueSource(ints = {0, -1, 600, 999})
    void statusThatIsNoHttpStatusIsAnUpstreamError(int status) {
      assertThat(classifier.classify(status, NO_HEADERS, null))
          .isEqualTo(Outcome.upstreamError(status, null));
    }
  }

  @Nested
  class UnreadableBodies {

    @Test
    void truncatedKeyRejectionFallsBackToAClientError() {
      String body = Fixtures.geminiError("400-api-key-invalid");
      String truncated = body.substring(0, body.indexOf("API_KEY_INVALID") + 5);
      assertThat(classifier.classify(400, NO_HEADERS, truncated)).isEqualTo(Outcome.clientError(400));
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "   ", "null", "[]", "[1]", "{}", "{\"error\": \"bad\"}",
        "{\"error\": {\"details\": {\"reason\": \"API_KEY_INVALID\"}}}", "{{{{", "]", "\uFEFF{",
        "{\"error\": {\"details\": [null, 3, \"x\", {\"@type\": 5}]}}"})
    void oddBodiesFallBackToTheStatus(String body) {
      assertThat(classifier.classify(400, NO_HEADERS, body)).isEqualTo(Outcome.clientError(400));
      assertThat(classifier.classify(403, NO_HEADERS, body)).isEqualTo(Outcome.clientError(403));
      assertThat(classifier.classify(429, NO_HEADERS, body))
          .isEqualTo(Outcome.rateLimited(null, QuotaScope.UNKNOWN));
      assertThat(classifier.classify(503, NO_HEADERS, body))
          .isEqualTo(Outcome.upstreamError(503, null));
    }

    @Test
    void hugeNestingDoesNotThrow() {
      String deep = "[".repeat(GeminiClassifier.MAX_PEEK_BYTES);
      String deepObject = "{\"error\": ".repeat(5_000) + "{}" + "}".repeat(5_000);
      assertThat(classifier.classify(400, NO_HEADERS, deep)).isEqualTo(Outcome.clientError(400));
      assertThat(classifier.classify(429, NO_HEADERS, deep))
          .isEqualTo(Outcome.rateLimited(null, QuotaScope.UNKNOWN));
      assertThat(classifier.classify(503, NO_HEADERS, deep))
          .isEqualTo(Outcome.upstreamError(503, null));
      assertThat(classifier.classify(403, NO_HEADERS, deepObject)).isEqualTo(Outcome.clientError(403));
      assertThat(classifier.classify(503, NO_HEADERS, deepObject))
          .isEqualTo(Outcome.upstreamError(503, null));
    }

    @Test
    void bodyLongerThanThePeekIsCutAndDoesNotThrow() {
      String padding = " ".repeat(GeminiClassifier.MAX_PEEK_BYTES);
      String body = "{\"pad\": \"" + padding + "\", " + Fixtures.geminiError("400-api-key-invalid")
          .substring(1);
      assertThat(classifier.classify(400, NO_HEADERS, body)).isEqualTo(Outcome.clientError(400));
    }

    @Test
    void bodyWithinThePeekIsReadWhole() {
      String padding = " ".repeat(GeminiClassifier.MAX_PEEK_BYTES - 2_000);
      String body = "{\"pad\": \"" + padding + "\", " + Fixtures.geminiError("400-api-key-invalid")
          .substring(1);
      assertThat(classifier.classify(400, NO_HEADERS, body))
          .isEqualTo(Outcome.keyRejected(400, "API_KEY_INVALID"));
    }

    @Test
    void openAiArrayFormIsReadFromItsFirstElement() {
      String body = "[{\"error\": {\"code\": 400, \"message\": \"API key not valid.\", "
          + "\"status\": \"INVALID_ARGUMENT\", \"details\": [{\"@type\": "
          + "\"type.googleapis.com/google.rpc.ErrorInfo\", \"reason\": \"API_KEY_INVALID\"}]}},"
          + " {\"error\": {\"code\": 500}}]";
      assertThat(classifier.classify(400, NO_HEADERS, body))
          .isEqualTo(Outcome.keyRejected(400, "API_KEY_INVALID"));
    }

    @Test
    void openAiArrayFormCarriesTheUpstreamReason() {
      assertThat(classifier.classify(503, NO_HEADERS,
          "[" + Fixtures.geminiError("503-overloaded") + "]"))
          .isEqualTo(Outcome.upstreamError(503, "UNAVAILABLE"));
    }
  }

  @Nested
  class TransportFailures {

    @Test
    void readTimeoutIsATimeout() {
      assertThat(classifier.classifyTransportFailure(new SocketTimeoutException("Read timed out")))
          .isEqualTo(Outcome.transportError("timeout (SocketTimeoutException)"));
    }

    @Test
    void connectTimeoutIsNamedAsSuch() {
      assertThat(classifier.classifyTransportFailure(
          new SocketTimeoutException("Connect timed out")))
          .isEqualTo(Outcome.transportError("connect timeout (SocketTimeoutException)"));
      assertThat(classifier.classifyTransportFailure(
          new HttpConnectTimeoutException("HTTP connect timed out")))
          .isEqualTo(Outcome.transportError("connect timeout (HttpConnectTimeoutException)"));
    }

    @Test
    void callTimeoutIsATimeout() {
      assertThat(classifier.classifyTransportFailure(new InterruptedIOException("timeout")))
          .isEqualTo(Outcome.transportError("timeout (InterruptedIOException)"));
      assertThat(classifier.classifyTransportFailure(new TimeoutException()))
          .isEqualTo(Outcome.transportError("timeout (TimeoutException)"));
    }

    @Test
    void refusedConnectionIsConnectRefused() {
      assertThat(classifier.classifyTransportFailure(
          new ConnectException("Connection refused")))
          .isEqualTo(Outcome.transportError("connect refused (ConnectException)"));
      assertThat(classifier.classifyTransportFailure(new ConnectException()))
          .isEqualTo(Outcome.transportError("connect failed (ConnectException)"));
    }

    @Test
    void resetConnectionIsConnectionReset() {
      assertThat(classifier.classifyTransportFailure(new SocketException("Connection reset")))
          .isEqualTo(Outcome.transportError("connection reset (SocketException)"));
      assertThat(classifier.classifyTransportFailure(new SocketException("Broken pipe")))
          .isEqualTo(Outcome.transportError("broken pipe (SocketException)"));
    }

    @Test
    void otherFailuresGetTheirFixedCategory() {
      assertThat(classifier.classifyTransportFailure(new UnknownHostException("x.example")))
          .isEqualTo(Outcome.transportError("unknown host (UnknownHostException)"));
      assertThat(classifier.classifyTransportFailure(new SSLHandshakeException("bad cert")))
          .isEqualTo(Outcome.transportError("tls handshake failed (SSLHandshakeException)"));
      assertThat(classifier.classifyTransportFailure(new EOFException()))
          .isEqualTo(Outcome.transportError("connection closed (EOFException)"));
      assertThat(classifier.classifyTransportFailure(new IOException("something odd")))
          .isEqualTo(Outcome.transportError("io error (IOException)"));
      assertThat(classifier.classifyTransportFailure(new IllegalStateException("odd")))
          .isEqualTo(Outcome.transportError("unexpected error (IllegalStateException)"));
    }

    @Test
    void causeDecidesWhenTheWrapperSaysNothing() {
      Throwable wrapped = new ExecutionException(new UncheckedIOException(
          new IOException("wrapped", new SocketTimeoutException("Read timed out"))));
      assertThat(classifier.classifyTransportFailure(wrapped))
          .isEqualTo(Outcome.transportError("timeout (SocketTimeoutException)"));
      assertThat(classifier.classifyTransportFailure(
          new CompletionException(new IOException("x"))))
          .isEqualTo(Outcome.transportError("io error (IOException)"));
    }

    @Test
    void callerGivingUpIsACancellation() {
      assertThat(classifier.classifyTransportFailure(new CancellationException()))
          .isEqualTo(Outcome.cancelled());
      assertThat(classifier.classifyTransportFailure(
          new IOException(new InterruptedException())))
          .isEqualTo(Outcome.cancelled());
    }

    @Test
    void reasonNeverCarriesTheExceptionMessage() {
      String url = "https://generativelanguage.googleapis.com/v1beta/models/x?key=AIzaSyD-SECRET";
      for (Throwable t : new Throwable[] {new IOException("unexpected end of stream on " + url),
          new SocketException("Connection reset by " + url), new IOException(url),
          new RuntimeException(url, new ConnectException("Connection refused: " + url))}) {
        Outcome outcome = classifier.classifyTransportFailure(t);
        assertThat(((Outcome.TransportError) outcome).reason())
            .doesNotContain("AIza").doesNotContain("http").doesNotContain("googleapis");
      }
    }

    @Test
    void selfCausedThrowableDoesNotLoop() {
      IOException a = new IOException("a");
      IOException b = new IOException("b", a);
      a.initCause(b);
      assertThat(classifier.classifyTransportFailure(a))
          .isEqualTo(Outcome.transportError("io error (IOException)"));
    }

    @Test
    void anonymousExceptionClassStillHasAName() {
      IOException anonymous = new IOException("x") { };
      assertThat(((Outcome.TransportError) classifier.classifyTransportFailure(anonymous)).reason())
          .isEqualTo("io error (GeminiClassifierTest$TransportFailures$1)");
    }

    @Test
    void nullFailureIsRefused() {
      assertThatNullPointerException().isThrownBy(() -> classifier.classifyTransportFailure(null))
          .withMessage("failure");
    }
  }

  @Test
  void builderRefusesANullClock() {
    assertThatNullPointerException().isThrownBy(() -> GeminiClassifier.builder().clock(null))
        .withMessage("clock");
  }

  @Test
  void defaultsAreShared() {
    assertThat(GeminiClassifier.defaults()).isSameAs(GeminiClassifier.defaults());
    assertThat(GeminiClassifier.MAX_PEEK_BYTES).isEqualTo(65_536);
  }
}
