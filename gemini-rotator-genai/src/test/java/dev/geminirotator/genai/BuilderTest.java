package dev.geminirotator.genai;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.google.genai.Client;
import com.google.genai.types.HttpOptions;
import com.google.genai.types.HttpRetryOptions;
import dev.geminirotator.core.rotation.GeminiKeyRotator;
import dev.geminirotator.okhttp.GeminiKeyInterceptor;
import dev.geminirotator.testsupport.FakeClock;
import java.time.Duration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** What the builder refuses, with messages that name the field and the bad value. */
class BuilderTest {

  private final GeminiKeyRotator rotator = Pool.rotator(FakeClock.standard());

  @AfterEach
  void close() {
    rotator.close();
  }

  private static HttpOptions retrying(HttpRetryOptions.Builder retry) {
    return HttpOptions.builder().retryOptions(retry.build()).build();
  }

  @Test
  void sdkRetryOptionsAskingForMoreThanOneAttemptAreRefused() {
    assertThatThrownBy(() -> GeminiGenAi.builder()
        .httpOptions(retrying(HttpRetryOptions.builder().attempts(3))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("httpOptions.retryOptions.attempts must be 1 but was 3:")
        .hasMessageContaining("same pool key");
  }

  @Test
  void sdkRetryOptionsWithoutAttemptsAreRefusedSinceTheSdkThenMakesFive() {
    assertThatThrownBy(() -> GeminiGenAi.builder()
        .httpOptions(retrying(HttpRetryOptions.builder().initialDelay(2.0))))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("httpOptions.retryOptions.attempts must be 1 but was unset"
            + " (the SDK then makes 5)");
  }

  @Test
  void sdkOptionsWithOneAttemptOrNoRetryOptionsAreTaken() {
    assertThatCode(() -> GeminiGenAi.builder()
        .httpOptions(retrying(HttpRetryOptions.builder().attempts(1)))
        .httpOptions(HttpOptions.builder().apiVersion("v1beta").build()))
        .doesNotThrowAnyException();
  }

  @Test
  void aRotatorOrAnInterceptorIsRequiredAndNotBoth() {
    assertThatThrownBy(() -> GeminiGenAi.builder().build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("a rotator or an interceptor must be set");
    assertThatThrownBy(() -> GeminiGenAi.builder().rotator(rotator)
        .interceptor(GeminiKeyInterceptor.of(rotator)).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageStartingWith("set a rotator or an interceptor, not both");
  }

  @Test
  void aBaseUrlMustBeAnHttpUrlWithoutAQueryThatTheMessageWouldShow() {
    assertThatThrownBy(() -> GeminiGenAi.builder().baseUrl("generativelanguage.googleapis.com"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("baseUrl must be an http or https URL, e.g."
            + " https://generativelanguage.googleapis.com, but was"
            + " 'generativelanguage.googleapis.com'");
    String secret = Pool.secret(1);
    assertThatThrownBy(() -> GeminiGenAi.builder().baseUrl("https://gw.example/?key=" + secret))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("baseUrl must have no query or fragment")
        .hasMessageContaining("https://gw.example/")
        .hasMessageNotContaining(secret);
  }

  @Test
  void anApiVersionIsOnePathSegment() {
    assertThatThrownBy(() -> GeminiGenAi.builder().apiVersion("v1beta/../files"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("apiVersion must be one path segment such as v1beta or v1 but was"
            + " 'v1beta/../files'");
    assertThatCode(() -> GeminiGenAi.builder().apiVersion("v1alpha")).doesNotThrowAnyException();
  }

  @Test
  void timeoutsMustBeInRange() {
    assertThatThrownBy(() -> GeminiGenAi.builder().timeout(Duration.ZERO))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("timeout must be between 1 ms and 2147483647 ms but was PT0S");
    assertThatThrownBy(() -> GeminiGenAi.builder().readTimeout(Duration.ofSeconds(-1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessage("readTimeout must be zero (none) or positive but was PT-1S");
    assertThatThrownBy(() -> GeminiGenAi.builder().connectTimeout(Duration.ofSeconds(-1)))
        .hasMessageStartingWith("connectTimeout must be zero");
    assertThatThrownBy(() -> GeminiGenAi.builder().writeTimeout(Duration.ofSeconds(-1)))
        .hasMessageStartingWith("writeTimeout must be zero");
  }

  @Test
  void aFieldSetBothHereAndInHttpOptionsMustAgree() {
    assertThatThrownBy(() -> GeminiGenAi.builder().rotator(rotator)
        .httpOptions(HttpOptions.builder().baseUrl("http://127.0.0.1:1").build())
        .baseUrl("http://127.0.0.1:2").build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("baseUrl was set to http://127.0.0.1:2 and httpOptions.baseUrl to"
            + " http://127.0.0.1:1: set it once");
    assertThatThrownBy(() -> GeminiGenAi.builder().rotator(rotator)
        .httpOptions(HttpOptions.builder().timeout(1000).build())
        .timeout(Duration.ofSeconds(2)).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessage("timeout was set to 2000 and httpOptions.timeout to 1000: set it once");
  }

  @Test
  void theSdkHoldsOnlyThePlaceholderKey() {
    Client client = GeminiGenAi.client(rotator);
    try {
      assertThat(client.apiKey()).isEqualTo(GeminiGenAi.PLACEHOLDER_API_KEY);
      assertThat(Pool.secrets()).noneMatch(s -> s.contains(client.apiKey()));
    } finally {
      client.close();
    }
  }
}
