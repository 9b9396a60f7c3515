package dev.geminirotator.testsupport;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;

/** Real-shaped Gemini bodies, copied from the project's shared fixtures. */
public final class Fixtures {

  private Fixtures() {
  }

  /** An error body by file name without extension, e.g. {@code 429-per-minute}. */
  public static String geminiError(String name) {
    return read("fixtures/gemini-errors/" + name + ".json");
  }

  /** A success body by file name with extension, e.g. {@code generate-content.json}. */
  public static String geminiResponse(String fileName) {
    return read("fixtures/gemini-responses/" + fileName);
  }

  private static String read(String resource) {
    try (InputStream in = Fixtures.class.getClassLoader().getResourceAsStream(resource)) {
      if (in == null) {
        throw new IllegalArgumentException("no fixture " + resource);
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
