package dev.skiff.platform.server;

import com.google.protobuf.Message;

/**
 * The code behind one endpoint: takes the decoded request and returns the response.
 *
 * <p>Throw a {@link dev.skiff.platform.SkiffException} to answer with an error code; any other exception
 * answers INTERNAL (its stack trace is logged by the service, never sent). Handlers run on the server's
 * bounded handler pool and may block, for example on nested calls through {@link RequestContext#client()}.
 *
 * @param <Q> the request type
 * @param <R> the response type
 */
@FunctionalInterface
public interface Handler<Q extends Message, R extends Message> {
  /**
   * Handles one request.
   *
   * @param request the decoded request
   * @param context who called, the deadline, the trace, and a client for nested calls
   * @return the response
   */
  R handle(Q request, RequestContext context);
}
