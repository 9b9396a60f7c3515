package dev.geminirotator.standalone;

import dev.geminirotator.standalone.gemini.GeminiProxy;
import dev.geminirotator.standalone.gemini.Problems;
import dev.geminirotator.standalone.gemini.ProxyMetrics;
import dev.geminirotator.standalone.gemini.RefusalLog;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.geminirotator.standalone.admin.AdminApi;
import dev.geminirotator.standalone.config.Settings;
import dev.geminirotator.standalone.http.Call;
import dev.geminirotator.standalone.http.HeaderNames;
import dev.geminirotator.standalone.http.ProxyRequest;
import dev.geminirotator.standalone.http.ProxyResponse;
import dev.geminirotator.standalone.http.RequestHandler;
import dev.geminirotator.standalone.http.RequestIds;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Routes each request: the proxied Gemini prefixes to {@link GeminiProxy}, and the proxy's own
 * endpoints ({@code /health}, {@code /health/detailed}, {@code /metrics}, {@code /admin/**}),
 * with request ids, security headers and CORS on every response. Runs on the connection's event
 * loop; what may block (the admin API, readiness, the metrics scrape) runs on {@code blocking}
 * and writes back on the event loop. Thread-safe.
 *
 * <p>With {@code server.management-port} set, {@code /metrics} and {@code /health/detailed} are
 * answered only by the {@link #management()} routes of that port (which answer nothing else but
 * {@code /health}), and the main port answers them 404. With {@code server.metrics-token} set,
 * {@code /metrics} wants {@code Authorization: Bearer <token>} and answers 401 without it.
 */
final class Routes implements RequestHandler {

  private static final Logger log = LoggerFactory.getLogger(Routes.class);

  private final Supplier<Settings> settings;
  private final GeminiProxy proxy;
  private final AdminApi admin;
  private final PrometheusMeterRegistry registry;
  private final Supplier<ObjectNode> detailedHealth;
  private final Executor blocking;
  /** Whether these are the management port's routes. */
  private final boolean management;
  /** Shared with the management routes: both refuse new requests once shutdown starts. */
  private final AtomicBoolean draining;

  Routes(Supplier<Settings> settings, GeminiProxy proxy, AdminApi admin,
      PrometheusMeterRegistry registry, Supplier<ObjectNode> detailedHealth, Executor blocking) {
    this(settings, proxy, admin, registry, detailedHealth, blocking, false, new AtomicBoolean());
  }

  private Routes(Supplier<Settings> settings, GeminiProxy proxy, AdminApi admin,
      PrometheusMeterRegistry registry, Supplier<ObjectNode> detailedHealth, Executor blocking,
      boolean management, AtomicBoolean draining) {
    this.settings = settings;
    this.proxy = proxy;
    this.admin = admin;
    this.registry = registry;
    this.detailedHealth = detailedHealth;
    this.blocking = blocking;
    this.management = management;
    this.draining = draining;
  }

  /**
   * The routes of the management port: {@code /health}, {@code /health/detailed} and
   * {@code /metrics}, and 404 for everything else.
   */
  Routes management() {
    return new Routes(settings, proxy, admin, registry, detailedHealth, blocking, true, draining);
  }

  /** From now on every new request gets 503 and its connection closes (graceful shutdown). */
  void drain() {
    draining.set(true);
  }

  @Override
  public void handle(Call call) {
    ProxyRequest request = call.request;
    ProxyResponse response = call.response;
    response.headers().set(RequestIds.HEADER, RequestIds.assign(request));
    securityHeaders(response.headers());
    String path = request.path();
    String method = request.method();
    boolean proxied = GeminiProxy.isProxied(path);
    if (draining.get()) {
      refused(request, proxied ? GeminiProxy.routeOf(method, path, request.query()) : "proxy",
          503, "shutting-down",
          "the proxy is shutting down");
      response.closeAfter();
      Problems.send(request, response, 503, "shutting-down", "Service Unavailable",
          "the proxy is shutting down; retry (another instance, or this one once restarted)",
          proxied, SHUTDOWN_RETRY_AFTER_SECONDS);
      return;
    }
    Settings s = settings.get();
    if (management) {
      managementEndpoints(call, s);
      return;
    }
    if (s.config.cors().enabled() && cors(request, response, s)) return;
    if ((proxied || path.startsWith("/admin"))
        && !GeminiProxy.isForwardablePath(path)) {
      Problems.send(request, response, 400, "bad-path", "Bad request path",
          "the path must be canonical: no '.', '..' or empty segments, ';' parameters or"
              + " encoded dots, slashes or backslashes", proxied, -1);
      return;
    }
    if (proxied && !GeminiProxy.METHODS.contains(method)) {
      response.headers().set("Allow", "GET, HEAD, POST, PUT, PATCH, DELETE");
      Problems.send(request, response, 405, "method-not-allowed", "Method not allowed",
          "the Gemini API has no " + (method.length() <= 16 ? method
              : method.substring(0, 16) + "…") + " requests", true, -1);
      return;
    }
    if (proxied) {
      proxy.handle(call); // answers its own failures (502) and records them
      return;
    }
    if (path.equals("/health")
        || s.config.server().managementPort() == null
            && (path.equals("/health/detailed") || path.equals("/metrics"))) {
      managementEndpoints(call, s);
      return;
    }
    if (path.equals("/admin") || path.startsWith("/admin/")) {
      response.headers().set("Cache-Control", "no-store");
      // The token first, from the head: an unauthenticated body is never read (it is dropped).
      AdminApi.Answer refused = admin.refusal(request);
      if (refused != null) {
        refused(request, "admin", refused.status(), switch (refused.status()) {
          case 401 -> "admin-unauthenticated";
          case 403 -> "admin-forbidden";
          default -> "admin-disabled";
        }, switch (refused.status()) {
          case 401 -> "no admin token";
          case 403 -> "wrong admin token";
          default -> "the admin API is disabled (admin.token is not set)";
        });
        write(call, refused);
        return;
      }
      call.readBody(AdminApi.MAX_BODY, body -> offload(call, () -> admin.handle(request)),
          failure -> bodyFailed(call, failure),
          () -> Problems.send(request, response, 413, "request-too-large",
              "Request body too large", "admin requests carry at most 1 MB", false, -1),
          () -> {
            refused(request, "admin", 503, Problems.OVER_BUDGET_SLUG, Problems.OVER_BUDGET_DETAIL);
            overBudget(call, false);
          });
      return;
    }
    Problems.send(request, response, 404, "not-found", "Not found",
        "no route for " + method + " " + path + "; proxied prefixes are /v1beta/, /v1/ and"
            + " /upload/", false, -1);
  }

  /**
   * {@code /health}, {@code /health/detailed} and {@code /metrics} (on the main port, or on the
   * management port, which answers nothing else).
   */
  private void managementEndpoints(Call call, Settings s) {
    ProxyRequest request = call.request;
    ProxyResponse response = call.response;
    String path = request.path();
    boolean get = request.method().equals("GET") || request.method().equals("HEAD");
    boolean known = path.equals("/health") || path.equals("/health/detailed")
        || path.equals("/metrics");
    if (!known) {
      Problems.send(request, response, 404, "not-found", "Not found",
          "the management port answers /health, /health/detailed and /metrics only", false, -1);
      return;
    }
    if (!get) {
      response.headers().set("Allow", "GET, HEAD");
      Problems.send(request, response, 405, "method-not-allowed", "Method not allowed",
          path + " answers GET and HEAD only", false, -1);
      return;
    }
    if (path.equals("/health")) {
      response.send(200, "application/json", "{\"status\":\"UP\"}".getBytes(
          StandardCharsets.UTF_8), x -> { });
      return;
    }
    if (path.equals("/health/detailed")) {
      offload(call, () -> {
        ObjectNode body = detailedHealth.get();
        return new AdminApi.Answer("DOWN".equals(body.get("status").asText()) ? 503 : 200,
            "application/json", body.toString().getBytes(StandardCharsets.UTF_8),
            java.util.Map.of("Cache-Control", "no-store"));
      });
      return;
    }
    if (s.metricsTokenRequired()) {
      String auth = request.header("Authorization");
      boolean bearer = auth != null && auth.regionMatches(true, 0, "Bearer ", 0, 7)
          && !auth.substring(7).isBlank();
      if (!bearer || !s.matchMetrics(auth.substring(7).trim())) {
        response.headers().set("WWW-Authenticate", bearer
            ? "Bearer realm=\"metrics\", error=\"invalid_token\"" : "Bearer realm=\"metrics\"");
        response.headers().set("Cache-Control", "no-store");
        refused(request, "metrics", 401, "metrics-unauthenticated",
            bearer ? "wrong metrics token" : "no metrics token");
        Problems.send(request, response, 401, "unauthenticated", "Metrics token required",
            bearer ? "the metrics token is not valid"
                : "send Authorization: Bearer <metrics token>", false, -1);
        return;
      }
    }
    offload(call, () -> new AdminApi.Answer(200, "text/plain; version=0.0.4; charset=utf-8",
        registry.scrape().getBytes(StandardCharsets.UTF_8), java.util.Map.of()));
  }

  /** Computes an answer on the blocking executor, then writes it on the event loop. */
  private void offload(Call call, Supplier<AdminApi.Answer> work) {
    try {
      blocking.execute(() -> {
        AdminApi.Answer answer;
        try {
          answer = work.get();
        } catch (RuntimeException e) {
          log.atError().addKeyValue("requestId", call.request.requestId())
              .log("request failed: {}", e.getClass().getSimpleName());
          answer = AdminApi.Answer.problem(call.request, 500, "proxy-error", "Proxy error",
              "the request failed; see the proxy log");
        }
        AdminApi.Answer a = answer;
        call.eventLoop().execute(() -> write(call, a));
      });
    } catch (RejectedExecutionException e) {
      refused(call.request, "proxy", 503, "overloaded", "the blocking pool's queue is full or"
          + " shutting down");
      call.response.closeAfter();
      Problems.send(call.request, call.response, 503, "unavailable", "Service Unavailable",
          "the proxy is shutting down or overloaded", false, 1);
    }
  }

  /**
   * Logs a refusal for the operator (rate-limited per kind, see {@link RefusalLog}); the client is
   * named by its address.
   */
  private void refused(ProxyRequest request, String route, int status, String kind, String why) {
    String client = settings.get().identity.clientAddress(request.remoteAddress(),
        request.header(HeaderNames.X_FORWARDED_FOR));
    proxy.refusals().refused(kind, status, request.requestIdText(), route, client, why);
  }

  /** Writes a whole answer, unless the response already ended. On the event loop. */
  private static void write(Call call, AdminApi.Answer a) {
    if (call.response.isEnded()) return;
    a.headers().forEach(call.response.headers()::set);
    call.response.send(a.status(), a.type(), a.body(), x -> { });
  }

  /**
   * The bodies held whole already fill {@code server.body-budget}: 503 with {@code Retry-After}
   * (the body is drained, not read; see {@link Call#lingerUpTo}).
   */
  static void overBudget(Call call, boolean gemini) {
    Problems.send(call.request, call.response, 503, Problems.OVER_BUDGET_SLUG, Problems.OVER_BUDGET_TITLE,
        Problems.OVER_BUDGET_DETAIL, gemini, Problems.OVER_BUDGET_RETRY_AFTER_SECONDS);
  }

  /**
   * The {@code Retry-After} of the 503 a request gets while the proxy shuts down: the connection
   * closes after it, and a retry soon reaches another instance behind the same address, or this
   * one restarted.
   */
  static final long SHUTDOWN_RETRY_AFTER_SECONDS = 1;


  /** Reading an admin body failed: 408 when too slow and still answerable, else the cut. */
  private static void bodyFailed(Call call, Throwable failure) {
    if (failure instanceof java.util.concurrent.TimeoutException
        && !call.response.isCommitted() && !call.isGone()) {
      call.response.closeAfter();
      Problems.send(call.request, call.response, 408, "request-timeout",
          "Request body timed out", "the request body did not arrive in time", false, -1);
      return;
    }
    call.response.abort();
  }

  /**
   * Answers a request whose head could not be decoded (or has no usable target): a problem
   * document, then the connection closes.
   */
  @Override
  public void badRequestHead(Channel channel, int status, String detail) {
    String slug = switch (status) {
      case 414 -> "uri-too-long";
      case 431 -> "headers-too-large";
      default -> "bad-request";
    };
    String reason = HttpResponseStatus.valueOf(status).reasonPhrase();
    String requestId = RequestIds.newId().toString();
    byte[] body = Problems.body(status, slug, reason, detail, null, requestId, false);
    FullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        HttpResponseStatus.valueOf(status), Unpooled.wrappedBuffer(body));
    HttpHeaders h = r.headers();
    h.set("Content-Type", "application/problem+json");
    h.set("Content-Length", body.length);
    h.set("Cache-Control", "no-store");
    h.set("Connection", HttpHeaderValues.CLOSE);
    h.set(RequestIds.HEADER, requestId);
    h.set("Date", ProxyResponse.HttpDate.now());
    securityHeaders(h);
    // Close gently: stop sending, read on (the decoder drops what follows a bad head) and close
    // soon. Closing with the client's bytes unread would reset the connection, and the reset can
    // destroy the answer before the client reads it.
    channel.writeAndFlush(r).addListener(f -> {
      if (channel instanceof io.netty.channel.socket.DuplexChannel d && f.isSuccess()) {
        d.shutdownOutput();
        channel.eventLoop().schedule(() -> channel.close(), 2, java.util.concurrent.TimeUnit.SECONDS);
      } else {
        channel.close();
      }
    });
  }

  /** Security headers every response carries. */
  static void securityHeaders(HttpHeaders h) {
    h.set(HeaderNames.X_CONTENT_TYPE_OPTIONS, HeaderNames.NOSNIFF);
    h.set(HeaderNames.X_FRAME_OPTIONS, HeaderNames.DENY);
    h.set(HeaderNames.REFERRER_POLICY, HeaderNames.NO_REFERRER);
  }

  /** Adds CORS headers; answers preflights. Returns whether the request was answered. */
  private boolean cors(ProxyRequest request, ProxyResponse response, Settings s) {
    String origin = request.header(HttpHeaderNames.ORIGIN);
    if (origin == null) return false;
    List<String> allowed = s.config.cors().allowedOrigins();
    boolean ok = allowed.contains("*") || allowed.contains(origin);
    if (!ok) return false;
    HttpHeaders h = response.headers();
    h.set("Access-Control-Allow-Origin", allowed.contains("*") ? "*" : origin);
    h.add("Vary", "Origin");
    h.set("Access-Control-Expose-Headers", "X-Request-Id, Retry-After");
    if (request.method().equals("OPTIONS")
        && request.header("Access-Control-Request-Method") != null) {
      h.set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE, OPTIONS");
      h.set("Access-Control-Allow-Headers",
          "Content-Type, Authorization, x-goog-api-key, x-goog-api-client, X-Request-Id,"
              + " X-Goog-Upload-Protocol, X-Goog-Upload-Command, X-Goog-Upload-Offset,"
              + " X-Goog-Upload-Header-Content-Length, X-Goog-Upload-Header-Content-Type");
      h.set("Access-Control-Max-Age", "600");
      response.send(204, null, new byte[0], x -> { });
      return true;
    }
    return false;
  }
}
