package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code --validate} flags an admin token shorter than 24 characters, without printing it. */
class WeakAdminTokenValidateTest {

  static final String KEY = "AIzaSyTEST-validate-weak-admin-0000001";

  @TempDir
  Path tmp;

  String[] validate(String adminToken, StringWriter out, StringWriter err) throws Exception {
    Path file = tmp.resolve("config.yaml");
    Files.writeString(file, "keys: [" + KEY + "]\nadmin:\n  token: " + adminToken + "\n");
    int code = Main.run(new String[] {"--config", file.toString(), "--validate"}, Map.of(),
        new PrintWriter(out, true), new PrintWriter(err, true), false);
    return new String[] {Integer.toString(code), out.toString(), err.toString()};
  }

  @Test
  void aShortAdminTokenIsFlaggedWithItsLengthButNotItsValue() throws Exception {
    String weak = "short-admin-tok-23chars"; // 23 characters
    assertThat(weak).hasSize(23);
    String[] r = validate(weak, new StringWriter(), new StringWriter());
    assertThat(r[0]).as("valid, so exit 0").isEqualTo("0");
    assertThat(r[1]).contains("warning: admin.token is weak: 23 characters; use at least 24")
        .contains("configuration OK");
    assertThat(r[1] + r[2]).doesNotContain(weak).doesNotContain(KEY);
  }

  @Test
  void anAdminTokenOf24CharactersOrMoreIsNotFlagged() throws Exception {
    String strong = "long-enough-admin-token!"; // 24 characters
    assertThat(strong).hasSize(24);
    String[] r = validate(strong, new StringWriter(), new StringWriter());
    assertThat(r[0]).isEqualTo("0");
    assertThat(r[1]).doesNotContain("warning").contains("configuration OK");
  }

  @Test
  void tooShortToBeValidIsStillAnError() throws Exception {
    String[] r = validate("1234567", new StringWriter(), new StringWriter());
    assertThat(r[0]).isEqualTo(Integer.toString(Main.EXIT_INVALID_CONFIG));
    assertThat(r[2]).contains("admin.token must be at least 8 characters long");
  }
}
