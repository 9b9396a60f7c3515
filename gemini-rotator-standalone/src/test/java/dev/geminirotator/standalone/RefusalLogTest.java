package dev.geminirotator.standalone;

import dev.geminirotator.standalone.gemini.RefusalLog;
import static org.assertj.core.api.Assertions.assertThat;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** {@link RefusalLog} on a fake ticker: one line per kind per interval, the rest counted. */
class RefusalLogTest {

  private final AtomicLong nanos = new AtomicLong(1_000_000_000L);
  private final RefusalLog refusals = new RefusalLog(nanos::get, Duration.ofSeconds(10));
  private final LogCapture log = LogCapture.of(RefusalLog.class);

  @AfterEach
  void detach() {
    log.close();
  }

  @Test
  void aFloodOfOneKindGivesOneLinePerIntervalAndTheNextLineCountsTheRest() {
    for (int i = 0; i < 1_000; i++) {
      refusals.refused("forbidden", 403, "req-" + i, "generate", "10.0.0." + (i % 250),
          "the access token is not valid for this proxy");
    }
    assertThat(log.messages()).containsExactly("INFO refused request req-0 on generate from"
        + " 10.0.0.0: 403 forbidden: the access token is not valid for this proxy");

    nanos.addAndGet(Duration.ofSeconds(9).toNanos());
    refusals.refused("forbidden", 403, "req-early", "generate", "10.0.0.1", "again");
    assertThat(log.messages()).hasSize(1);

    nanos.addAndGet(Duration.ofSeconds(1).toNanos());
    refusals.refused("forbidden", 403, "req-late", "generate", "10.0.0.2", "again");
    assertThat(log.messages()).hasSize(2);
    assertThat(log.messages().get(1)).startsWith("INFO refused request req-late on generate")
        .endsWith("(1000 more forbidden refusals since the last such line)");
  }

  @Test
  void eachKindHasItsOwnWindow() {
    for (int i = 0; i < 100; i++) {
      refusals.refused("forbidden", 403, "f" + i, "generate", "token-abc", "wrong token");
      refusals.refused("client-rate-limited", 429, "r" + i, "generate", "token-abc", "limit");
      refusals.refused("circuit-open", 503, "c" + i, "stream", "token-abc", "breaker open");
    }
    assertThat(log.messages()).hasSize(3).anyMatch(l -> l.contains("f0") && l.contains("403"))
        .anyMatch(l -> l.contains("r0") && l.contains("429"))
        .anyMatch(l -> l.contains("c0") && l.contains("503"));
  }

  @Test
  void manyKindsStillGiveABoundedNumberOfLines() {
    for (int i = 0; i < 10_000; i++) {
      refusals.refused("kind-" + i, 400, "id-" + i, "generate", "127.0.0.1", "why");
    }
    assertThat(log.messages()).hasSizeLessThanOrEqualTo(RefusalLog.MAX_KINDS + 1);
  }

  @Test
  void controlCharactersInAClientChosenReasonCannotForgeALine() {
    refusals.refused("no-key-available", 429, "id-1", "openai", "token-abc",
        "no key available for model evil\n2026-12-07 INFO forged line\r\u2028");
    List<String> lines = log.messages();
    assertThat(lines).hasSize(1);
    assertThat(lines.get(0)).doesNotContain("\n").doesNotContain("\r").doesNotContain("\u2028")
        .contains("model evil?2026-12-07 INFO forged line??");
  }
}
