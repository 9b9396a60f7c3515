package dev.geminirotator.api;

import static org.assertj.core.api.Assertions.assertThat;

import java.time.Instant;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RequestContextTest {

  @Test
  void blankOrMissingModelMeansAnyModel() {
    assertThat(RequestContext.forModel(null).model()).isEqualTo("*");
    assertThat(RequestContext.forModel(" ").model()).isEqualTo("*");
    assertThat(RequestContext.forModel("gemini-2.5-pro").model()).isEqualTo("gemini-2.5-pro");
  }

  @Test
  void excludingReturnsANewContextAndLeavesTheOldOneAlone() {
    RequestContext first = RequestContext.forModel("m");
    RequestContext second = first.excluding("a");
    RequestContext third = second.excluding("b").excluding("a");
    assertThat(first.triedKeyIds()).isEmpty();
    assertThat(second.triedKeyIds()).containsExactly("a");
    assertThat(third.triedKeyIds()).containsExactlyInAnyOrder("a", "b");
    assertThat(third.tried("b")).isTrue();
    assertThat(third.model()).isEqualTo("m");
  }

  @Test
  void noKeyAvailableMessageSummarisesThePool() {
    NoKeyAvailableException e = new NoKeyAvailableException("gemini-2.5-pro",
        Instant.parse("2026-11-26T12:00:07Z"),
        Map.of(KeyState.RATE_LIMITED, 12, KeyState.INVALID, 2), 1);
    assertThat(e.getMessage()).isEqualTo("no key available for model gemini-2.5-pro: 12 rate-limited,"
        + " 2 invalid (1 already tried by this request); next key frees at 2026-11-26T12:00:07Z");
    assertThat(e.earliestAvailable()).contains(Instant.parse("2026-11-26T12:00:07Z"));
    assertThat(e.getStackTrace()).isEmpty();
  }

  @Test
  void circuitOpenMessageSaysUntilWhen() {
    CircuitOpenException e = new CircuitOpenException("*", Instant.parse("2026-11-26T12:00:10Z"));
    assertThat(e.getMessage())
        .isEqualTo("upstream circuit open for all models: failing fast until 2026-11-26T12:00:10Z");
  }
}
