package dev.geminirotator.okhttp;

import dev.geminirotator.api.ApiKey;
import java.io.IOException;
import java.lang.reflect.Constructor;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Keeps a pool key out of what the interceptor throws. Failures below it (OkHttp, an interceptor
 * or event listener the user added, a proxy) may put the request URL, and with
 * {@link GeminiKeyInterceptor.KeyPlacement#QUERY} the key, into a message. A throwable whose
 * chain mentions the secret is replaced by a copy whose messages name the key by id instead; the
 * copy keeps the original's class where that class has a {@code (String)} constructor, its stack
 * traces and its causes. Runs on failure paths only.
 */
final class Redaction {

  /** Causes and suppressed exceptions followed at most; chains may be cyclic. */
  private static final int MAX_DEPTH = 16;

  private Redaction() {
  }

  /** {@code failure}, or a copy without the key's secret when it mentions it. */
  static IOException redact(IOException failure, ApiKey key) {
    if (!mentions(failure, key.secret(), 0)) {
      return failure;
    }
    Throwable copy = copy(failure, key, new IdentityHashMap<>(), 0);
    return copy instanceof IOException io ? io
        : new RedactedIOException(replace(describe(failure), key), copy);
  }

  /** {@code failure}, or a copy without the key's secret when it mentions it. */
  static RuntimeException redact(RuntimeException failure, ApiKey key) {
    if (!mentions(failure, key.secret(), 0)) {
      return failure;
    }
    Throwable copy = copy(failure, key, new IdentityHashMap<>(), 0);
    return copy instanceof RuntimeException re ? re
        : new RedactedRuntimeException(replace(describe(failure), key), copy);
  }

  /** Whether the throwable, its causes or its suppressed exceptions mention {@code secret}. */
  static boolean mentions(Throwable t, String secret, int depth) {
    if (t == null || depth > MAX_DEPTH) {
      return false;
    }
    if (contains(safeMessage(t), secret) || contains(safeLocalizedMessage(t), secret)) {
      return true;
    }
    for (Throwable s : t.getSuppressed()) {
      if (mentions(s, secret, depth + 1)) return true;
    }
    Throwable cause = t.getCause();
    return cause != t && mentions(cause, secret, depth + 1);
  }

  private static Throwable copy(Throwable t, ApiKey key, Map<Throwable, Throwable> seen,
      int depth) {
    Throwable done = seen.get(t);
    if (done != null) {
      return done;
    }
    String message = replace(safeMessage(t), key);
    Throwable copy = sameType(t, message);
    if (copy == null) {
      String text = t.getClass().getName() + (message != null ? ": " + message : "");
      copy = t instanceof IOException ? new RedactedIOException(text)
          : new RedactedRuntimeException(text);
    }
    seen.put(t, copy);
    copy.setStackTrace(t.getStackTrace());
    Throwable cause = t.getCause();
    if (cause != null && cause != t && depth < MAX_DEPTH) {
      Throwable causeCopy = mentions(cause, key.secret(), 0) ? copy(cause, key, seen, depth + 1)
          : cause;
      try {
        copy.initCause(causeCopy);
      } catch (IllegalStateException | IllegalArgumentException e) {
        // The constructor set a cause of its own: keep what we have.
      }
    }
    if (depth < MAX_DEPTH) {
      for (Throwable s : t.getSuppressed()) {
        copy.addSuppressed(mentions(s, key.secret(), 0) ? copy(s, key, seen, depth + 1) : s);
      }
    }
    return copy;
  }

  /** A new instance of {@code t}'s own class with this message, or null if there is no way. */
  private static Throwable sameType(Throwable t, String message) {
    try {
      Constructor<? extends Throwable> c = t.getClass().getConstructor(String.class);
      Throwable copy = c.newInstance(message);
      // A subclass may build its message from more than its argument: make sure it did not
      // bring the secret back, and that it kept the message it was given.
      return message == null ? copy : message.equals(copy.getMessage()) ? copy : null;
    } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
      return null;
    }
  }

  private static String describe(Throwable t) {
    String message = safeMessage(t);
    return t.getClass().getName() + (message != null ? ": " + message : "");
  }

  private static String replace(String text, ApiKey key) {
    return text == null ? null : text.replace(key.secret(), "[key " + key.id() + "]");
  }

  private static boolean contains(String text, String secret) {
    return text != null && !secret.isEmpty() && text.contains(secret);
  }

  private static String safeMessage(Throwable t) {
    try {
      return t.getMessage();
    } catch (RuntimeException e) {
      return null;
    }
  }

  private static String safeLocalizedMessage(Throwable t) {
    try {
      return t.getLocalizedMessage();
    } catch (RuntimeException e) {
      return null;
    }
  }

  /** Stands in for an I/O failure that could not be copied as its own type. */
  static final class RedactedIOException extends IOException {
    private static final long serialVersionUID = 1L;

    RedactedIOException(String message) {
      super(message);
    }

    RedactedIOException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** Stands in for a runtime failure that could not be copied as its own type. */
  static final class RedactedRuntimeException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    RedactedRuntimeException(String message) {
      super(message);
    }

    RedactedRuntimeException(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
