package dev.skiff.gateway;

import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import java.time.Duration;
import java.util.Objects;

/**
 * One HTTP route: a method and path template served by a service's endpoint, with how the request
 * message is filled (docs/gateway.md). Immutable.
 *
 * @param method the HTTP method, upper case ({@code GET}, {@code POST}, ...)
 * @param template the path template
 * @param body where the request body goes: null for no body, {@code "*"} for the whole request message,
 *     or the name of a top-level field of the request (a message, a repeated field, a map or one value)
 * @param service the service
 * @param endpoint the endpoint
 * @param request the request type
 * @param response the response type
 * @param timeout the endpoint's declared default deadline
 * @param responseBody the top-level field of the response written as the HTTP body ({@code response_body}),
 *     or null for the whole response
 * @param json how its request body is read and its answer written (with the message types a
 *     {@code google.protobuf.Any} may hold: those of the proto files the service announced)
 * @param binding which of the endpoint's rules it comes from: 0 for the rule itself, 1 and on for its
 *     {@code additional_bindings} in order (for the OpenAPI document's operation ids)
 */
record Route(String method, PathTemplate template, String body, String service, String endpoint,
    Descriptor request, Descriptor response, Duration timeout, FieldDescriptor responseBody, RouteJson json, int binding) {
  /**
   * Checks that the body field, when one is named, is a field of the request, and that the response body
   * field is a field of the response.
   */
  Route {
    Objects.requireNonNull(method, "method");
    Objects.requireNonNull(template, "template");
    Objects.requireNonNull(json, "json");
    if (body != null && !body.equals("*")) {
      if (request.findFieldByName(body) == null) {
        throw new IllegalArgumentException("body must be \"*\" or a field of " + request.getFullName());
      }
    }
    for (String p : template.fieldPaths()) {
      RequestMapper.leaf(request, p);
    }
    if (responseBody != null && responseBody.getContainingType() != response) {
      throw new IllegalArgumentException(responseBody.getFullName() + " is not a field of " + response.getFullName());
    }
  }

  /** A route of an endpoint's one rule, whose answer is written whole, whose messages hold no {@code Any}. */
  Route(String method, PathTemplate template, String body, String service, String endpoint, Descriptor request,
      Descriptor response, Duration timeout) {
    this(method, template, body, service, endpoint, request, response, timeout, null, RouteJson.PLAIN, 0);
  }

  /** @return {@code METHOD /template} */
  String key() {
    return method + " " + template;
  }
}
