package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import dev.geminirotator.testsupport.redis.RedisServer;
import dev.geminirotator.testsupport.Eventually;
import org.junit.jupiter.api.Test;

/**
 * A file key deleted through the admin API of one instance stays deleted on every instance
 * sharing the store while the file lists it: a reload elsewhere of a file that did not change
 * that key must not add it back (and publish the re-add to every instance).
 */
class SharedKeyDeletionTest {

  @Test
  void aReloadOnAnotherInstanceDoesNotResurrectAFileKeyDeletedThroughTheAdminApi()
      throws Exception {
    try (RedisServer redis = RedisServer.startOnFreePort()) {
      String storage = "storage: \"" + redis.uri() + "\"\n";
      try (Harness first = new Harness(storage); Harness second = new Harness(storage)) {
        assertThat(first.admin("DELETE", "/admin/keys/k1", null).statusCode()).isEqualTo(204);
        Eventually.until("the second instance drops k1",
            () -> second.proxy.rotator().snapshot("k1").isEmpty());

        // The second instance's file is unchanged and still lists k1.
        assertThat(second.admin("POST", "/admin/reload", null).statusCode()).isEqualTo(200);
        assertThat(second.proxy.rotator().snapshot("k1")).as("k1 on the second instance")
            .isEmpty();

        // A marker published after the reload: once the first instance has it, it has seen
        // whatever the reload published before it.
        assertThat(second.admin("POST", "/admin/keys",
            "{\"keys\":[{\"id\":\"marker\",\"secret\":\"AIzaSyTEST-runtime-marker-000000\"}]}")
            .statusCode()).isEqualTo(201);
        Eventually.until("the first instance sees the marker",
            () -> first.proxy.rotator().snapshot("marker").isPresent());
        assertThat(first.proxy.rotator().snapshot("k1")).as("k1 on the first instance").isEmpty();
      }
    }
  }
}
