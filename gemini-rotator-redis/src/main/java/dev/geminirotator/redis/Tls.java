package dev.geminirotator.redis;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManagerFactory;

/** TLS for {@code rediss://}: the socket factory from the options, and host name checks. */
final class Tls {

  private Tls() {
  }

  /** The factory the options ask for, or {@code null} for the JVM's default. */
  static SSLSocketFactory socketFactory(RedisStoreOptions options) {
    if (options.sslSocketFactory() != null) return options.sslSocketFactory();
    if (options.truststore() == null) return null;
    try (InputStream in = Files.newInputStream(options.truststore())) {
      KeyStore trust = KeyStore.getInstance(options.truststoreType());
      String password = options.truststorePassword();
      trust.load(in, password == null ? null : password.toCharArray());
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trust);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, tmf.getTrustManagers(), null);
      return context.getSocketFactory();
    } catch (IOException | GeneralSecurityException e) {
      // the message of a wrong password is "keystore password was incorrect": no secret in it
      throw new IllegalArgumentException("could not read the Redis truststore "
          + options.truststore() + " (" + options.truststoreType() + "): " + e.getMessage());
    }
  }

  /** Verify that the server's certificate names the host, as HTTPS clients do. */
  static SSLParameters parameters() {
    SSLParameters parameters = new SSLParameters();
    parameters.setEndpointIdentificationAlgorithm("HTTPS");
    return parameters;
  }

  /** Whether a failure came from the TLS handshake (untrusted certificate, not TLS, ...). */
  static boolean isTlsFailure(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof SSLException) return true;
    }
    return false;
  }

  /** Whether a failure happened inside the TLS layer, e.g. a handshake the server never answered. */
  static boolean failedInHandshake(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof SSLException) return true;
      for (StackTraceElement frame : c.getStackTrace()) {
        String name = frame.getClassName();
        if (name.startsWith("sun.security.ssl.") || name.startsWith("javax.net.ssl.")) return true;
      }
    }
    return false;
  }

  /**
   * Whether a plain connection met a TLS server: it answered a command with a TLS alert record
   * (content type 21, version 3.x), which Jedis reports as an unknown reply.
   */
  static boolean isTlsAnswerToPlainText(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      String m = c.getMessage();
      if (m != null && m.startsWith("Unknown reply: \u0015")) return true;
    }
    return false;
  }
}
