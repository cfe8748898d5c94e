package dev.skiff.platform.transport.amqp;

import com.rabbitmq.client.WriteListener;
import com.rabbitmq.client.impl.AMQConnection;
import com.rabbitmq.client.impl.Frame;
import com.rabbitmq.client.impl.FrameHandler;
import com.rabbitmq.client.impl.SocketFrameHandler;
import java.io.DataInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.SocketException;

/**
 * A frame handler that hands everything to another: the base of the transport's wrappers around
 * amqp-client's socket ({@link Cork} holds back flushes, {@link InboundLimit} throws oversized bodies
 * away), each overriding only what it changes.
 */
abstract class DelegatingFrameHandler implements FrameHandler {
  /** The handler wrapped. */
  protected final FrameHandler inner;

  DelegatingFrameHandler(FrameHandler inner) {
    this.inner = inner;
  }

  @Override
  public void flush(WriteListener listener) throws IOException {
    inner.flush(listener);
  }

  @Override
  public void writeFrame(Frame frame) throws IOException {
    inner.writeFrame(frame);
  }

  @Override
  public Frame readFrame() throws IOException {
    return inner.readFrame();
  }

  @Override
  public boolean internalHearbeat() {
    return inner.internalHearbeat();
  }

  @Override
  public void setTimeout(int timeoutMs) throws SocketException {
    inner.setTimeout(timeoutMs);
  }

  @Override
  public int getTimeout() throws SocketException {
    return inner.getTimeout();
  }

  @Override
  public void sendHeader() throws IOException {
    inner.sendHeader();
  }

  @Override
  public void initialize(AMQConnection connection) {
    inner.initialize(connection);
  }

  @Override
  public void startProcessing() {
    inner.startProcessing();
  }

  @Override
  public void finishConnectionNegotiation() {
    inner.finishConnectionNegotiation();
  }

  @Override
  public void setFrameMax(int frameMax) {
    inner.setFrameMax(frameMax);
  }

  @Override
  public void close() {
    inner.close();
  }

  /**
   * @return the socket's buffered input under every wrapper, or null for a frame handler that has none
   *     (amqp-client's NIO and Netty ones)
   */
  DataInputStream socketInput() {
    if (inner instanceof DelegatingFrameHandler d) {
      return d.socketInput();
    }
    return inner instanceof SocketFrameHandler s ? s.getInputStream() : null;
  }

  @Override
  public InetAddress getLocalAddress() {
    return inner.getLocalAddress();
  }

  @Override
  public int getLocalPort() {
    return inner.getLocalPort();
  }

  @Override
  public InetAddress getAddress() {
    return inner.getAddress();
  }

  @Override
  public int getPort() {
    return inner.getPort();
  }
}
