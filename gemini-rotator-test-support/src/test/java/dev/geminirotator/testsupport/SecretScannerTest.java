package dev.geminirotator.testsupport;

import static org.assertj.core.api.Assertions.assertThat;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class SecretScannerTest {

  static final String KEY = "AIzaSyTEST-scan+me/please-0000000001";
  static final String TOKEN = "client-access-token-alpha";
  final SecretScanner scanner = SecretScanner.of(KEY, TOKEN);

  @Test
  void aWholeSecretIsFoundAndNeverPrinted() {
    assertThat(scanner.findings("GET /x?key=" + KEY + " 200"))
        .singleElement().asString().startsWith("secret #0 (whole) in: GET /x?key=<secret #0>")
        .doesNotContain(KEY);
  }

  @Test
  void anyEightCharactersOfASecretAreFound() {
    assertThat(scanner.findings("token tail: " + TOKEN.substring(10, 18) + "!"))
        .singleElement().asString().startsWith("secret #1 (part)")
        .doesNotContain(TOKEN.substring(10, 18));
    assertThat(scanner.findings("cut short: " + KEY.substring(0, 20))).hasSize(1);
    assertThat(scanner.clean(TOKEN.substring(10, 17))).as("seven characters").isTrue();
  }

  @Test
  void urlEncodedSecretsAndPartsAreFoundOnceOrTwiceEncoded() {
    String encoded = URLEncoder.encode(KEY, StandardCharsets.UTF_8);
    assertThat(encoded).isNotEqualTo(KEY).doesNotContain("+me/");
    assertThat(scanner.findings("location: /upload?key=" + encoded))
        .singleElement().asString().startsWith("secret #0 ").doesNotContain("+me/");
    StringBuilder everyByte = new StringBuilder();
    for (char c : TOKEN.substring(3, 14).toCharArray()) {
      everyByte.append(String.format("%%%02x", (int) c));
    }
    assertThat(scanner.findings(everyByte)).singleElement().asString()
        .startsWith("secret #1 (URL-encoded) in: ");
    assertThat(scanner.findings(encoded.replace("%", "%25"))).hasSize(1);
  }

  @Test
  void maskedFormsPlainRunsAndOtherTextAreClean() {
    assertThat(scanner.clean("key AIza…0001 rate-limited; next at 2026-11-26T12:00:00.000000001Z"
        + " id=00000000 masked=clie…lpha %zz % %4")).isTrue();
  }

  @Test
  void redactMasksEveryPartItFinds() {
    String line = "a=" + KEY + " b=" + TOKEN.substring(2, 12) + " c=ok";
    String redacted = scanner.redact(line);
    assertThat(redacted).startsWith("a=<secret #0> b=").endsWith(" c=ok")
        .doesNotContain(TOKEN.substring(2, 10)).doesNotContain(TOKEN.substring(4, 12));
    assertThat(scanner.clean(redacted)).isTrue();
  }
}
