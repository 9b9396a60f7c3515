package dev.geminirotator.core.internal.exchange;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class ClientCredentialsTest {

  @ParameterizedTest
  @ValueSource(strings = {"key=x", "KEY=x", "%6Bey=x", "$key=x", "%24key=x", "%24KEY=x", "key+=x",
      "access_token=x", "%61ccess_token=x", "Access_Token=x", "$access_token=x",
      "%24%61ccess%5Ftoken=x", "oauth_token=x", "OAUTH_TOKEN", "bearer_token=x", "passwd=x",
      "password=x", "quotaUser=x", "$quotaUser=x", "userProject=x", "%24userProject=x",
      "userIp=1.2.3.4", "key"})
  void everySpellingOfACredentialParameterIsRecognised(String part) {
    assertThat(ClientCredentials.isCredentialParameter(part)).isTrue();
  }

  @ParameterizedTest
  @ValueSource(strings = {"alt=sse", "upload_id=abc", "pageSize=10", "keys=1", "monkey=1",
      "access_token_x=1", "%2524key=x", "fields=a"})
  void ordinaryParametersAreKept(String part) {
    assertThat(ClientCredentials.isCredentialParameter(part)).isFalse();
  }

  @Test
  void strippingKeepsTheOtherPartsByteForByteAndInOrder() {
    assertThat(ClientCredentials.stripQuery("alt=sse&access_token=t&x=%7Cy&$key=k&pageSize=2"))
        .isEqualTo("alt=sse&x=%7Cy&pageSize=2");
    assertThat(ClientCredentials.stripQuery("key=k&oauth_token=t")).isNull();
    assertThat(ClientCredentials.stripQuery("%61ccess_token=t&alt=sse")).isEqualTo("alt=sse");
    assertThat(ClientCredentials.stripQuery(null)).isNull();
    String untouched = "alt=sse&pageSize=2";
    assertThat(ClientCredentials.stripQuery(untouched)).isSameAs(untouched);
  }

  @Test
  void signedInAccountSelectorIsStripped() {
    assertThat(ClientCredentials.stripQuery("authuser=1&alt=sse&%24authuser=2"))
        .isEqualTo("alt=sse");
  }

  @Test
  void malformedEscapesAreComparedAsWritten() {
    assertThat(ClientCredentials.isCredentialParameter("%6key=x")).isFalse();
    assertThat(ClientCredentials.stripQuery("a=%&key=1")).isEqualTo("a=%");
  }

  @ParameterizedTest
  @ValueSource(strings = {"Authorization", "x-goog-api-key", "X-Goog-Api-Key", "Cookie",
      "X-Goog-User-Project", "x-goog-quota-user", "Proxy-Authorization",
      "X-Goog-IAM-Authorization-Token", "x-goog-iam-authority-selector", "X-Goog-AuthUser",
      "X-Goog-Request-Params", "X-HTTP-Method-Override", "x-method-override", "X-Http-Method",
      "X-Goog-Anything-New", "x-goog-"})
  void credentialHeadersAreRecognisedInAnyCase(String name) {
    assertThat(ClientCredentials.isCredentialHeader(name)).isTrue();
  }

  @Test
  void otherHeadersAreNotCredentials() {
    assertThat(ClientCredentials.isCredentialHeader("Content-Type")).isFalse();
    for (String name : new String[] {"X-Goog-Upload-Protocol", "x-goog-upload-command",
        "X-Goog-Upload-Header-Content-Length", "X-Goog-Api-Client", "x-goog-fieldmask",
        "X-Goog-Api-Version", "Accept", "Accept-Language", "User-Agent", "X-Server-Timeout",
        "traceparent", "x-goo", "x-goog"}) {
      assertThat(ClientCredentials.isCredentialHeader(name)).as(name).isFalse();
    }
  }
}
