package dev.geminirotator.consumertests;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.File;
import java.util.ArrayList;
import java.util.List;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * The BOM as a user imports it: our published modules at this version, and nothing else. A BOM
 * with a parent would carry the parent's dependencyManagement (Jackson, OkHttp, Netty, ...) into
 * every importing build, so it must have none.
 */
class BomTest {

  private static final List<String> PUBLISHED = List.of("gemini-rotator-api",
      "gemini-rotator-core", "gemini-rotator-config", "gemini-rotator-okhttp",
      "gemini-rotator-redis", "gemini-rotator-genai");

  private static Element bom;

  @BeforeAll
  static void readBom() throws Exception {
    DocumentBuilderFactory factory = DocumentBuilderFactory.newInstance();
    factory.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    Document document = factory.newDocumentBuilder()
        .parse(new File(System.getProperty("bom.pom")));
    bom = document.getDocumentElement();
  }

  @Test
  void bomHasNoParentSoItCarriesNoThirdPartyVersions() {
    assertThat(children(bom, "parent")).isEmpty();
    assertThat(children(bom, "properties")).isEmpty();
  }

  @Test
  void bomManagesExactlyThePublishedModulesAtTheirVersion() {
    List<String> managed = new ArrayList<>();
    Element management = only(bom, "dependencyManagement");
    for (Element dependency : children(only(management, "dependencies"), "dependency")) {
      assertThat(text(dependency, "groupId")).isEqualTo("dev.geminirotator");
      assertThat(text(dependency, "version")).isEqualTo("${project.version}");
      assertThat(children(dependency, "scope")).as("scope of " + text(dependency, "artifactId"))
          .isEmpty();
      managed.add(text(dependency, "artifactId"));
    }
    assertThat(managed).containsExactlyInAnyOrderElementsOf(PUBLISHED);
  }

  @Test
  void bomVersionMovesWithTheModules() {
    // no parent, so a version bump must change the BOM's own <version> too
    assertThat(text(bom, "groupId")).isEqualTo("dev.geminirotator");
    assertThat(text(bom, "artifactId")).isEqualTo("gemini-rotator-bom");
    assertThat(text(bom, "version")).isEqualTo(System.getProperty("project.version"));
    assertThat(text(bom, "packaging")).isEqualTo("pom");
  }

  @Test
  void bomCarriesTheMetadataCentralRequiresOfItsOwn() {
    assertThat(text(bom, "name")).isEqualTo("gemini-rotator-bom");
    assertThat(text(bom, "description")).isNotBlank();
    assertThat(text(bom, "url")).isEqualTo("https://github.com/gemini-rotator/gemini-rotator");
    Element license = only(only(bom, "licenses"), "license");
    assertThat(text(license, "name")).isEqualTo("Apache-2.0");
    assertThat(text(license, "url")).isEqualTo("https://www.apache.org/licenses/LICENSE-2.0.txt");
    Element scm = only(bom, "scm");
    assertThat(text(scm, "connection"))
        .isEqualTo("scm:git:https://github.com/gemini-rotator/gemini-rotator.git");
    assertThat(text(scm, "developerConnection"))
        .isEqualTo("scm:git:ssh://git@github.com/gemini-rotator/gemini-rotator.git");
    assertThat(text(scm, "url")).isEqualTo("https://github.com/gemini-rotator/gemini-rotator");
    Element developer = only(only(bom, "developers"), "developer");
    assertThat(text(developer, "id")).isEqualTo("gemini-rotator");
    assertThat(text(developer, "name")).isEqualTo("The gemini-rotator maintainers");
  }

  private static List<Element> children(Element parent, String name) {
    List<Element> found = new ArrayList<>();
    NodeList nodes = parent.getChildNodes();
    for (int i = 0; i < nodes.getLength(); i++) {
      Node node = nodes.item(i);
      if (node instanceof Element element && element.getTagName().equals(name)) {
        found.add(element);
      }
    }
    return found;
  }

  private static Element only(Element parent, String name) {
    List<Element> found = children(parent, name);
    assertThat(found).as("<%s> in <%s>", name, parent.getTagName()).hasSize(1);
    return found.get(0);
  }

  private static String text(Element parent, String name) {
    return only(parent, name).getTextContent().trim();
  }
}
