package dev.skiff.platform.transport.amqp;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.EOFException;
import java.io.IOException;
import java.net.SocketException;
import org.junit.jupiter.api.Test;

class DriverErrorsTest {
  @Test
  void aBrokerOrNetworkGoingAwayIsAnOrdinaryLossAndAnythingElseIsNot() {
    assertThat(DriverErrors.ordinaryLoss(new SocketException("Broken pipe"))).isTrue();
    assertThat(DriverErrors.ordinaryLoss(new SocketException("Connection reset"))).isTrue();
    assertThat(DriverErrors.ordinaryLoss(new EOFException())).isTrue();
    assertThat(DriverErrors.ordinaryLoss(new IOException("write failed", new SocketException("Broken pipe")))).isTrue();
    assertThat(DriverErrors.ordinaryLoss(new IllegalStateException("a bug"))).isFalse();
    assertThat(DriverErrors.ordinaryLoss(new IOException("frame too large"))).isFalse();
  }
}
