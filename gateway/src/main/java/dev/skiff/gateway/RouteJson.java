package dev.skiff.gateway;

import com.google.protobuf.util.JsonFormat;

/**
 * How a route's messages are read from and written as JSON: protobuf's canonical mapping, answers with
 * the fields that have no presence written even at their defaults and no insignificant white space, and a
 * {@code google.protobuf.Any} resolved among the message types of the proto files the service announced.
 * Made once per announcement (every route of a service shares it), not per request. Immutable.
 *
 * @param parser reads request bodies
 * @param printer writes answers
 */
record RouteJson(JsonFormat.Parser parser, JsonFormat.Printer printer) {
  /** For messages that hold no {@code Any} (the gateway's own admin and sign-in routes). */
  static final RouteJson PLAIN = of(JsonFormat.TypeRegistry.getEmptyTypeRegistry());

  /**
   * @param types the message types an {@code Any} may hold
   * @return the parser and printer for them
   */
  static RouteJson of(JsonFormat.TypeRegistry types) {
    return new RouteJson(JsonFormat.parser().usingTypeRegistry(types),
        JsonFormat.printer().alwaysPrintFieldsWithNoPresence().omittingInsignificantWhitespace().usingTypeRegistry(types));
  }
}
