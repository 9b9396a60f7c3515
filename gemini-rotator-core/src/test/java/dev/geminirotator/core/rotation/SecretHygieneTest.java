package dev.geminirotator.core.rotation;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.geminirotator.api.ApiKey;
import dev.geminirotator.api.KeyLease;
import dev.geminirotator.api.NoKeyAvailableException;
import dev.geminirotator.api.Outcome;
import dev.geminirotator.api.QuotaScope;
import dev.geminirotator.api.RequestContext;
import dev.geminirotator.api.event.RotatorEvent;
import dev.geminirotator.api.event.RotatorListener;
import dev.geminirotator.testsupport.FakeClock;
import dev.geminirotator.testsupport.SecretScanner;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class SecretHygieneTest {

  private static final String SECRET_A = "AIzaSyD-secret-value-never-shown-0001";
  private static final String SECRET_B = "AIzaSyD-secret-value-never-shown-0002";

  @Test
  void secretsNeverAppearInToStringSnapshotsEventsOrExceptions() {
    List<String> rendered = new ArrayList<>();
    GeminiKeyRotator rotator = GeminiKeyRotator.builder()
        .clock(FakeClock.standard())
        .key(ApiKey.builder(SECRET_A).project("p1").build())
        .key(ApiKey.builder(SECRET_B).id("named").build())
        .listener(new RotatorListener() {
          @Override
          public void onEvent(RotatorEvent event) {
            rendered.add(event.toString());
          }
        })
        .build();
    RequestContext ctx = RequestContext.forModel("gemini-2.5-pro");
    KeyLease first = rotator.acquire(ctx);
    rendered.add(first.toString());
    rendered.add(first.key().toString());
    first.complete(Outcome.rateLimited(Duration.ofSeconds(3), QuotaScope.PER_MINUTE));
    KeyLease second = rotator.acquire(ctx.excluding(first.key().id()));
    second.complete(Outcome.keyRejected(400, "API_KEY_INVALID"));
    assertThatThrownBy(() -> rotator.acquire(ctx))
        .isInstanceOfSatisfying(NoKeyAvailableException.class, e -> {
          rendered.add(e.getMessage());
          rendered.add(e.toString());
        });
    rotator.snapshot().forEach(s -> rendered.add(s.toString()));
    rendered.add(rotator.toString());
    rendered.add(rotator.stats().toString());

    assertThat(rendered).hasSizeGreaterThan(8);
    String all = String.join("\n", rendered);
    // whole, any 8 characters, or URL-encoded
    assertThat(SecretScanner.of(SECRET_A, SECRET_B).findings(all)).isEmpty();
    assertThat(all).contains("AIza…0001");
  }
}
