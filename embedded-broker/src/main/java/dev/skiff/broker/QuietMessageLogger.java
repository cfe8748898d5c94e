package dev.skiff.broker;

import java.util.Set;

import org.apache.qpid.server.logging.LogMessage;
import org.apache.qpid.server.logging.LogSubject;
import org.apache.qpid.server.logging.MessageLogger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Qpid's operational log ({@code qpid.message.*}: startup banner, ports, every connection open and
 * close, ...) goes to SLF4J like Qpid's own {@code LoggingMessageLogger}, under the same logger
 * names, but at DEBUG instead of INFO, so an embedded broker is silent at the usual INFO level.
 * Messages that say the broker is broken stay at WARN.
 */
final class QuietMessageLogger implements MessageLogger {

    private static final Set<String> WARN_HIERARCHIES = Set.of(
            "qpid.message.broker.fatal_error",
            "qpid.message.broker.failed_children");

    @Override
    public boolean isEnabled() {
        return true;
    }

    @Override
    public boolean isMessageEnabled(String logHierarchy) {
        Logger logger = LoggerFactory.getLogger(logHierarchy);
        return WARN_HIERARCHIES.contains(logHierarchy) ? logger.isWarnEnabled() : logger.isDebugEnabled();
    }

    @Override
    public void message(LogMessage message) {
        String hierarchy = message.getLogHierarchy();
        if (isMessageEnabled(hierarchy)) {
            log(hierarchy, LogMessage.getActor() + message);
        }
    }

    @Override
    public void message(LogSubject subject, LogMessage message) {
        String hierarchy = message.getLogHierarchy();
        if (isMessageEnabled(hierarchy)) {
            log(hierarchy, LogMessage.getActor() + subject.toLogString() + message);
        }
    }

    private static void log(String logHierarchy, String text) {
        Logger logger = LoggerFactory.getLogger(logHierarchy);
        if (WARN_HIERARCHIES.contains(logHierarchy)) {
            logger.warn(text);
        } else {
            logger.debug(text);
        }
    }
}
