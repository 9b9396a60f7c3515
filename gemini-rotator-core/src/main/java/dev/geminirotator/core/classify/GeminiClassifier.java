package dev.geminirotator.core.classify;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.PortUnreachableException;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.UnknownHostException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.channels.ClosedByInterruptException;
import java.security.MessageDigest;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;

/**
 * Turns what Gemini answered (status, headers, the first bytes of an error body) or how the
 * exchange failed into an {@link Outcome}, following the table in DESIGN.md:
 *
 * <ul>
 *   <li>2xx is a success. The body is never looked at.
 *   <li>429 is rate-limited. The delay is {@code google.rpc.RetryInfo.retryDelay} from the error
 *       details, else the {@code Retry-After} header (delta-seconds or an HTTP-date, measured
 *       against the injected {@link Clock}), else {@code null} so that the rotator backs off. The
 *       scope is {@link QuotaScope#PER_DAY} when any {@code google.rpc.QuotaFailure} violation (or
 *       an {@code ErrorInfo}'s {@code quota_limit}) names a per-day limit, {@link
 *       QuotaScope#PER_MINUTE} when one names a per-minute limit, else {@link QuotaScope#UNKNOWN}.
 *       The outcome carries the {@code quotaId} of the violation that decided the scope (else
 *       the first named, else the {@code ErrorInfo}'s {@code quota_limit}) when it has the shape
 *       of one (see {@link Outcome.RateLimited}), so that a cooldown can say which quota it is.
 *   <li>400, 401 and 403 are key rejections only when the answer says the key itself is bad: a
 *       {@code google.rpc.ErrorInfo} reason about the key ({@code API_KEY_INVALID},
 *       {@code API_KEY_EXPIRED}, {@code API_KEY_SERVICE_BLOCKED},
 *       {@code API_KEY_IP_ADDRESS_BLOCKED}), or a 400/403 whose message <em>starts</em> the way
 *       Gemini's key denials start ("API key not valid", "Your API key was reported as leaked",
 *       "Your project has been denied access"). Otherwise they are client errors, returned as
 *       they are: a bare 401 (Google answers one when a client puts an OAuth credential next to
 *       the key, or calls a method that takes no API key), a 403 without key-level evidence (a
 *       file owned by another project), and the key-restriction reasons that depend on the
 *       caller's own headers ({@code Referer}, {@code X-Android-Package},
 *       {@code X-Ios-Bundle-Identifier}) never blame the key.
 *   <li>Answers about a <em>consumer</em> ({@code SERVICE_DISABLED}, {@code BILLING_DISABLED},
 *       {@code CONSUMER_INVALID}, {@code CONSUMER_SUSPENDED}, or a message starting "Consumer
 *       '...'", "Project '...' has been suspended", "Generative Language API has not been used in
 *       project ...") blame the key only when the consumer they name is provably the key's own,
 *       because a request that names another project's resource (a {@code fileUri}, a
 *       {@code cachedContent}) may be answered about that project. The consumer is the
 *       ErrorInfo's {@code metadata.consumer} or the one the message starts with, and it is the
 *       key's own when it is {@code api_key:<the key's secret>}, or {@code projects/N} or
 *       {@code project_number:N} where N is the key's {@link ApiKey#PROJECT_LABEL project} label
 *       (written {@code N} or {@code projects/N}). When that cannot be known (a key without a
 *       project label, a label that is a project id rather than its number, an answer naming no
 *       consumer, or {@link #classify(int, Function, String)} without a key), the answer is a
 *       client error: it is returned, and the key stays as it was. A key whose own project is
 *       disabled then keeps failing its share of requests until an operator looks (they show as
 *       403 client errors), which beats letting any client disable the pool; label keys with
 *       their project number to have such keys taken out automatically.
 *   <li>Other 4xx (404, 413, ...) are client errors, returned as is; their body is not read.
 *   <li>408 (Gemini gave up waiting for the request: transient, and retryable by HTTP's own
 *       rules) and every 5xx are upstream errors, with Gemini's {@code error.status}
 *       ({@code UNAVAILABLE}, {@code INTERNAL}, ...) as the reason when the body has one, else
 *       {@code null}.
 *   <li>1xx and 3xx are client errors: nobody is blamed and nothing is retried. A number that is
 *       no HTTP status at all (under 100, over 599) is an upstream error without reason.
 *   <li>An error carrying {@link #ROTATOR_ANSWER_HEADER} was made by another gemini-rotator (a
 *       standalone proxy used as the upstream): a client error, whatever its status.
 * </ul>
 *
 * <p>Bodies may be truncated to {@link #MAX_PEEK_BYTES}, be garbage, HTML, or the
 * OpenAI-compatible array form {@code [{"error": {...}}]}; none of that throws: an unreadable body
 * falls back to the status-only rule. Message text is only matched at its start, because Gemini
 * echoes parts of the client's request inside some messages and a client must not be able to get a
 * key marked invalid. Outcome reasons are fixed tokens ({@code API_KEY_INVALID},
 * {@code UNAVAILABLE}, {@code timeout (SocketTimeoutException)}); they never carry body text,
 * header values or exception messages, which may hold a key or a URL with one.
 *
 * <p>Transport-neutral (no OkHttp or Jetty types). Immutable and thread-safe.
 */
public final class GeminiClassifier {

  /**
   * The response header a gemini-rotator sets on every error it answers itself, never on one it
   * passes on (the standalone proxy's own errors, the interceptor's local 429/503); its value says
   * why ({@code no-key-available}, {@code circuit-open}, ...). Such an answer speaks for that
   * rotator's pool, not for the credential it was sent with, so a rotator further downstream (an
   * interceptor in front of the proxy) classifies it as a client error: returned as it is, with its
   * {@code Retry-After}, blaming no key and opening no breaker. Gemini never sends this header.
   */
  public static final String ROTATOR_ANSWER_HEADER = "X-Gemini-Rotator";

  /** The most a transport needs to read of an error body before calling {@link #classify}. */
  public static final int MAX_PEEK_BYTES = 64 * 1024;

  /** Gemini's error bodies nest about seven levels; deeper input is not an error body. */
  static final int MAX_NESTING_DEPTH = 32;

  private static final JsonFactory JSON_FACTORY = JsonFactory.builder()
      .streamReadConstraints(StreamReadConstraints.builder()
          .maxNestingDepth(MAX_NESTING_DEPTH)
          .build())
      .build();
  private static final ObjectMapper JSON = new ObjectMapper(JSON_FACTORY);

  /** google.rpc.Code names: the only strings from a body that may become a reason. */
  private static final Map<String, String> STATUS_CODES = tokens("OK", "CANCELLED", "UNKNOWN",
      "INVALID_ARGUMENT", "DEADLINE_EXCEEDED", "NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
      "UNAUTHENTICATED", "RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED", "OUT_OF_RANGE",
      "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE", "DATA_LOSS");

  /**
   * {@code ErrorInfo} reasons (google.api.ErrorReason) about the key itself, whatever the caller
   * sent. Left out on purpose: OAuth-only reasons ({@code ACCESS_TOKEN_*},
   * {@code CREDENTIALS_MISSING}), request-context reasons ({@code LOCATION_*},
   * {@code SECURITY_POLICY_VIOLATED}, {@code USER_PROJECT_DENIED}), and the key restrictions a
   * caller's own headers decide ({@code API_KEY_HTTP_REFERRER_BLOCKED},
   * {@code API_KEY_ANDROID_APP_BLOCKED}, {@code API_KEY_IOS_APP_BLOCKED}): a client must not be
   * able to get a key marked invalid.
   */
  private static final Map<String, String> KEY_REASONS = tokens("API_KEY_INVALID",
      "API_KEY_EXPIRED", "API_KEY_SERVICE_BLOCKED", "API_KEY_IP_ADDRESS_BLOCKED");

  /**
   * {@code ErrorInfo} reasons about a consumer (a project or a key): the key's fault only when
   * the consumer named is the key's own, see {@link #namesThisKey}.
   */
  private static final Map<String, String> CONSUMER_REASONS = tokens("CONSUMER_SUSPENDED",
      "CONSUMER_INVALID", "SERVICE_DISABLED", "BILLING_DISABLED");

  /** How a 400 about the key starts when it carries no ErrorInfo. */
  private static final Pattern KEY_400_MESSAGE =
      Pattern.compile("\\s*API key (not valid|expired)", Pattern.CASE_INSENSITIVE);

  /** How a 403 about the key itself starts. */
  private static final Pattern KEY_403_MESSAGE = Pattern.compile("\\s*(?:Permission denied: )?(?:"
      + "API key\\b" // not "API keys are not supported by this API": a method's, not the key's
      + "|Your API key"
      + "|Your project has been denied access"
      + ")", Pattern.CASE_INSENSITIVE);

  /** How a 403 about a named consumer starts; group 1 is the consumer as written. */
  private static final Pattern CONSUMER_403_MESSAGE = Pattern.compile(
      "\\s*(?:Permission denied: )?(?:"
      + "Consumer '([^']{1,512})'"
      + "|Generative Language API has not been used in project ([\\w:/.-]{1,128})"
      + "|Project '?([\\w:/.-]{1,128}?)'? has been suspended"
      + ")", Pattern.CASE_INSENSITIVE);

  /** A project number as a consumer names it: {@code projects/N}, {@code project_number:N}. */
  private static final Pattern PROJECT_CONSUMER =
      Pattern.compile("(?:projects/|project_number:)?(\\d{1,20})");

  private static final Pattern PER_DAY = Pattern.compile("per[_\\- ]?day");
  private static final Pattern PER_MINUTE = Pattern.compile("per[_\\- ]?minute");

  /** google.protobuf.Duration in JSON ("45.8s"); the "s" is optional here. */
  private static final Pattern PROTO_DURATION =
      Pattern.compile("\\s*(\\d{1,12})(?:\\.(\\d{1,18}))?s?\\s*");
  private static final Pattern DELTA_SECONDS = Pattern.compile("\\d{1,12}");

  private static final String TRANSPORT_CANCELLED = "cancelled";

  private static final GeminiClassifier DEFAULTS = builder().build();

  private final Clock clock;

  private GeminiClassifier(Builder b) {
    this.clock = b.clock;
  }

  /** The classifier with the system UTC clock. */
  public static GeminiClassifier defaults() {
    return DEFAULTS;
  }

  public static Builder builder() {
    return new Builder();
  }

  /** The clock an HTTP-date {@code Retry-After} is measured against. */
  public Clock clock() {
    return clock;
  }

  /**
   * Classifies one upstream response to a request sent with a key we know nothing of: answers
   * about a consumer never blame it (see the class comment). Transports that hold the key call
   * {@link #classify(int, Function, String, ApiKey)}.
   */
  public Outcome classify(int status, Function<String, String> header, String bodyPrefix) {
    return classify(status, header, bodyPrefix, null);
  }

  /**
   * Classifies one upstream response.
   *
   * @param status the HTTP status
   * @param header looks up a response header by name, case-insensitively; returns {@code null}
   *     when absent. May itself be {@code null} when the transport has no headers to offer
   * @param bodyPrefix up to the first {@link #MAX_PEEK_BYTES} of the error body as text, possibly
   *     cut mid-JSON; {@code null} or empty when there is none. Ignored for 2xx
   * @param key the key the request was sent with, so that an answer about a consumer is blamed
   *     on it only when it names this key or its project; {@code null} when unknown
   */
  public Outcome classify(int status, Function<String, String> header, String bodyPrefix,
      ApiKey key) {
    if (status >= 200 && status < 300) {
      return Outcome.success();
    }
    if (header != null && status >= 400 && header.apply(ROTATOR_ANSWER_HEADER) != null) {
      return Outcome.clientError(status); // another rotator's own answer: not this key's
    }
    if (status == 429) {
      return rateLimited(header, errorObject(bodyPrefix));
    }
    if (status == 400 || status == 401 || status == 403) {
      return credentialOrClient(status, errorObject(bodyPrefix), key);
    }
    if (status == 408 || (status >= 500 && status < 600)) {
      return Outcome.upstreamError(status, errorStatus(bodyPrefix));
    }
    if (status >= 100 && status < 600) {
      return Outcome.clientError(status);
    }
    // Not an HTTP status at all: something between here and Gemini is broken.
    return Outcome.upstreamError(status, null);
  }

  /**
   * Classifies an exchange that failed below HTTP. The reason is a fixed category plus the simple
   * class name of the exception that decided it, e.g. {@code "timeout (SocketTimeoutException)"},
   * {@code "connection reset (SocketException)"}, {@code "connect refused (ConnectException)"};
   * exception messages are read for a few fixed phrases but never copied, since they can contain
   * the request URL and so a key.
   *
   * @return {@link Outcome#cancelled()} when the failure is the caller giving up (interrupted or
   *     cancelled), else a {@link Outcome#transportError(String) transport error}. A transport that
   *     knows its call was cancelled should report {@link Outcome#cancelled()} itself
   */
  public Outcome classifyTransportFailure(Throwable failure) {
    Objects.requireNonNull(failure, "failure");
    Throwable firstIo = null;
    Throwable t = failure;
    for (int depth = 0; t != null && depth < 16; depth++) { // bounded: causes may form a cycle
      String category = category(t);
      if (category == TRANSPORT_CANCELLED) {
        return Outcome.cancelled();
      }
      if (category != null) {
        return Outcome.transportError(category + " (" + simpleName(t) + ")");
      }
      if (firstIo == null && t instanceof IOException) {
        firstIo = t;
      }
      t = t.getCause();
    }
    return firstIo != null
        ? Outcome.transportError("io error (" + simpleName(firstIo) + ")")
        : Outcome.transportError("unexpected error (" + simpleName(failure) + ")");
  }

  // ---------------------------------------------------------------------------------------------
  // Status rules

  private Outcome rateLimited(Function<String, String> header, JsonNode error) {
    Duration delay = null;
    QuotaScope scope = QuotaScope.UNKNOWN;
    // The quota named: that of the violation that set the scope (the widest window), else the
    // first one named. Upstream text: kept only when it has the shape of a quota id.
    String quotaId = null;
    String limitName = null;
    JsonNode details = error == null ? null : error.get("details");
    if (details != null && details.isArray()) {
      for (JsonNode detail : details) {
        String type = detail.path("@type").asText("");
        if (type.endsWith("google.rpc.RetryInfo")) {
          if (delay == null) delay = protoDuration(detail.get("retryDelay"));
        } else if (type.endsWith("google.rpc.QuotaFailure")) {
          JsonNode violations = detail.get("violations");
          if (violations != null && violations.isArray()) {
            for (JsonNode violation : violations) {
              QuotaScope own = wider(scopeOf(violation.get("quotaId")),
                  scopeOf(violation.get("quotaMetric")));
              String id = quotaId(violation.get("quotaId"));
              if (id != null && (quotaId == null || wider(scope, own) != scope)) quotaId = id;
              scope = wider(scope, own);
            }
          }
        } else if (type.endsWith("google.rpc.ErrorInfo")) {
          JsonNode limit = detail.path("metadata").get("quota_limit");
          scope = wider(scope, scopeOf(limit));
          if (limitName == null) limitName = quotaId(limit);
        }
      }
    }
    if (delay == null) {
      delay = retryAfter(header);
    }
    return Outcome.rateLimited(delay, scope, quotaId != null ? quotaId : limitName);
  }

  /** A quota id or limit name from the body, or null when it is not shaped like one. */
  private static String quotaId(JsonNode node) {
    String text = text(node);
    return Outcome.RateLimited.plausibleQuotaId(text) ? text : null;
  }

  private static Outcome credentialOrClient(int status, JsonNode error, ApiKey key) {
    String message = error == null ? null : text(error.get("message"));
    ErrorInfo info = errorInfo(error);
    if (info != null && info.keyReason != null) {
      return Outcome.keyRejected(status, info.keyReason);
    }
    if (info != null && info.consumerReason != null) {
      // About a consumer: the key's fault only if that consumer is provably the key's own.
      return namesThisKey(info.consumer, key) || namesThisKey(messageConsumer(message), key)
          ? Outcome.keyRejected(status, info.consumerReason)
          : Outcome.clientError(status);
    }
    if (message == null || status == 401) {
      // A bare 401 is what a client gets for an OAuth credential next to the key, or for a
      // method that takes no API key: the client's doing, never proof the key is bad.
      return Outcome.clientError(status);
    }
    if (status == 400) {
      Matcher m = KEY_400_MESSAGE.matcher(message);
      if (m.lookingAt()) {
        return Outcome.keyRejected(400,
            m.group(1).equalsIgnoreCase("expired") ? "API_KEY_EXPIRED" : "API_KEY_INVALID");
      }
    } else if (KEY_403_MESSAGE.matcher(message).lookingAt()
        || namesThisKey(messageConsumer(message), key)) {
      return Outcome.keyRejected(403, "PERMISSION_DENIED");
    }
    return Outcome.clientError(status);
  }

  /** The first key-level and consumer-level ErrorInfo reasons, as our own constants. */
  private record ErrorInfo(String keyReason, String consumerReason, String consumer) {
  }

  /** What the ErrorInfo details say, or null when none names a reason of ours. */
  private static ErrorInfo errorInfo(JsonNode error) {
    JsonNode details = error == null ? null : error.get("details");
    if (details == null || !details.isArray()) {
      return null;
    }
    String consumerReason = null;
    String consumer = null;
    for (JsonNode detail : details) {
      JsonNode type = detail.get("@type");
      if (type == null || type.asText("").endsWith("google.rpc.ErrorInfo")) {
        String text = text(detail.get("reason"));
        String reason = known(KEY_REASONS, text);
        if (reason != null) return new ErrorInfo(reason, null, null);
        if (consumerReason == null) {
          consumerReason = known(CONSUMER_REASONS, text);
          if (consumerReason != null) consumer = text(detail.path("metadata").get("consumer"));
        }
      }
    }
    return consumerReason == null ? null : new ErrorInfo(null, consumerReason, consumer);
  }

  /** The consumer a 403 message starts by naming, as written, or null. */
  private static String messageConsumer(String message) {
    if (message == null) return null;
    Matcher m = CONSUMER_403_MESSAGE.matcher(message);
    if (!m.lookingAt()) return null;
    return m.group(1) != null ? m.group(1) : m.group(2) != null ? m.group(2) : m.group(3);
  }

  /**
   * Whether a consumer as Google names it ({@code api_key:<secret>}, {@code projects/N},
   * {@code project_number:N}) is provably this key or its project: the secret compared in
   * constant time, the project number against the key's numeric project label.
   */
  static boolean namesThisKey(String consumer, ApiKey key) {
    if (consumer == null || key == null) return false;
    consumer = consumer.trim();
    if (consumer.regionMatches(true, 0, "api_key:", 0, 8)) {
      return MessageDigest.isEqual(consumer.substring(8).getBytes(StandardCharsets.UTF_8),
          key.secret().getBytes(StandardCharsets.UTF_8));
    }
    String label = key.labels().get(ApiKey.PROJECT_LABEL);
    if (label == null) return false;
    Matcher ours = PROJECT_CONSUMER.matcher(label.trim());
    Matcher theirs = PROJECT_CONSUMER.matcher(consumer);
    return ours.matches() && theirs.matches()
        && stripZeros(ours.group(1)).equals(stripZeros(theirs.group(1)));
  }

  private static String stripZeros(String digits) {
    int i = 0;
    while (i < digits.length() - 1 && digits.charAt(i) == '0') i++;
    return digits.substring(i);
  }

  // ---------------------------------------------------------------------------------------------
  // Body reading

  /** The {@code error} object of a Gemini error body, or null if there is none to be read. */
  static JsonNode errorObject(String body) {
    if (!startsLikeJson(body)) {
      return null;
    }
    String text = body.length() > MAX_PEEK_BYTES ? body.substring(0, MAX_PEEK_BYTES) : body;
    JsonNode root;
    try {
      root = JSON.readTree(text);
    } catch (IOException | RuntimeException e) {
      return null; // truncated, garbage, too deep: fall back to the status
    }
    if (root == null) {
      return null;
    }
    if (root.isArray()) {
      root = root.path(0);
    }
    JsonNode error = root.get("error");
    return error != null && error.isObject() ? error : null;
  }

  /**
   * Just {@code error.status}, as a known google.rpc.Code name, read with a streaming parser that
   * stops as soon as it has it. For statuses where the body decides nothing but the reason.
   */
  static String errorStatus(String body) {
    if (!startsLikeJson(body)) {
      return null;
    }
    try (JsonParser p = JSON_FACTORY.createParser(body)) {
      JsonToken t = p.nextToken();
      if (t == JsonToken.START_ARRAY) t = p.nextToken();
      if (t != JsonToken.START_OBJECT || !seekField(p, "error")
          || p.nextToken() != JsonToken.START_OBJECT || !seekField(p, "status")) {
        return null;
      }
      return p.nextToken() == JsonToken.VALUE_STRING ? known(STATUS_CODES, p.getText()) : null;
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

  /** Inside an object, moves to the named field of this object, skipping other values. */
  private static boolean seekField(JsonParser p, String name) throws IOException {
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      if (name.equals(p.currentName())) {
        return true;
      }
      p.nextToken();
      p.skipChildren();
    }
    return false;
  }

  private static boolean startsLikeJson(String body) {
    if (body == null) {
      return false;
    }
    for (int i = 0, n = Math.min(body.length(), 1024); i < n; i++) {
      char c = body.charAt(i);
      if (c == '{' || c == '[') return true;
      if (!Character.isWhitespace(c) && c != '\uFEFF') return false;
    }
    return false;
  }

  private static String text(JsonNode node) {
    return node != null && node.isTextual() ? node.textValue() : null;
  }

  // ---------------------------------------------------------------------------------------------
  // Delays and scopes

  /** A google.protobuf.Duration: "37s", "45.8s", "1.5", or {"seconds": 37, "nanos": 0}. */
  static Duration protoDuration(JsonNode node) {
    if (node == null) {
      return null;
    }
    if (node.isTextual()) {
      Matcher m = PROTO_DURATION.matcher(node.textValue());
      if (!m.matches()) {
        return null;
      }
      long seconds = Long.parseLong(m.group(1));
      String fraction = m.group(2);
      long nanos = 0;
      if (fraction != null) {
        String nine = fraction.length() >= 9 ? fraction.substring(0, 9)
            : fraction + "000000000".substring(fraction.length());
        nanos = Long.parseLong(nine);
      }
      return Duration.ofSeconds(seconds, nanos);
    }
    if (node.isObject()) {
      JsonNode seconds = node.get("seconds");
      JsonNode nanos = node.get("nanos");
      long s = seconds == null ? 0 : seconds.isTextual() ? parseLongOr(seconds.textValue(), -1)
          : seconds.canConvertToLong() && seconds.isIntegralNumber() ? seconds.longValue() : -1;
      long n = nanos == null ? 0 : nanos.canConvertToInt() && nanos.isIntegralNumber()
          ? nanos.intValue() : -1;
      if (s < 0 || s > 999_999_999_999L || n < 0 || n > 999_999_999) {
        return null;
      }
      return Duration.ofSeconds(s, n);
    }
    if (node.isNumber()) {
      double seconds = node.doubleValue();
      if (!(seconds >= 0 && seconds < 1e12)) {
        return null;
      }
      return Duration.ofNanos(Math.round(seconds * 1e9));
    }
    return null;
  }

  private static long parseLongOr(String text, long fallback) {
    return DELTA_SECONDS.matcher(text).matches() ? Long.parseLong(text) : fallback;
  }

  /** {@code Retry-After}: delta-seconds or an HTTP-date (IMF-fixdate); null when absent or bad. */
  private Duration retryAfter(Function<String, String> header) {
    String value = header == null ? null : header.apply("Retry-After");
    if (value == null) {
      return null;
    }
    value = value.trim();
    if (value.isEmpty()) {
      return null;
    }
    if (DELTA_SECONDS.matcher(value).matches()) {
      return Duration.ofSeconds(Long.parseLong(value));
    }
    try {
      Instant at = ZonedDateTime.parse(value, DateTimeFormatter.RFC_1123_DATE_TIME).toInstant();
      Duration delay = Duration.between(clock.instant(), at);
      return delay.isNegative() ? Duration.ZERO : delay;
    } catch (DateTimeParseException | ArithmeticException e) {
      return null;
    }
  }

  private static QuotaScope scopeOf(JsonNode node) {
    String text = text(node);
    if (text == null) {
      return QuotaScope.UNKNOWN;
    }
    String lower = text.toLowerCase(Locale.ROOT);
    if (PER_DAY.matcher(lower).find()) return QuotaScope.PER_DAY;
    if (PER_MINUTE.matcher(lower).find()) return QuotaScope.PER_MINUTE;
    return QuotaScope.UNKNOWN;
  }

  /** The longer window wins: a per-day violation cools until the reset whatever else was hit. */
  private static QuotaScope wider(QuotaScope a, QuotaScope b) {
    if (a == QuotaScope.PER_DAY || b == QuotaScope.PER_DAY) return QuotaScope.PER_DAY;
    if (a == QuotaScope.PER_MINUTE || b == QuotaScope.PER_MINUTE) return QuotaScope.PER_MINUTE;
    return QuotaScope.UNKNOWN;
  }

  // ---------------------------------------------------------------------------------------------
  // Transport failures

  /** A fixed category for this throwable alone, {@link #TRANSPORT_CANCELLED}, or null. */
  private static String category(Throwable t) {
    if (t instanceof CancellationException || t instanceof InterruptedException
        || t instanceof ClosedByInterruptException) {
      return TRANSPORT_CANCELLED;
    }
    String message = t.getMessage() == null ? "" : t.getMessage().toLowerCase(Locale.ROOT);
    if (t instanceof HttpConnectTimeoutException) return "connect timeout";
    if (t instanceof SocketTimeoutException) {
      return message.contains("connect") ? "connect timeout" : "timeout";
    }
    if (t instanceof HttpTimeoutException || t instanceof TimeoutException
        || t instanceof InterruptedIOException) {
      return "timeout";
    }
    if (t instanceof ConnectException) {
      if (message.contains("refused")) return "connect refused";
      if (message.contains("timed out")) return "connect timeout";
      return "connect failed";
    }
    if (t instanceof NoRouteToHostException) return "no route to host";
    if (t instanceof PortUnreachableException) return "port unreachable";
    if (t instanceof UnknownHostException) return "unknown host";
    if (t instanceof SSLHandshakeException) return "tls handshake failed";
    if (t instanceof SSLException) return "tls error";
    if (t instanceof SocketException) {
      if (message.contains("reset")) return "connection reset";
      if (message.contains("broken pipe")) return "broken pipe";
      if (message.contains("closed")) return "connection closed";
      return "socket error";
    }
    if (t instanceof EOFException) return "connection closed";
    if (t instanceof ProtocolException) return "protocol error";
    if (t instanceof IOException) {
      if ("StreamResetException".equals(t.getClass().getSimpleName())) return "stream reset";
      if (message.startsWith("unexpected end of stream")) return "connection closed";
      if (message.contains("connection reset")) return "connection reset";
    }
    return null;
  }

  private static String simpleName(Throwable t) {
    String name = t.getClass().getSimpleName();
    if (name.isEmpty()) {
      name = t.getClass().getName();
      name = name.substring(name.lastIndexOf('.') + 1);
    }
    return name;
  }

  /** Our own constant equal to {@code text}, or null: body strings never become reasons as such. */
  private static String known(Map<String, String> tokens, String text) {
    return text == null ? null : tokens.get(text);
  }

  private static Map<String, String> tokens(String... names) {
    Map<String, String> map = new HashMap<>();
    for (String name : names) map.put(name, name);
    return Map.copyOf(map);
  }

  @Override
  public String toString() {
    return "GeminiClassifier{clock=" + clock + '}';
  }

  /** Builds a {@link GeminiClassifier}. Not thread-safe. */
  public static final class Builder {
    private Clock clock = Clock.systemUTC();

    private Builder() {
    }

    /** The clock an HTTP-date {@code Retry-After} is measured against; system UTC by default. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    public GeminiClassifier build() {
      return new GeminiClassifier(this);
    }
  }
}
