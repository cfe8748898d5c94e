package dev.skiff.platform;

import dev.skiff.platform.server.ServerBuilder;
import dev.skiff.platform.server.SkiffService;
import dev.skiff.platform.testproto.EchoRequest;
import dev.skiff.platform.testproto.EchoResponse;

/**
 * A service run as a process ({@link WaitingServiceProcess}) by the tests of starting: {@link SkiffService#run()} as a service
 * author's main method calls it, with the broker and its wait from the environment.
 */
public final class WaitingService extends SkiffService {
  /** The service's name. */
  static final String NAME = "test.waiting";

  WaitingService() {
    super(NAME, "1.0.0", "Answers once its broker has come");
  }

  @Override
  protected void register(ServerBuilder service) {
    service.endpoint("echo", EchoRequest.class, EchoResponse.class, (req, ctx) -> EchoResponse.newBuilder().setText(req.getText()).build());
  }

  public static void main(String[] args) throws InterruptedException {
    new WaitingService().run();
  }
}
