package dev.geminirotator.standalone;

import dev.geminirotator.standalone.gemini.Problems;
import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeySnapshot;
import dev.geminirotator.api.event.KeyAdded;
import dev.geminirotator.api.event.RotatorListener;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * {@code POST /admin/keys} with thousands of keys (issue 14 item 7): every key is added, a second
 * batch too, and a batch enters the pool as one membership change. Timing is measured in
 * benchmarks/ ({@code BulkAddKeys}), never here.
 */
class BulkAdminAddTest {

  Harness h;

  @AfterEach
  void stop() {
    if (h != null) h.close();
  }

  static String batch(String prefix, int n) {
    StringBuilder sb = new StringBuilder("{\"keys\":[");
    for (int i = 0; i < n; i++) {
      if (i > 0) sb.append(',');
      sb.append("{\"id\":\"").append(prefix).append(i).append("\",\"secret\":\"AIzaSyTEST-bulk-")
          .append(prefix).append(String.format("%08d", i)).append("-0000000\"}");
    }
    return sb.append("]}").toString();
  }

  @Test
  void twoBatchesOfTenThousandKeysAreAddedAndListed() throws Exception {
    h = new Harness("");
    HttpResponse<String> first = h.admin("POST", "/admin/keys", batch("a", 10_000));
    HttpResponse<String> second = h.admin("POST", "/admin/keys", batch("b", 10_000));

    assertThat(first.statusCode()).isEqualTo(201);
    assertThat(second.statusCode()).isEqualTo(201);
    JsonNode added = Problems.JSON.readTree(second.body()).get("keys");
    assertThat(added).hasSize(10_000);
    assertThat(added.get(9_999).get("id").asText()).isEqualTo("b9999");
    assertThat(second.body()).doesNotContain("AIzaSyTEST-bulk-");
    HttpResponse<String> listing = h.admin("GET", "/admin/keys", null);
    assertThat(Problems.JSON.readTree(listing.body()).get("keys")).hasSize(20_002);
    Set<String> ids = h.proxy.rotator().snapshot().stream().map(KeySnapshot::id)
        .collect(Collectors.toSet());
    assertThat(ids).hasSize(20_002).contains("k1", "k2", "a0", "a9999", "b0", "b9999");
  }

  @Test
  void aBatchEntersThePoolAsOneChange() throws Exception {
    h = new Harness("");
    List<Boolean> lastKeyInPoolAtEachEvent = new CopyOnWriteArrayList<>();
    h.proxy.rotator().addListener(new RotatorListener() {
      @Override
      public void onKeyAdded(KeyAdded event) {
        lastKeyInPoolAtEachEvent.add(h.proxy.rotator().snapshot("a299").isPresent());
      }
    });

    assertThat(h.admin("POST", "/admin/keys", batch("a", 300)).statusCode()).isEqualTo(201);

    assertThat(lastKeyInPoolAtEachEvent).hasSize(300).containsOnly(true);
    assertThat(h.proxy.rotator().snapshot()).hasSize(302);
  }

  /**
   * Keys posted without ids under a configured {@code key-id-salt}: the ids the response names are
   * the pool's (derived under that salt, not this process's own), so listing and deleting by them
   * work. Broke when {@code addKeys} took keys without {@code poolKey}.
   */
  @Test
  void idsAnsweredForKeysWithoutIdsAreThePoolsUnderAConfiguredSalt() throws Exception {
    String salt = "salt-for-the-bulk-add-test-0001";
    String one = "AIzaSyTEST-bulk-noid-000000000001";
    String two = "AIzaSyTEST-bulk-noid-000000000002";
    h = new Harness("key-id-salt: " + salt + "\n");
    String body = "{\"keys\":[{\"secret\":\"" + one + "\"},{\"secret\":\"" + two + "\"}]}";

    HttpResponse<String> added = h.admin("POST", "/admin/keys", body);

    assertThat(added.statusCode()).isEqualTo(201);
    List<String> answered = new ArrayList<>();
    Problems.JSON.readTree(added.body()).get("keys").forEach(k -> answered.add(k.get("id").asText()));
    assertThat(answered).containsExactly(ApiKey.builder(one).idSalt(salt).build().id(),
        ApiKey.builder(two).idSalt(salt).build().id());
    List<String> listed = new ArrayList<>();
    Problems.JSON.readTree(h.admin("GET", "/admin/keys", null).body()).get("keys")
        .forEach(k -> listed.add(k.get("id").asText()));
    assertThat(listed).containsAll(answered);
    for (String id : answered) {
      assertThat(h.admin("DELETE", "/admin/keys/" + id, null).statusCode()).isEqualTo(204);
    }
    assertThat(h.proxy.rotator().snapshot()).extracting(KeySnapshot::id)
        .containsExactlyInAnyOrder("k1", "k2");
  }
}
