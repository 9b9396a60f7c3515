package dev.geminirotator.core.guard;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class BreakerPolicyTest {

  @Test
  void defaultsComeFromTheDocumentedConstants() {
    BreakerPolicy p = BreakerPolicy.defaults();

    assertThat(p.failureRateThreshold()).isEqualTo(50.0);
    assertThat(p.minimumCalls()).isEqualTo(20);
    assertThat(p.slidingWindowSize()).isEqualTo(50);
    assertThat(p.waitInOpen()).isEqualTo(Duration.ofSeconds(10));
    assertThat(p.permittedCallsInHalfOpen()).isEqualTo(3);
    assertThat(p.perModel()).isFalse();
    assertThat(p.maxModelBreakers()).isEqualTo(256);
    assertThat(p.enabled()).isTrue();
    assertThat(p).isEqualTo(BreakerPolicy.builder().build());
  }

  @Test
  void toBuilderRoundTrips() {
    BreakerPolicy p = BreakerPolicy.builder().failureRateThreshold(25.5).minimumCalls(5)
        .slidingWindowSize(7).waitInOpen(Duration.ofMillis(1500)).permittedCallsInHalfOpen(2)
        .perModel(true).maxModelBreakers(9).enabled(false).build();

    assertThat(p.toBuilder().build()).isEqualTo(p).hasSameHashCodeAs(p);
    assertThat(p.toString()).isEqualTo("BreakerPolicy{failureRateThreshold=25.5, minimumCalls=5,"
        + " slidingWindowSize=7, waitInOpen=1.5s, permittedCallsInHalfOpen=2, perModel=true,"
        + " maxModelBreakers=9, enabled=false}");
  }

  @Test
  void failureRateThresholdOutsideOneToHundredIsRefusedNamingFieldAndValue() {
    assertThatThrownBy(() -> BreakerPolicy.builder().failureRateThreshold(0.0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("failure-rate-threshold must be >= 1.0 and <= 100.0 but was 0.0");
    assertThatThrownBy(() -> BreakerPolicy.builder().failureRateThreshold(100.5))
        .hasMessage("failure-rate-threshold must be >= 1.0 and <= 100.0 but was 100.5");
    assertThatThrownBy(() -> BreakerPolicy.builder().failureRateThreshold(Double.NaN))
        .hasMessage("failure-rate-threshold must be >= 1.0 and <= 100.0 but was NaN");
  }

  @Test
  void countsBelowOneAreRefusedNamingFieldAndValue() {
    assertThatThrownBy(() -> BreakerPolicy.builder().minimumCalls(0))
        .hasMessage("minimum-calls must be >= 1 but was 0");
    assertThatThrownBy(() -> BreakerPolicy.builder().slidingWindowSize(0))
        .hasMessage("sliding-window-size must be >= 1 and <= 100000 but was 0");
    assertThatThrownBy(() -> BreakerPolicy.builder().permittedCallsInHalfOpen(-1))
        .hasMessage("permitted-calls-in-half-open must be >= 1 but was -1");
    assertThatThrownBy(() -> BreakerPolicy.builder().maxModelBreakers(0))
        .hasMessage("max-model-breakers must be >= 1 and <= 10000 but was 0");
  }

  @Test
  void waitInOpenUnderOneMillisecondIsRefused() {
    assertThatThrownBy(() -> BreakerPolicy.builder().waitInOpen(Duration.ZERO))
        .hasMessage("wait-in-open must be >= 1ms but was 0s");
    assertThatThrownBy(() -> BreakerPolicy.builder().waitInOpen(Duration.ofMillis(-5)))
        .hasMessage("wait-in-open must be >= 1ms but was -5ms");
    assertThatThrownBy(() -> BreakerPolicy.builder().waitInOpen(Duration.ofNanos(500)))
        .hasMessage("wait-in-open must be >= 1ms but was 500ns");
    assertThatThrownBy(() -> BreakerPolicy.builder().waitInOpen(null))
        .isInstanceOf(NullPointerException.class).hasMessage("wait-in-open");
  }

  @Test
  void minimumCallsAboveTheWindowConflictsAtBuild() {
    BreakerPolicy.Builder builder = BreakerPolicy.builder().minimumCalls(60);

    assertThatThrownBy(builder::build).isInstanceOf(IllegalArgumentException.class)
        .hasMessage("minimum-calls (60) must not be greater than sliding-window-size (50), or the"
            + " breaker could never open");
  }
}
