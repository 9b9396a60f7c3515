package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.geminirotator.core.rotation.CooldownPolicy;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.testsupport.Eventually;
import dev.geminirotator.testsupport.Fixtures;
import java.net.http.HttpResponse;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.Map;
import java.util.Set;
import mockwebserver3.RecordedRequest;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Through the proxy: {@code /admin/keys} gives a cooling key's reason, with the quota id from
 * Gemini's body, and its {@code stateUntil}; the rotator logs the cooldown at INFO.
 */
class KeyStateReasonsTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String MODEL = "gemini-2.5-flash";

  private Harness h;
  private LogCapture logs;

  @AfterEach
  void stop() {
    if (h != null) h.close();
    if (logs != null) logs.close();
  }

  private static String yaml() {
    return Harness.defaultYaml()
        .replace("  - id: k1\n", "  - id: k1\n    project: p1\n")
        .replace("  - id: k2\n", "  - id: k2\n    project: p2\n");
  }

  private static String keyIdOf(RecordedRequest request) {
    String key = request.getHeaders().get("x-goog-api-key");
    return Harness.KEY_1.equals(key) ? "k1" : Harness.KEY_2.equals(key) ? "k2" : "?";
  }

  private static String minute(Instant t) {
    return OffsetDateTime.ofInstant(t, ZoneOffset.UTC).toString();
  }

  @Test
  void adminKeysShowsReasonWithQuotaIdAndStateUntilForPerDayAndPerMinuteCooldowns()
      throws Exception {
    logs = LogCapture.of(GeminiKeyRotator.class);
    h = new Harness(yaml(), Map.of());
    h.enqueue(429, Fixtures.geminiError("429-per-day"));
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));

    Instant before = Instant.now();
    HttpResponse<String> answer = h.generate();
    Instant after = Instant.now();
    assertThat(answer.statusCode()).isEqualTo(429);

    String daily = keyIdOf(h.upstream.takeRequest());
    String perMinute = keyIdOf(h.upstream.takeRequest());
    assertThat(Set.of(daily, perMinute)).containsExactlyInAnyOrder("k1", "k2");
    String dailyProject = daily.equals("k1") ? "p1" : "p2";
    String minuteProject = daily.equals("k1") ? "p2" : "p1";

    HttpResponse<String> list = h.admin("GET", "/admin/keys", null);
    assertThat(list.statusCode()).isEqualTo(200);
    assertThat(list.body()).doesNotContain(Harness.KEY_1).doesNotContain(Harness.KEY_2);
    JsonNode d = null;
    JsonNode m = null;
    for (JsonNode k : JSON.readTree(list.body()).get("keys")) {
      if (k.get("id").asText().equals(daily)) d = k;
      if (k.get("id").asText().equals(perMinute)) m = k;
    }

    // Midnight Pacific after the request (either side of it, should a midnight fall between).
    java.util.List<Instant> resets = java.util.List.of(CooldownPolicy.defaults().nextDailyReset(before),
        CooldownPolicy.defaults().nextDailyReset(after));
    assertThat(d.get("state").asText()).isEqualTo("RATE_LIMITED");
    Instant dailyUntil = Instant.parse(d.get("stateUntil").asText());
    assertThat(resets).contains(dailyUntil);
    String dailyReason = "per-day quota of project " + dailyProject + " for " + MODEL
        + " (GenerateRequestsPerDayPerProjectPerModel-FreeTier) until " + minute(dailyUntil)
        + " (midnight Pacific)";
    assertThat(d.get("reason").asText()).isEqualTo(dailyReason);
    assertThat(d.get("cooldowns").get(MODEL).asText()).isEqualTo(dailyUntil.toString());
    assertThat(d.get("cooldownReasons").get(MODEL).asText()).isEqualTo(dailyReason);

    assertThat(m.get("state").asText()).isEqualTo("RATE_LIMITED");
    Instant minuteUntil = Instant.parse(m.get("stateUntil").asText());
    assertThat(minuteUntil).isBetween(before.plusSeconds(36), after.plusSeconds(38));
    assertThat(m.get("reason").asText()).isEqualTo("per-minute quota of project " + minuteProject
        + " for " + MODEL + " (GenerateRequestsPerMinutePerProjectPerModel-FreeTier) until "
        + minute(minuteUntil.truncatedTo(java.time.temporal.ChronoUnit.SECONDS))
        + " (retry delay 37s)");

    // Logged at INFO when each cooldown started, naming the keys that skip it.
    assertThat(logs.messages()).contains("INFO cooldown started: " + dailyReason + "; keys "
        + daily + " skip it");
    assertThat(logs.messages()).anyMatch(line -> line.startsWith(
        "INFO cooldown started: per-minute quota of project " + minuteProject)
        && line.endsWith("; keys " + perMinute + " skip it"));
    assertThat(String.join("\n", logs.messages())).doesNotContain(Harness.KEY_1)
        .doesNotContain(Harness.KEY_2);
  }

  @Test
  void readmeAdminKeysSampleHasTheShapeAndWordsOfARealAnswer() throws Exception {
    String readme = java.nio.file.Files.readString(ReferenceDocsTest.README);
    int from = readme.indexOf("<!-- admin-keys-sample:begin -->");
    int to = readme.indexOf("<!-- admin-keys-sample:end -->");
    assertThat(from).isNotNegative();
    String block = readme.substring(from, to);
    JsonNode sample = JSON.readTree(block.substring(block.indexOf('{'), block.lastIndexOf('}') + 1))
        .get("keys").get(0);

    h = new Harness(yaml(), Map.of());
    h.proxy.rotator().disable("k2");
    h.enqueue(429, Fixtures.geminiError("429-per-day"));
    assertThat(h.generate().statusCode()).isEqualTo(429);
    JsonNode real = JSON.readTree(h.admin("GET", "/admin/keys", null).body()).get("keys").get(0);

    assertThat(fieldNames(sample)).isEqualTo(fieldNames(real));
    // The same words, but for the instant.
    String untilPattern = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d(:\\d\\d)?Z";
    assertThat(sample.get("reason").asText().replaceAll(untilPattern, "T"))
        .isEqualTo(real.get("reason").asText().replaceAll(untilPattern, "T"));
    assertThat(sample.get("state").asText()).isEqualTo(real.get("state").asText());
  }

  private static java.util.List<String> fieldNames(JsonNode node) {
    java.util.List<String> names = new java.util.ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }

  @Test
  void cooldownEndIsLoggedWhenItEndsWithoutAnyoneLooking() throws Exception {
    logs = LogCapture.of(GeminiKeyRotator.class);
    h = new Harness(yaml(), Map.of());
    String oneSecond = Fixtures.geminiError("429-per-minute").replace("\"37s\"", "\"1s\"");
    h.enqueue(429, oneSecond);
    h.enqueue(200, Fixtures.geminiResponse("generate-content.json"));
    assertThat(h.generate().statusCode()).isEqualTo(200);

    // No request and no admin call from here: the end is noticed by the rotator's own check.
    String ended = Eventually.value("the cooldown's end to be logged",
        () -> logs.messages().stream().filter(l -> l.startsWith("INFO cooldown ended: "))
            .findFirst().orElse(null), line -> line != null);
    assertThat(ended).contains("per-minute quota of project p")
        .contains("(GenerateRequestsPerMinutePerProjectPerModel-FreeTier)")
        .contains("(retry delay 1s)");
  }
}
