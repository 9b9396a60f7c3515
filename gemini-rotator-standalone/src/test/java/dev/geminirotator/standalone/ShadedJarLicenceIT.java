package dev.geminirotator.standalone;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.jar.JarFile;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The runnable jar is the release download and bundles Netty, Jackson, Jedis, slf4j and others:
 * it carries our licence and notice, every bundled NOTICE (Apache License section 4(d)) and the
 * licence files of bundled jars under other terms. Runs after {@code package} (failsafe), on the
 * shaded jar itself.
 */
class ShadedJarLicenceIT {

  private static JarFile jar;
  private static Path root;

  @BeforeAll
  static void openTheShadedJar() throws IOException {
    jar = new JarFile(System.getProperty("shadedJar"));
    root = Path.of(System.getProperty("repositoryRoot"));
  }

  @Test
  void licenceIsTheRepositorysApacheLicence() throws IOException {
    assertThat(entry("META-INF/LICENSE"))
        .isEqualTo(Files.readString(root.resolve("LICENSE")))
        .contains("Apache License", "Version 2.0, January 2004");
  }

  @Test
  void noticeStartsWithOursAndCarriesEveryBundledNotice() throws IOException {
    String notice = entry("META-INF/NOTICE");
    assertThat(notice.strip()).startsWith(Files.readString(root.resolve("NOTICE")).strip());
    assertThat(notice)
        .contains("Jackson JSON processor") // jackson-core and jackson-databind
        .contains("Apache Commons Pool") // Jedis's pool
        .contains("Micrometer");
    assertThat(notice.split("Copyright 2026 The gemini-rotator maintainers", -1))
        .as("our notice appears once, although every gemini-rotator module's jar carries it")
        .hasSize(2);
  }

  @Test
  void licencesOfBundledJarsUnderOtherTermsAreKept() throws IOException {
    assertThat(entry("META-INF/LICENSE.txt"))
        .contains("Copyright (c) 2004-2023 QOS.ch") // slf4j-api, MIT
        .contains("Permission is hereby granted")
        .contains("Gil Tene"); // HdrHistogram
  }

  @Test
  void theManifestStartsTheProxyAndEnablesNativeAccessForNetty() throws IOException {
    // without Enable-Native-Access, Java 22+ prints a restricted-method warning on every start
    assertThat(jar.getManifest().getMainAttributes().getValue("Enable-Native-Access"))
        .isEqualTo("ALL-UNNAMED");
    assertThat(jar.getManifest().getMainAttributes().getValue("Main-Class"))
        .isEqualTo(Main.class.getName());
  }

  private static String entry(String name) throws IOException {
    ZipEntry e = jar.getEntry(name);
    assertThat(e).as("%s in the shaded jar", name).isNotNull();
    try (InputStream in = jar.getInputStream(e)) {
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }
}
