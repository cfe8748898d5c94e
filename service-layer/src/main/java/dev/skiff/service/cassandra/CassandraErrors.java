package dev.skiff.service.cassandra;

import com.datastax.oss.driver.api.core.AllNodesFailedException;
import com.datastax.oss.driver.api.core.DriverException;
import com.datastax.oss.driver.api.core.DriverTimeoutException;
import com.datastax.oss.driver.api.core.InvalidKeyspaceException;
import com.datastax.oss.driver.api.core.servererrors.QueryValidationException;
import com.datastax.oss.driver.api.core.servererrors.ReadTimeoutException;
import com.datastax.oss.driver.api.core.servererrors.UnavailableException;
import com.datastax.oss.driver.api.core.servererrors.WriteTimeoutException;
import com.datastax.oss.driver.api.core.type.codec.CodecNotFoundException;
import dev.skiff.platform.ErrorCode;
import dev.skiff.platform.SkiffException;

/** Maps the driver's exceptions to the platform's one error model. */
final class CassandraErrors {
  private CassandraErrors() {}

  static SkiffException map(String what, RuntimeException e) {
    if (e instanceof SkiffException s) {
      return s;
    }
    ErrorCode code;
    if (e instanceof InvalidKeyspaceException) {
      code = ErrorCode.NOT_FOUND;
    } else if (e instanceof AllNodesFailedException || e instanceof UnavailableException) {
      code = ErrorCode.UNAVAILABLE;
    } else if (e instanceof DriverTimeoutException || e instanceof ReadTimeoutException || e instanceof WriteTimeoutException) {
      code = ErrorCode.TIMEOUT;
    } else if (e instanceof QueryValidationException || e instanceof CodecNotFoundException || e instanceof IllegalArgumentException) {
      code = ErrorCode.INTERNAL;
    } else if (e instanceof DriverException) {
      code = ErrorCode.UNAVAILABLE;
    } else {
      code = ErrorCode.INTERNAL;
    }
    String message = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    if (e instanceof AllNodesFailedException all && !all.getAllErrors().isEmpty()) {
      // the driver's own text ends in "(showing first N nodes, use getAllErrors() for more): Node(endPoint=..."
      message = eachNode(all);
    }
    if (message.length() > 500) {
      message = message.substring(0, 500) + "...";
    }
    if (e instanceof com.datastax.oss.driver.api.core.NoNodeAvailableException) {
      // the driver uses only the nodes of the datacenter it takes as local: a wrong name leaves it none
      message += " (none is up, or none is in the datacenter named by cassandra.datacenter: it must be the nodes'"
          + " datacenter, as 'nodetool status' shows it)";
    }
    return new SkiffException(code, what + ": " + message, e);
  }

  /**
   * @param e a failure to reach Cassandra
   * @return why, briefly: each node tried and the innermost cause of its last error (the driver's own
   *     message is long), or the failure's description
   */
  static String briefly(SkiffException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof AllNodesFailedException all && !all.getAllErrors().isEmpty()) {
        return eachNode(all);
      }
    }
    return e.description();
  }

  /** @return "no node answered (ADDRESS: why, ...)": each node tried and the innermost cause of its last error */
  private static String eachNode(AllNodesFailedException all) {
    StringBuilder b = new StringBuilder("no node answered");
    all.getAllErrors().forEach((node, errors) -> {
      b.append(b.length() == "no node answered".length() ? " (" : ", ").append(node.getEndPoint()).append(": ")
          .append(innermostMessage(errors.get(errors.size() - 1)));
    });
    return b.append(')').toString();
  }

  /** The message of the innermost cause that has one; what netty suppressed (e.g. "Connection refused") first. */
  private static String innermostMessage(Throwable t) {
    String message = t.toString();
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c.getSuppressed().length > 0) {
        return innermostMessage(c.getSuppressed()[0]);
      }
      if (c.getMessage() != null) {
        message = c.getMessage();
      }
    }
    return message;
  }
}
