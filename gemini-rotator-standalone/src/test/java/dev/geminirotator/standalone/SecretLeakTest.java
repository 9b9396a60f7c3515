package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.JsonEncoder;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import dev.geminirotator.testsupport.Fixtures;
import dev.geminirotator.testsupport.SecretScanner;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import mockwebserver3.MockResponse;
import mockwebserver3.SocketEffect;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** No configured key or token shows up in logs, metrics, error bodies or admin output. */
class SecretLeakTest {

  static final String PATH = "/v1beta/models/gemini-2.5-flash:generateContent";
  static final String ADDED = "AIzaSyTEST-added-at-runtime-0000005";

  final ListAppender<ILoggingEvent> captured = new ListAppender<>();
  Logger root;
  Level previous;
  Harness h;

  @BeforeEach
  void capture() {
    LoggerContext context = (LoggerContext) LoggerFactory.getILoggerFactory();
    root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    previous = root.getLevel();
    root.setLevel(Level.DEBUG);
    context.getLogger("org.eclipse.jetty").setLevel(Level.INFO);
    captured.setContext(context);
    captured.start();
    root.addAppender(captured);
  }

  @AfterEach
  void release() throws Exception {
    if (h != null) h.close();
    root.detachAppender(captured);
    root.setLevel(previous);
  }

  @Test
  void secretsNeverAppearInLogsMetricsErrorsOrAdminOutput() throws Exception {
    h = new Harness("");
    List<String> seen = new ArrayList<>();
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    h.enqueue(400, Fixtures.geminiError("400-api-key-invalid"));
    h.enqueue(500, Fixtures.geminiError("500-internal"));
    h.upstream.enqueue(new MockResponse.Builder()
        .onResponseStart(new SocketEffect.CloseSocket(true, false, false)).build());
    h.enqueue(503, Fixtures.geminiError("503-overloaded"));

    record(seen, h.post(PATH + "?key=" + Harness.TOKEN, "{}"));
    record(seen, h.post(PATH, "{}", "x-goog-api-key", Harness.TOKEN));
    record(seen, h.post(PATH, "{}", "Authorization", "Bearer " + Harness.TOKEN_2));
    record(seen, h.post(PATH, "{}", "x-goog-api-key", Harness.TOKEN));
    record(seen, h.post(PATH, "{}", "x-goog-api-key", "wrong-" + Harness.TOKEN));
    record(seen, h.post(PATH + "?key=" + Harness.ADMIN, "{}"));
    record(seen, h.get("/admin/keys", "Authorization", "Bearer " + Harness.TOKEN));
    record(seen, h.admin("POST", "/admin/keys", "{\"keys\":[{\"secret\":\"" + ADDED
        + "\",\"id\":\"added\"}]}"));
    record(seen, h.admin("POST", "/admin/keys", "{\"keys\":[{\"secret\":\"" + ADDED
        + "\",\"weight\":\"heavy\"}]}"));
    record(seen, h.admin("GET", "/admin/keys", null));
    record(seen, h.admin("GET", "/admin/stats", null));
    record(seen, h.get("/health/detailed"));
    record(seen, h.get("/metrics"));
    h.proxy.close();

    JsonEncoder encoder = new JsonEncoder();
    encoder.setContext(root.getLoggerContext());
    encoder.start();
    for (ILoggingEvent event : captured.list) {
      seen.add(new String(encoder.encode(event), StandardCharsets.UTF_8));
    }
    assertThat(captured.list).isNotEmpty();
    String everything = String.join("\n", seen);
    // whole, any 8 of their characters, or URL-encoded
    assertThat(SecretScanner.of(Harness.KEY_1, Harness.KEY_2, Harness.TOKEN, Harness.TOKEN_2,
        Harness.ADMIN, ADDED).findings(everything)).as("secrets in the output").isEmpty();
    assertThat(everything).contains("k1").contains("AIza…0001");
  }

  static void record(List<String> seen, HttpResponse<String> response) {
    seen.add(response.statusCode() + " " + response.headers().map() + "\n" + response.body());
  }
}
