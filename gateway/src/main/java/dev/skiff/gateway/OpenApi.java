package dev.skiff.gateway;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import dev.skiff.platform.internal.JsonStrings;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The OpenAPI 3 document of the routes served now ({@code GET /openapi.json}), generated from the
 * announced protos (and the gateway's own sign-in routes), with the bearer token as an optional security
 * scheme: each route's path parameters, its query parameters (a route without a body: the
 * request's other plain top-level fields), its JSON body and its answer, with a schema per message
 * type (protobuf's JSON mapping: 64-bit integers as strings, enums as names, well-known types in their own JSON
 * forms, a {@code response_body} field's schema for the answer). Every name in it came from an
 * announcement, so every one is written as an escaped JSON string. Stateless.
 */
final class OpenApi {
  /** Where the gateway serves the document. */
  static final String PATH = "/openapi.json";
  /** The most nesting of message schemas written out; deeper ones are plain objects. */
  private static final int MAX_DEPTH = 16;
  /**
   * The methods an OpenAPI path item has an operation for; a route of any other method (a {@code custom}
   * rule's) is served but not listed.
   */
  private static final Set<String> OPERATIONS = Set.of("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD");

  private OpenApi() {}

  /**
   * @param routes the routes
   * @return the document, JSON
   */
  static String document(List<Route> routes) {
    Map<String, Map<String, Route>> paths = new TreeMap<>();
    Map<String, Descriptor> schemas = new TreeMap<>();
    for (Route r : routes) {
      if (!OPERATIONS.contains(r.method())) {
        continue;
      }
      paths.computeIfAbsent(r.template().openApiPath(), p -> new TreeMap<>()).put(r.method().toLowerCase(java.util.Locale.ROOT), r);
      collect(r.request(), schemas, 0);
      collect(r.response(), schemas, 0);
    }
    // a bearer token (POST /auth/v1/login answers one) is optional on every route: each endpoint says who it serves
    StringBuilder b = new StringBuilder("{\"openapi\":\"3.0.3\",\"info\":{\"title\":\"Skiff API gateway\",\"version\":\"1\"},"
        + "\"security\":[{},{\"bearer\":[]}],\"paths\":{");
    String sep = "";
    Set<String> operationIds = new HashSet<>();
    for (Map.Entry<String, Map<String, Route>> p : paths.entrySet()) {
      b.append(sep);
      sep = ",";
      JsonStrings.quote(b, p.getKey()).append(":{");
      String msep = "";
      for (Map.Entry<String, Route> m : p.getValue().entrySet()) {
        Route r = m.getValue();
        b.append(msep).append('"').append(m.getKey()).append("\":{\"operationId\":");
        msep = ",";
        JsonStrings.quote(b, operationId(r, operationIds)).append(",\"summary\":");
        // grouped by service in the explorer and in OpenAPI tools
        JsonStrings.quote(b, r.endpoint() + " of " + r.service()).append(",\"tags\":[");
        JsonStrings.quote(b, r.service()).append("],\"parameters\":[");
        List<String> params = new ArrayList<>();
        for (String f : r.template().fieldPaths()) {
          params.add("{\"name\":" + JsonStrings.quote(f) + ",\"in\":\"path\",\"required\":true,\"schema\":{\"type\":\"string\"}}");
        }
        if (!"*".equals(r.body())) {
          // unless the body is the whole message, the other plain fields come from the query (nested ones as a.b, not listed)
          for (FieldDescriptor f : r.request().getFields()) {
            boolean value = f.getJavaType() != FieldDescriptor.JavaType.MESSAGE
                || (!f.isMapField() && WellKnownTypes.isSingleValue(f.getMessageType()));
            if (value && !r.template().fieldPaths().contains(f.getName()) && !f.getName().equals(r.body())) {
              StringBuilder schema = new StringBuilder();
              field(schema, f);
              params.add("{\"name\":" + JsonStrings.quote(f.getJsonName()) + ",\"in\":\"query\",\"required\":false,\"schema\":" + schema + "}");
            }
          }
        }
        b.append(String.join(",", params)).append(']');
        if (r.body() != null) {
          b.append(",\"requestBody\":{\"required\":false,\"content\":{\"application/json\":{\"schema\":");
          if (r.body().equals("*")) {
            schema(b, r.request());
          } else {
            field(b, r.request().findFieldByName(r.body()));
          }
          b.append("}}}");
        }
        b.append(",\"responses\":{\"200\":{\"description\":\"OK\",\"content\":{\"application/json\":{\"schema\":");
        if (r.responseBody() != null) {
          field(b, r.responseBody());
        } else {
          schema(b, r.response());
        }
        b.append("}}},\"default\":{\"description\":\"an error: code, message, request_id\"}}}");
      }
      b.append('}');
    }
    b.append("},\"components\":{\"securitySchemes\":{\"bearer\":{\"type\":\"http\",\"scheme\":\"bearer\",\"bearerFormat\":\"JWT\"}},"
        + "\"schemas\":{");
    sep = "";
    for (Descriptor d : schemas.values()) {
      b.append(sep);
      sep = ",";
      JsonStrings.quote(b, d.getFullName()).append(":{\"type\":\"object\",\"properties\":{");
      String fsep = "";
      for (FieldDescriptor f : d.getFields()) {
        b.append(fsep);
        fsep = ",";
        JsonStrings.quote(b, f.getJsonName()).append(':');
        field(b, f);
      }
      b.append("}}");
    }
    return b.append("}}}").toString();
  }

  /**
   * An operation's id, unique in the document as OpenAPI 3 requires, and the same in every document of
   * the same routes: {@code service/endpoint} for an endpoint's rule itself, {@code service/endpoint_get_1}
   * (its method and index) for its additional bindings; a further {@code _2}, {@code _3}... in the unlikely
   * case that one is taken already (an endpoint named so).
   *
   * @param r the route
   * @param taken the ids given so far, to which this one is added
   * @return its id
   */
  private static String operationId(Route r, Set<String> taken) {
    String id = r.service() + "/" + r.endpoint()
        + (r.binding() == 0 ? "" : "_" + r.method().toLowerCase(java.util.Locale.ROOT) + "_" + r.binding());
    String unique = id;
    for (int n = 2; !taken.add(unique); n++) {
      unique = id + "_" + n;
    }
    return unique;
  }

  private static void collect(Descriptor d, Map<String, Descriptor> into, int depth) {
    if (depth > MAX_DEPTH || into.containsKey(d.getFullName()) || WellKnownTypes.schema(d) != null) {
      return;
    }
    into.put(d.getFullName(), d);
    for (FieldDescriptor f : d.getFields()) {
      if (f.getJavaType() == FieldDescriptor.JavaType.MESSAGE && !f.isMapField()) {
        collect(f.getMessageType(), into, depth + 1);
      }
    }
  }

  /** A message type's schema: a reference to its component, or a well-known type's JSON form. */
  private static StringBuilder schema(StringBuilder b, Descriptor d) {
    String known = WellKnownTypes.schema(d);
    if (known != null) {
      return b.append(known);
    }
    return JsonStrings.quote(b.append("{\"$ref\":"), "#/components/schemas/" + d.getFullName()).append('}');
  }

  /** A field's schema: its type's, in an array when it is repeated (a map is an object). */
  private static StringBuilder field(StringBuilder b, FieldDescriptor f) {
    if (f.isRepeated() && !f.isMapField()) {
      return type(b.append("{\"type\":\"array\",\"items\":"), f).append('}');
    }
    return type(b, f);
  }

  private static StringBuilder type(StringBuilder b, FieldDescriptor f) {
    if (f.isMapField()) {
      return b.append("{\"type\":\"object\"}");
    }
    return switch (f.getJavaType()) {
      case INT -> b.append("{\"type\":\"integer\",\"format\":\"int32\"}");
      case LONG -> b.append("{\"type\":\"string\",\"format\":\"int64\"}");
      case FLOAT, DOUBLE -> b.append("{\"type\":\"number\"}");
      case BOOLEAN -> b.append("{\"type\":\"boolean\"}");
      case STRING -> b.append("{\"type\":\"string\"}");
      case BYTE_STRING -> b.append("{\"type\":\"string\",\"format\":\"byte\"}");
      case ENUM -> {
        b.append("{\"type\":\"string\",\"enum\":[");
        String sep = "";
        for (var v : f.getEnumType().getValues()) {
          b.append(sep);
          sep = ",";
          JsonStrings.quote(b, v.getName());
        }
        yield b.append("]}");
      }
      case MESSAGE -> schema(b, f.getMessageType());
    };
  }
}
