package dev.geminirotator.api;

/**
 * Base of the exceptions a rotator or guard throws to say "not now". These are expected under
 * load, so they carry no stack trace.
 */
public abstract class RotatorException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /**
   * Creates the exception without a cause or stack trace.
   *
   * @param message what happened and what to do about it
   */
  protected RotatorException(String message) {
    super(message, null, false, false);
  }
}
