package dev.skiff.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.util.Map;
import org.junit.jupiter.api.Test;

/** The google.api.http template grammar: variables, nested field paths, wildcards, verbs; and what is refused. */
class PathTemplateTest {
  @Test
  void variablesWildcardsAndVerbsMatch() {
    assertThat(PathTemplate.parse("/v1/things/{id}").match("/v1/things/a%20b")).hasValue(Map.of("id", "a b"));
    assertThat(PathTemplate.parse("/v1/{name=shelves/*}/books").match("/v1/shelves/s1/books")).hasValue(Map.of("name", "shelves/s1"));
    assertThat(PathTemplate.parse("/v1/files/{path=**}").match("/v1/files/a/b/c")).hasValue(Map.of("path", "a/b/c"));
    assertThat(PathTemplate.parse("/v1/cities/{address.city}/x").match("/v1/cities/Oslo/x")).hasValue(Map.of("address.city", "Oslo"));
    assertThat(PathTemplate.parse("/v1/things/{id}:publish").match("/v1/things/7:publish")).hasValue(Map.of("id", "7"));
    assertThat(PathTemplate.parse("/v1/things/{id}:publish").match("/v1/things/7")).isEmpty();
    assertThat(PathTemplate.parse("/v1/things/{id}").match("/v1/things/")).isEmpty();
    assertThat(PathTemplate.parse("/v1/things/{id}").match("/v1/things/a/b")).isEmpty();
    assertThat(PathTemplate.parse("/v1/things/{id}").match("/v2/things/a")).isEmpty();
  }

  @Test
  void eachSegmentOfTheRawPathIsDecodedOnceAfterSplitting() {
    assertThat(PathTemplate.parse("/v1/things/{id}").match("/v1/things/a%2Fb")).hasValue(Map.of("id", "a/b"));
    assertThat(PathTemplate.parse("/v1/things/{id}").match("/v1/things/100%25")).hasValue(Map.of("id", "100%"));
    assertThat(PathTemplate.parse("/v1/things/{id}").match("/v1/things/a%252F")).hasValue(Map.of("id", "a%2F"));
    assertThat(PathTemplate.parse("/v1/things/{id}").match("/v1/things/a+b")).hasValue(Map.of("id", "a+b"));
    assertThat(PathTemplate.parse("/v1/things/{id}/tags").match("/v1/things/a%2Fb/tags")).hasValue(Map.of("id", "a/b"));
    assertThat(PathTemplate.parse("/v1/files/{path=**}").match("/v1/files/a%2Fb/c")).hasValue(Map.of("path", "a/b/c"));
    assertThat(PathTemplate.parse("/v1/greeter/hello").match("/v1/greeter/hell%6F")).hasValue(Map.of());
    assertThat(PathTemplate.parse("/v1/things/{id}:publish").match("/v1/things/7%3Apublish")).as("an encoded : is no verb").isEmpty();
    assertThat(PathTemplate.parse("/v1/a/b").match("/v1/a%2Fb")).as("an encoded / is no separator").isEmpty();
    assertThatThrownBy(() -> PathTemplate.parse("/v1/things/{id}").match("/v1/things/a%FF"))
        .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("UTF-8");
    assertThatThrownBy(() -> PathTemplate.parse("/v1/things/{id}").match("/v1/things/a%zz")).isInstanceOf(IllegalArgumentException.class);
  }

  @Test
  void theMoreLiteralTemplateIsMoreSpecific() {
    assertThat(PathTemplate.parse("/v1/things/special").literals()).isGreaterThan(PathTemplate.parse("/v1/things/{id}").literals());
  }

  @Test
  void malformedTemplatesAreRefused() {
    for (String t : new String[] {"", "v1/x", "/v1/{id", "/v1/{id}/{id}", "/v1/**/x", "/v1/x{id}", "/v1/{1d}", "/v1/x/",
        "/v1/\u001b[31m", "/" + "a/".repeat(40) + "a", "/v1/{a.b.c.d.e.f.g.h.i}"}) {
      assertThatThrownBy(() -> PathTemplate.parse(t)).as(t).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void theOpenApiPathNamesEachVariable() {
    assertThat(PathTemplate.parse("/v1/{name=shelves/*}/books/{book}").openApiPath()).isEqualTo("/v1/{name}/books/{book}");
  }
}
