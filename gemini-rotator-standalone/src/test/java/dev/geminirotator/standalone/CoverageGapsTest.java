package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.Fixtures;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import mockwebserver3.MockResponse;
import mockwebserver3.MockResponseBody;
import mockwebserver3.RecordedRequest;
import okio.BufferedSink;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Items of the standalone proxy's specification (issue 5) that no other test covered: the
 * OpenAI-compatible stream, Files API get/delete routing, methods other than GET/POST, a reload
 * removing a key under an in-flight request, reweighting a key by reload, the admin key list
 * after failures, and the per-key and rejection metrics.
 */
class CoverageGapsTest {

  Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  static String keyOf(RecordedRequest r) {
    return r.getHeaders().get("x-goog-api-key");
  }

  @Test
  void openAiStreamReachesTheClientEventByEventWithThePoolKeyAsBearer() throws Exception {
    h = new Harness("");
    String first = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        + "\"delta\":{\"role\":\"assistant\",\"content\":\"Key \"}}]}\n\n";
    String rest = "data: {\"id\":\"c1\",\"object\":\"chat.completion.chunk\",\"choices\":[{\"index\":0,"
        + "\"delta\":{\"content\":\"rotation\"},\"finish_reason\":\"stop\"}]}\n\ndata: [DONE]\n\n";
    CountDownLatch clientSawFirst = new CountDownLatch(1);
    CountDownLatch upstreamFinished = new CountDownLatch(1);
    h.upstream.enqueue(new MockResponse.Builder().code(200)
        .addHeader("Content-Type", "text/event-stream")
        .body(new MockResponseBody() {
          @Override
          public long getContentLength() {
            return (first + rest).getBytes(StandardCharsets.UTF_8).length;
          }

          @Override
          public void writeTo(BufferedSink sink) throws IOException {
            sink.writeUtf8(first);
            sink.flush();
            try {
              clientSawFirst.await(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
              Thread.currentThread().interrupt();
            }
            sink.writeUtf8(rest);
            sink.flush();
            upstreamFinished.countDown();
          }
        }).build());

    HttpResponse<InputStream> response = h.http.send(h.request("/v1beta/openai/chat/completions")
        .header("Authorization", "Bearer " + Harness.TOKEN)
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"gemini-2.5-flash\",\"stream\":true,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build(),
        HttpResponse.BodyHandlers.ofInputStream());

    assertThat(response.statusCode()).isEqualTo(200);
    StringBuilder received = new StringBuilder();
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(response.body(),
        StandardCharsets.UTF_8))) {
      String line = reader.readLine();
      assertThat(line).isEqualTo(first.substring(0, first.indexOf('\n')));
      assertThat(upstreamFinished.getCount()).as("upstream still holding the rest").isEqualTo(1);
      clientSawFirst.countDown();
      received.append(line).append('\n');
      while ((line = reader.readLine()) != null) received.append(line).append('\n');
    }
    assertThat(received.toString().trim()).isEqualTo((first + rest).trim());
    RecordedRequest r = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(r.getTarget()).isEqualTo("/v1beta/openai/chat/completions");
    assertThat(r.getHeaders().get("Authorization")).isIn("Bearer " + Harness.KEY_1,
        "Bearer " + Harness.KEY_2);
    assertThat(r.getHeaders().get("x-goog-api-key")).isNull();
    assertThat(r.getBody().utf8()).contains("\"stream\":true");
  }

  @Test
  void fileGetAndDeleteGoToAKeyOfTheProjectThatUploadedTheFile() throws Exception {
    h = new Harness(Harness.defaultYaml()
        .replace("    secret: " + Harness.KEY_1 + "\n",
            "    secret: " + Harness.KEY_1 + "\n    project: project-one\n")
        .replace("    secret: " + Harness.KEY_2 + "\n",
            "    secret: " + Harness.KEY_2 + "\n    project: project-two\n"), Map.of());
    h.enqueue(200, "{\"file\":{\"name\":\"files/doc-42\",\"mimeType\":\"text/plain\"}}");
    for (int i = 0; i < 6; i++) h.enqueue(200, "{}");

    // A one-request (multipart) upload answered with the file's name.
    HttpResponse<String> uploaded = h.post("/upload/v1beta/files?uploadType=multipart", "{}",
        "x-goog-api-key", Harness.TOKEN);
    assertThat(uploaded.statusCode()).isEqualTo(200);
    String uploader = keyOf(h.upstream.takeRequest(5, TimeUnit.SECONDS));

    for (int i = 0; i < 3; i++) {
      assertThat(h.get("/v1beta/files/doc-42", "x-goog-api-key", Harness.TOKEN).statusCode())
          .isEqualTo(200);
      assertThat(h.send(h.request("/v1beta/files/doc-42").header("x-goog-api-key", Harness.TOKEN)
          .DELETE().build()).statusCode()).isEqualTo(200);
    }
    for (int i = 0; i < 6; i++) {
      RecordedRequest r = h.upstream.takeRequest(5, TimeUnit.SECONDS);
      assertThat(r.getTarget()).isEqualTo("/v1beta/files/doc-42");
      assertThat(r.getMethod()).isEqualTo(i % 2 == 0 ? "GET" : "DELETE");
      assertThat(keyOf(r)).as("request " + i).isEqualTo(uploader);
    }
  }

  @Test
  void patchPutAndDeleteAreForwardedWithTheirBodiesPathsAndQueries() throws Exception {
    h = new Harness("");
    h.enqueue(200, "{\"name\":\"cachedContents/c-1\",\"ttl\":\"600s\"}");
    h.enqueue(200, "{}");
    h.enqueue(200, "{}");

    HttpResponse<String> patched = h.send(h.request(
            "/v1beta/cachedContents/c-1?updateMask=ttl&key=" + Harness.TOKEN)
        .header("Content-Type", "application/json")
        .method("PATCH", HttpRequest.BodyPublishers.ofString("{\"ttl\":\"600s\"}")).build());
    HttpResponse<String> put = h.send(h.request("/upload/v1beta/files?upload_id=none")
        .header("x-goog-api-key", Harness.TOKEN)
        .PUT(HttpRequest.BodyPublishers.ofString("bytes")).build());
    HttpResponse<String> deleted = h.send(h.request("/v1beta/cachedContents/c-1")
        .header("x-goog-api-key", Harness.TOKEN).DELETE().build());

    assertThat(patched.statusCode()).isEqualTo(200);
    assertThat(patched.body()).isEqualTo("{\"name\":\"cachedContents/c-1\",\"ttl\":\"600s\"}");
    assertThat(put.statusCode()).isEqualTo(200);
    assertThat(deleted.statusCode()).isEqualTo(200);
    RecordedRequest p = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(p.getMethod()).isEqualTo("PATCH");
    assertThat(p.getTarget()).isEqualTo("/v1beta/cachedContents/c-1?updateMask=ttl");
    assertThat(p.getBody().utf8()).isEqualTo("{\"ttl\":\"600s\"}");
    assertThat(keyOf(p)).isIn(Harness.KEY_1, Harness.KEY_2);
    RecordedRequest u = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(u.getMethod()).isEqualTo("PUT");
    assertThat(u.getBody().utf8()).isEqualTo("bytes");
    RecordedRequest d = h.upstream.takeRequest(5, TimeUnit.SECONDS);
    assertThat(d.getMethod()).isEqualTo("DELETE");
    assertThat(d.getTarget()).isEqualTo("/v1beta/cachedContents/c-1");
    assertThat(d.getBodySize()).isZero();
  }

  @Test
  void aReloadRemovingAKeyLetsTheRequestInFlightOnItFinish() throws Exception {
    h = new Harness("");
    String fixture = Fixtures.geminiResponse("generate-content.json");
    h.upstream.enqueue(new MockResponse.Builder().code(200).body(fixture)
        .addHeader("Content-Type", "application/json")
        .headersDelay(1, TimeUnit.SECONDS).build());
    h.enqueue(200, "{}");

    CompletableFuture<HttpResponse<String>> slow = h.http.sendAsync(
        h.request("/v1beta/models/gemini-2.5-flash:generateContent")
            .header("x-goog-api-key", Harness.TOKEN)
            .POST(HttpRequest.BodyPublishers.ofString("{}")).build(),
        HttpResponse.BodyHandlers.ofString());
    String inFlightKey = keyOf(h.upstream.takeRequest(5, TimeUnit.SECONDS));
    String removedId = inFlightKey.equals(Harness.KEY_1) ? "k1" : "k2";
    String keptKey = inFlightKey.equals(Harness.KEY_1) ? Harness.KEY_2 : Harness.KEY_1;
    String original = java.nio.file.Files.readString(h.configFile);
    String without = original.replaceAll("  - id: " + removedId + "\n    secret: [^\n]+\n", "");
    assertThat(without).isNotEqualTo(original);
    java.nio.file.Files.writeString(h.configFile, without);
    assertThat(h.admin("POST", "/admin/reload", null).statusCode()).isEqualTo(200);
    assertThat(h.proxy.rotator().snapshot(removedId)).isEmpty();

    HttpResponse<String> finished = slow.get(10, TimeUnit.SECONDS);
    assertThat(finished.statusCode()).isEqualTo(200);
    assertThat(finished.body()).isEqualTo(fixture);
    // New requests use the remaining key only.
    assertThat(h.post("/v1beta/models/gemini-2.5-flash:generateContent", "{}", "x-goog-api-key",
        Harness.TOKEN).statusCode()).isEqualTo(200);
    assertThat(keyOf(h.upstream.takeRequest(5, TimeUnit.SECONDS))).isEqualTo(keptKey);
  }

  @Test
  void metricsShowKeysByStateHealthPerKeyBreakerAndRejections() throws Exception {
    h = new Harness("rate-limit:\n  requests-per-minute: 1\n");
    h.enqueue(200, "{}");
    String path = "/v1beta/models/gemini-2.5-flash:generateContent";
    assertThat(h.post(path, "{}", "x-goog-api-key", Harness.TOKEN).statusCode()).isEqualTo(200);
    assertThat(h.post(path, "{}", "x-goog-api-key", Harness.TOKEN).statusCode()).isEqualTo(429);
    assertThat(h.admin("POST", "/admin/keys/k2/disable", null).statusCode()).isEqualTo(200);
    assertThat(h.admin("POST", "/admin/keys", "{\"keys\":[{\"id\":\"k3\",\"secret\":"
        + "\"AIzaSyTEST-pool-key-three-00000003\"}]}").statusCode()).isEqualTo(201);

    String text = h.get("/metrics").body();

    assertThat(text).containsPattern("gemini_proxy_rejected_total\\{[^}]*reason=\"client-rate-limit\""
        + "[^}]*} 1");
    assertThat(text).containsPattern("gemini_rotator_keys\\{[^}]*state=\"disabled\"[^}]*} 1");
    assertThat(text).containsPattern("gemini_rotator_keys\\{[^}]*state=\"healthy\"[^}]*} 2");
    for (String id : new String[] {"k1", "k2", "k3"}) {
      assertThat(text).as("health of " + id)
          .containsPattern("gemini_rotator_key_health\\{[^}]*key=\"" + id + "\"");
    }
    assertThat(text).contains("gemini_rotator_breaker_state");
    assertThat(text).contains("gemini_rotator_state_transitions");
    assertThat(text).doesNotContain(Harness.KEY_1).doesNotContain(Harness.KEY_2)
        .doesNotContain("AIzaSyTEST-pool-key-three").doesNotContain(Harness.TOKEN);
  }

  @Test
  void adminKeysShowCooldownsPerModelCountersAndTheLastError() throws Exception {
    h = new Harness("");
    h.enqueue(429, Fixtures.geminiError("429-per-minute"));
    h.enqueue(400, Fixtures.geminiError("400-api-key-invalid"));
    HttpResponse<String> answer = h.post("/v1beta/models/gemini-2.5-flash:generateContent", "{}",
        "x-goog-api-key", Harness.TOKEN);
    assertThat(answer.statusCode()).as("the pool's answer, not the rejected key's 400")
        .isIn(429, 503);
    String cooled = keyOf(h.upstream.takeRequest(5, TimeUnit.SECONDS));
    String cooledId = cooled.equals(Harness.KEY_1) ? "k1" : "k2";
    String rejectedId = cooledId.equals("k1") ? "k2" : "k1";

    HttpResponse<String> list = h.admin("GET", "/admin/keys", null);

    com.fasterxml.jackson.databind.JsonNode keys =
        new com.fasterxml.jackson.databind.ObjectMapper().readTree(list.body()).get("keys");
    java.util.Map<String, com.fasterxml.jackson.databind.JsonNode> byId = new java.util.HashMap<>();
    keys.forEach(k -> byId.put(k.get("id").asText(), k));
    com.fasterxml.jackson.databind.JsonNode c = byId.get(cooledId);
    assertThat(c.get("state").asText()).isEqualTo("RATE_LIMITED");
    assertThat(c.get("cooldowns").has("gemini-2.5-flash")).as(c.toString()).isTrue();
    assertThat(c.get("failures").asLong()).isEqualTo(1);
    com.fasterxml.jackson.databind.JsonNode r = byId.get(rejectedId);
    assertThat(r.get("state").asText()).isEqualTo("INVALID");
    assertThat(r.get("reason").asText()).contains("API_KEY_INVALID");
    assertThat(r.get("failures").asLong()).isEqualTo(1);
    assertThat(list.body()).doesNotContain(Harness.KEY_1).doesNotContain(Harness.KEY_2);
  }

  @Test
  void aReloadReweightingAKeyKeepsWhatWasLearnedAboutIt() throws Exception {
    h = new Harness("");
    assertThat(h.admin("POST", "/admin/keys/k1/disable", null).statusCode()).isEqualTo(200);
    String original = java.nio.file.Files.readString(h.configFile);
    java.nio.file.Files.writeString(h.configFile, original.replace(
        "    secret: " + Harness.KEY_1 + "\n", "    secret: " + Harness.KEY_1 + "\n    weight: 7\n"));

    assertThat(h.admin("POST", "/admin/reload", null).statusCode()).isEqualTo(200);

    dev.geminirotator.api.KeySnapshot k1 = h.proxy.rotator().snapshot("k1").orElseThrow();
    assertThat(k1.weight()).isEqualTo(7);
    assertThat(k1.state()).isEqualTo(dev.geminirotator.api.KeyState.DISABLED);
  }
}
