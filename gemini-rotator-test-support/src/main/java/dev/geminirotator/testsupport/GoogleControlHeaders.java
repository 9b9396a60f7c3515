package dev.geminirotator.testsupport;

import java.util.List;

/**
 * Headers in Google's namespace (and method overrides) that a client or app may add to a Gemini
 * request and that must never travel next to a pool key: a second credential or identity, a
 * routing hint, or a method override. One list, for the proxy's and the interceptor's tests.
 */
public final class GoogleControlHeaders {

  private GoogleControlHeaders() {
  }

  /** Each as {name, value}; {@code credential} is the OAuth-like token the credential ones carry. */
  public static List<String[]> carrying(String credential) {
    return List.of(
        new String[] {"X-Goog-IAM-Authorization-Token", credential},
        new String[] {"x-goog-iam-authority-selector", "user:someone@example.com"},
        new String[] {"X-Goog-AuthUser", "1"},
        new String[] {"X-Goog-Request-Params", "name=projects/evil-project/files/x"},
        new String[] {"X-HTTP-Method-Override", "DELETE"},
        new String[] {"X-Method-Override", "DELETE"},
        new String[] {"X-Goog-Some-Future-Credential", credential});
  }

  /**
   * Headers Gemini's SDKs send that must reach Google as sent: language, identification, the
   * resumable-upload protocol and the server timeout (inside Google's namespace, allowed).
   */
  public static List<String[]> geminiClientHeaders() {
    return List.of(
        new String[] {"Accept-Language", "de-CH"},
        new String[] {"User-Agent", "google-genai-sdk/1.0 gl-java/17"},
        new String[] {"X-Goog-Api-Client", "google-genai-sdk/1.0 gl-java/17"},
        new String[] {"X-Goog-Upload-Protocol", "resumable"},
        new String[] {"X-Goog-Upload-Command", "start"},
        new String[] {"X-Server-Timeout", "600"});
  }
}
