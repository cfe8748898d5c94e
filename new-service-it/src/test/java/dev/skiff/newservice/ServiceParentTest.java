package dev.skiff.newservice;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import javax.xml.parsers.DocumentBuilderFactory;
import org.junit.jupiter.api.Test;
import org.w3c.dom.Document;
import org.w3c.dom.Element;
import org.w3c.dom.Node;
import org.w3c.dom.NodeList;

/**
 * skiff-service-parent has no parent (nothing of Skiff's internal build reaches a service), so it
 * states its versions itself: each must be the one the root pom builds and tests Skiff with, so that a
 * service runs on what Skiff was tested on, one version of each.
 */
class ServiceParentTest {
  static final Path ROOT = Path.of(System.getProperty("skiff.root", "..")).toAbsolutePath().normalize();

  static Document pom(Path file) throws Exception {
    DocumentBuilderFactory f = DocumentBuilderFactory.newInstance();
    f.setFeature("http://apache.org/xml/features/disallow-doctype-decl", true);
    return f.newDocumentBuilder().parse(file.toFile());
  }

  static Element child(Element e, String name) {
    for (Node n = e.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element c && c.getTagName().equals(name)) {
        return c;
      }
    }
    return null;
  }

  static String text(Element e, String name) {
    Element c = child(e, name);
    return c == null ? null : c.getTextContent().strip();
  }

  static Map<String, String> properties(Document pom) {
    Map<String, String> m = new LinkedHashMap<>();
    Element props = child(pom.getDocumentElement(), "properties");
    for (Node n = props.getFirstChild(); n != null; n = n.getNextSibling()) {
      if (n instanceof Element e) {
        m.put(e.getTagName(), e.getTextContent().strip());
      }
    }
    return m;
  }

  /** Every plugin and build extension with a version, anywhere in the pom: artifactId to version, ${...} resolved. */
  static Map<String, String> plugins(Document pom) {
    Map<String, String> props = properties(pom);
    Map<String, String> m = new LinkedHashMap<>();
    for (String tag : new String[] {"plugin", "extension"}) {
      NodeList all = pom.getElementsByTagName(tag);
      for (int i = 0; i < all.getLength(); i++) {
        Element p = (Element) all.item(i);
        String version = text(p, "version");
        if (version != null) {
          if (version.startsWith("${")) {
            version = props.get(version.substring(2, version.length() - 1));
          }
          m.put(text(p, "artifactId"), version);
        }
      }
    }
    return m;
  }

  @Test
  void everyVersionIsTheRootPomsOne() throws Exception {
    Document root = pom(ROOT.resolve("pom.xml"));
    Document parent = pom(ROOT.resolve("service-parent/pom.xml"));

    Map<String, String> rootPlugins = plugins(root);
    Map<String, String> parentPlugins = plugins(parent);
    assertThat(parentPlugins).containsKeys("maven-compiler-plugin", "maven-surefire-plugin", "maven-shade-plugin",
        "protobuf-maven-plugin", "os-maven-plugin");
    parentPlugins.forEach((plugin, version) ->
        assertThat(version).as(plugin + " in service-parent/pom.xml beside the root pom").isEqualTo(rootPlugins.get(plugin)));

    Map<String, String> rootProps = properties(root);
    properties(parent).forEach((key, value) -> {
      if (key.endsWith(".version") && !key.equals("skiff.version")) {
        assertThat(value).as(key + " in service-parent/pom.xml beside the root pom").isEqualTo(rootProps.get(key));
      }
    });
    String version = text(root.getDocumentElement(), "version");
    assertThat(properties(parent)).containsEntry("skiff.version", version);
    assertThat(text(parent.getDocumentElement(), "version")).isEqualTo(version);
    assertThat(child(parent.getDocumentElement(), "parent")).as("a parent of its own").isNull();
  }
}
